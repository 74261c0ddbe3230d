// What Envoy tells a filter about a call's outcome, for the circuit breaker and the
// canary guards alike: the :status of the response headers, the transport error from
// the stream's response flags, the response code Envoy sent itself.
import { Bytes, utf8 } from "../core/bytes";
import { ERROR_CONNECT, ERROR_NONE, ERROR_RESET, ERROR_TIMEOUT } from "../core/breaker/settings";

export const STATUS = utf8(":status");
export const RESPONSE_FLAGS = utf8("response\0flags");
export const RESPONSE_CODE = utf8("response\0code");

// Envoy's response flags (envoy/stream_info/stream_info.h; response.flags).
const UH: i64 = 0x2;    // no healthy upstream
const UT: i64 = 0x4;    // upstream request timeout
const UR: i64 = 0x10;   // upstream remote reset
const UF: i64 = 0x20;   // upstream connection failure
const UC: i64 = 0x40;   // upstream connection termination

// The transport error a stream's response flags report (a timeout that fired after
// the response started also resets it: timeout wins).
export function errorOfFlags(flags: i64): i32 {
  if (flags & (UF | UH)) return ERROR_CONNECT;
  if (flags & UT) return ERROR_TIMEOUT;
  if (flags & (UR | UC)) return ERROR_RESET;
  return ERROR_NONE;
}

// ":status" digits -> number; -1 when absent or not a number.
export function parseStatus(b: Bytes): i32 {
  if (b.len <= 0 || b.len > 3) return -1;
  let v = 0;
  for (let i = 0; i < b.len; i++) {
    const c = <i32>load<u8>(b.ptr + i) - 0x30;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}
