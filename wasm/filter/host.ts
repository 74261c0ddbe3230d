// Host calls the filter makes, on the SDK's raw imports. We bypass the SDK's
// wrappers where they allocate per call (UTF-8 encoding of constant names, ArrayBuffer
// wrapping) or are wrong (shared data, see BRIEF). Out-parameters land in a static
// scratch area, so a header read costs one host call and no module allocation beyond
// the buffer the host itself mallocs for the value.
import * as imports from "@solo-io/proxy-runtime/assembly/imports";
import { free } from "@solo-io/proxy-runtime/assembly/malloc";
import { Bytes } from "../core/bytes";

// proxy-wasm enums (spec v0.2.1)
export const REQUEST_HEADERS = 0;
export const RESPONSE_HEADERS = 2;
export const PLUGIN_CONFIGURATION = 7;
export const OK = 0;
export const LOG_INFO: usize = 2;
export const LOG_WARN: usize = 3;
export const LOG_ERROR: usize = 4;

// [0..4): returned pointer, [4..8): returned size
const RET: usize = memory.data(16);

// Buffers the host allocated for us during one callback; freed together.
const MAX_HELD = 32;
const held = new StaticArray<usize>(MAX_HELD);
let heldCount = 0;

function hold(p: usize): void {
  if (heldCount < MAX_HELD) { unchecked(held[heldCount] = p); heldCount++; }
  else free(p);   // never expected: a policy needs far fewer facts
}

export function releaseHeld(): void {
  for (let i = 0; i < heldCount; i++) free(unchecked(held[i]));
  heldCount = 0;
}

// Reads header `name` of map `map` into `out` (absent: len -1). The bytes stay valid
// until releaseHeld().
export function getHeader(map: i32, name: StaticArray<u8>, out: Bytes): void {
  store<u32>(RET, 0);
  store<u32>(RET + 4, 0);
  const r = imports.proxy_get_header_map_value(map, changetype<usize>(name), name.length, RET, RET + 4);
  if (r != OK) { out.clear(); return; }
  const p = <usize>load<u32>(RET);
  const n = <i32>load<u32>(RET + 4);
  if (p != 0) hold(p);
  out.set(p, n);
}

// `path` is the property path with segments separated by NUL bytes.
export function getProperty(path: StaticArray<u8>, out: Bytes): void {
  store<u32>(RET, 0);
  store<u32>(RET + 4, 0);
  const r = imports.proxy_get_property(changetype<usize>(path), path.length, RET, RET + 4);
  if (r != OK) { out.clear(); return; }
  const p = <usize>load<u32>(RET);
  if (p != 0) hold(p);
  out.set(p, <i32>load<u32>(RET + 4));
}

export function removeHeader(map: i32, name: StaticArray<u8>): void {
  imports.proxy_remove_header_map_value(map, changetype<usize>(name), name.length);
}

export function addHeader(map: i32, name: StaticArray<u8>, value: StaticArray<u8>): void {
  imports.proxy_add_header_map_value(map, changetype<usize>(name), name.length, changetype<usize>(value), value.length);
}

// The plugin configuration as a string (configure time only).
export function pluginConfiguration(size: u32): string {
  store<u32>(RET, 0);
  store<u32>(RET + 4, 0);
  if (size == 0) return "";
  const r = imports.proxy_get_buffer_bytes(PLUGIN_CONFIGURATION, 0, size, RET, RET + 4);
  if (r != OK) return "";
  const p = <usize>load<u32>(RET);
  const s = String.UTF8.decodeUnsafe(p, <usize>load<u32>(RET + 4));
  if (p != 0) free(p);
  return s;
}

export function log(level: usize, msg: string): void {
  const b = String.UTF8.encode(msg);
  imports.proxy_log(level, changetype<usize>(b), b.byteLength);
}
