// The VM's environment variables (Envoy: vm_config.environment_variables, key_values and
// host_env_keys; Istio: WasmPlugin vmConfig.env, valueFrom INLINE or HOST), read through
// WASI as proxy-wasm-cpp-host exports it (src/exports.cc wasi_unstable_environ_get /
// environ_sizes_get, from the VM's envs). Configure time only: two host calls and one
// buffer per lookup, never on a request.

// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "environ_sizes_get")
declare function environ_sizes_get(countPtr: usize, sizePtr: usize): u16;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "environ_get")
declare function environ_get(environPtr: usize, bufPtr: usize): u16;

const SIZES: usize = memory.data(8);

// The value of `name` (ASCII, as secret-refs.ts makes it), or null when the VM has no
// such variable.
export function envValue(name: string): string | null {
  store<u32>(SIZES, 0);
  store<u32>(SIZES + 4, 0);
  if (environ_sizes_get(SIZES, SIZES + 4) != 0) return null;
  const count = <i32>load<u32>(SIZES);
  const size = <usize>load<u32>(SIZES + 4);
  if (count == 0) return null;
  const ptrs = new StaticArray<u32>(count);
  const buf = new StaticArray<u8>(<i32>size);
  const base = changetype<usize>(buf);
  if (environ_get(changetype<usize>(ptrs), base) != 0) return null;
  const n = <usize>name.length;
  const end = base + size;
  for (let i = 0; i < count; i++) {
    const p = <usize>unchecked(ptrs[i]);
    // "NAME=value\0", inside the buffer the host filled
    if (p < base || p + n + 1 > end || load<u8>(p + n) != 0x3d) continue;
    let j: usize = 0;
    while (j < n && <i32>load<u8>(p + j) == name.charCodeAt(<i32>j)) j++;
    if (j < n) continue;
    let e = p + n + 1;
    while (e < end && load<u8>(e) != 0) e++;
    return String.UTF8.decodeUnsafe(p + n + 1, e - p - n - 1);
  }
  return null;
}
