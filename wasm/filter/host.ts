// Host calls the filter makes, on the SDK's raw imports. We bypass the SDK's
// wrappers where they allocate per call (UTF-8 encoding of constant names, ArrayBuffer
// wrapping) or are wrong (shared data, see BRIEF). Out-parameters land in a static
// scratch area, so a header read costs one host call and no module allocation beyond
// the buffer the host itself mallocs for the value.
import * as imports from "@solo-io/proxy-runtime/assembly/imports";
import { free } from "./host-memory";
import { Bytes } from "../core/text/bytes";

// proxy-wasm enums (spec v0.2.1)
export const REQUEST_HEADERS = 0;
export const RESPONSE_HEADERS = 2;
export const RESPONSE_TRAILERS = 3;
export const PLUGIN_CONFIGURATION = 7;
export const OK = 0;
export const NOT_FOUND = 1;
export const CAS_MISMATCH = 8;
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

// All headers of map `map` in proxy-wasm's pairs serialization, into `out` (one host
// call; the bytes stay valid until releaseHeld()).
export function getHeaderPairs(map: i32, out: Bytes): void {
  store<u32>(RET, 0);
  store<u32>(RET + 4, 0);
  const r = imports.proxy_get_header_map_pairs(map, RET, RET + 4);
  if (r != OK) { out.clear(); return; }
  const p = <usize>load<u32>(RET);
  if (p != 0) hold(p);
  out.set(p, <i32>load<u32>(RET + 4));
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

// proxy_replace_header_map_value: Envoy's setCopy, every copy removed then the value
// added (experiment-filter.ts says why that holds since Envoy 1.19).
export function replaceHeader(map: i32, name: StaticArray<u8>, value: StaticArray<u8>): void {
  imports.proxy_replace_header_map_value(map, changetype<usize>(name), name.length, changetype<usize>(value), value.length);
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

// The host clock in ms (Envoy: wall time), read only when a policy depends on time.
export function nowMs(): f64 {
  store<u64>(RET + 8, 0);
  imports.proxy_get_current_time_nanoseconds(RET + 8);
  return <f64>load<u64>(RET + 8) / 1e6;
}

// ---- shared data (raw imports: the SDK's wrappers are broken, see BRIEF) ----

// What proxy_get_shared_data returned: the value (a buffer the host malloc'd in our
// memory: the caller frees it with free()) and its cas.
@final
export class SharedValue {
  ptr: usize = 0;
  len: i32 = 0;
  cas: u32 = 0;
}

export function getSharedData(key: usize, keyLen: i32, out: SharedValue): u32 {
  store<u32>(RET, 0);
  store<u32>(RET + 4, 0);
  store<u32>(RET + 8, 0);
  const r = imports.proxy_get_shared_data(key, keyLen, RET, RET + 4, RET + 8);
  out.ptr = r == OK ? <usize>load<u32>(RET) : 0;
  out.len = r == OK ? <i32>load<u32>(RET + 4) : 0;
  out.cas = r == OK ? load<u32>(RET + 8) : 0;
  return r;
}

export function setSharedData(key: usize, keyLen: i32, value: usize, valueLen: i32, cas: u32): u32 {
  return imports.proxy_set_shared_data(key, keyLen, value, valueLen, cas);
}

// ---- clock, properties, metrics, local replies ----

// An integer property (Envoy serializes int64/uint64 as 8 little-endian bytes);
// `missing` when absent or not 8 bytes.
export function getPropertyI64(path: StaticArray<u8>, missing: i64): i64 {
  store<u32>(RET, 0);
  store<u32>(RET + 4, 0);
  const r = imports.proxy_get_property(changetype<usize>(path), path.length, RET, RET + 4);
  if (r != OK) return missing;
  const p = <usize>load<u32>(RET);
  const n = load<u32>(RET + 4);
  const v = n == 8 && p != 0 ? load<i64>(p) : missing;
  if (p != 0) free(p);
  return v;
}

export const METRIC_COUNTER = 0;
export const METRIC_GAUGE = 1;
export const METRIC_HISTOGRAM = 2;
export const NO_METRIC: u32 = 0xffffffff;

// Defines a metric (Envoy exports it as wasmcustom.<name>); NO_METRIC on failure.
export function defineMetric(type: i32, name: StaticArray<u8>): u32 {
  store<u32>(RET, 0);
  const r = imports.proxy_define_metric(type, changetype<usize>(name), name.length, RET);
  return r == OK ? load<u32>(RET) : NO_METRIC;
}

export function incrementMetric(id: u32, by: i64): void {
  if (id != NO_METRIC && by > 0) imports.proxy_increment_metric(id, by);
}

// proxy_record_metric: a gauge's value, a histogram's sample (a counter: adds).
export function recordMetric(id: u32, value: u64): void {
  if (id != NO_METRIC) imports.proxy_record_metric(id, value);
}

// proxy_send_local_response; `pairs` is a proxy-wasm pairs serialization of extra
// headers. grpcStatus -1: none (Envoy maps the HTTP status for a gRPC request).
export function sendLocalResponse(status: u32, details: StaticArray<u8>, body: usize, bodyLen: i32, pairs: usize, pairsLen: i32, grpcStatus: i32 = -1): void {
  imports.proxy_send_local_response(status, changetype<usize>(details), details.length, body, bodyLen, pairs, pairsLen, <u32>grpcStatus);
}

export function log(level: usize, msg: string): void {
  const b = String.UTF8.encode(msg);
  imports.proxy_log(level, changetype<usize>(b), b.byteLength);
}
