// Shim: @solo-io/proxy-runtime 0.1.8 imports the reference-counting runtime of
// AssemblyScript <= 0.17 ("rt/index-full"). Current AssemblyScript has a tracing GC;
// pinning is the equivalent of "retain": a pinned object is never collected.
export function __retain(ptr: usize): usize {
  return __pin(ptr);
}

export function __release(ptr: usize): void {
  __unpin(ptr);
}
