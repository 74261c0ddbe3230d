// The module's malloc / free: Envoy calls malloc to hand the filter every result a host
// call returns (proxy-wasm-cpp-host WasmBase::allocMemory / copyToPointerSize: a header
// value, a property, a pairs serialization, a shared-data value, the configuration), and
// the filter frees the block when done with it (./host.ts releaseHeld and the stores).
//
// Raw blocks of the heap AssemblyScript's runtime sits on (TLSF), not the SDK's managed
// ArrayBuffers: no object header, no pin / unpin moves between the collector's lists, and
// nothing for the next __collect (./dispatcher.ts, every 64 streams) to visit and sweep;
// free returns the block at once. Measured on the Envoy simulator (2026-12-07, a
// profile of the experiment root id): the SDK's malloc and what the collector did with
// its blocks were about 0.4 µs of wasm time per host-returned value. Nothing in the
// module treats these blocks as objects: they are read through pointers and lengths only.
export function malloc(size: i32): usize {
  return heap.alloc(<usize>size);
}

export function free(ptr: usize): void {
  heap.free(ptr);
}
