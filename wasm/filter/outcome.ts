// What Envoy tells a filter about a call's outcome, for the circuit breaker and the
// canary guards alike: the :status of the response headers, the transport error from
// the stream's response flags, the response code Envoy sent itself.
import { Bytes, utf8 } from "../core/text/bytes";
import { ERROR_CONNECT, ERROR_NONE, ERROR_RESET, ERROR_TIMEOUT } from "../core/breaker/settings";
import { GRPC_STATUS_BASE, GRPC_STATUS_HEADER, GRPC_STATUS_MAX } from "../core/contract";
import { getHeader, getProperty, getPropertyI64, releaseHeld, RESPONSE_HEADERS, RESPONSE_TRAILERS } from "./host";

const GRPC_STATUS = utf8(GRPC_STATUS_HEADER);

export const STATUS = utf8(":status");
export const RESPONSE_FLAGS = utf8("response\0flags");
export const RESPONSE_CODE = utf8("response\0code");
const UPSTREAM_ADDRESS = utf8("upstream\0address");

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

// A tracked call's outcome at on_log, from the :status the filter saw (-1: no response
// passed it). Envoy answers a refused / reset / timed-out upstream with its own 503/504
// (flags UF, UC/UR, UT): the flags are read only then, or when no response went through
// the filter (e.g. the client left first); a reset after a 2xx-4xx response started
// keeps that status (Kong's log phase sees the same: docs/policy.md "Streams"). Without
// a status, Envoy's own response code (0: none). One instance, overwritten by each call.
//
// gRPC: a `:status 200` reply is looked at for a grpc-status, in the response trailers
// first, then in the headers of a trailers-only reply (the order of Envoy's
// Grpc::Common::getGrpcStatus, source/common/grpc/common.cc; in on_log the maps are the
// access log's, Context::getMap). A found code is reported as GRPC_STATUS_BASE + code,
// and the flags are read too: Envoy answers a dead upstream of a gRPC request with its
// own trailers-only 200 + grpc-status 14 (Utility::prepareLocalReply), which the flags
// (UF, UC, UT) tell apart from the upstream's own UNAVAILABLE. Cost: two header reads
// per tracked 200 (none for other statuses).
export class LogOutcome {
  status: i32 = 0;
  error: i32 = ERROR_NONE;
}
const atLog = new LogOutcome();

export function outcomeAtLog(status: i32, scratch: Bytes): LogOutcome {
  return outcomeOf(status, scratch, true);
}

// The same at the response headers (a half-open or guard probe is decided there, so a
// stream never holds a probe: docs/policy.md "Streams"): no trailers exist yet, so a
// grpc-status counts only from a trailers-only reply's headers; response.flags are set
// before Envoy's own 503/504 or trailers-only 200 passes the filters (the router's
// onUpstreamReset / onUpstreamTimeout set them, then send the local reply).
export function outcomeAtHeaders(status: i32, scratch: Bytes): LogOutcome {
  return outcomeOf(status, scratch, false);
}

function outcomeOf(status: i32, scratch: Bytes, trailers: bool): LogOutcome {
  let error = ERROR_NONE;
  if (status == 200) {
    const g = trailers ? grpcStatusAtLog(scratch) : grpcStatusOfHeaders(scratch);
    if (g >= 0) {
      status = GRPC_STATUS_BASE + g;
      error = errorOfFlags(getPropertyI64(RESPONSE_FLAGS, 0));
    }
  }
  if (status < 0 || (status >= 500 && status < GRPC_STATUS_BASE)) error = errorOfFlags(getPropertyI64(RESPONSE_FLAGS, 0));
  if (status < 0) {
    const c = getPropertyI64(RESPONSE_CODE, 0);
    status = c > 0 && c < 1000 ? <i32>c : 0;
  }
  atLog.status = status;
  atLog.error = error;
  return atLog;
}

// The grpc-status of the response trailers, else of the response headers; -1 when
// neither has one of 0-16.
function grpcStatusAtLog(b: Bytes): i32 {
  getHeader(RESPONSE_TRAILERS, GRPC_STATUS, b);
  const g = b.len > 0 ? parseStatus(b) : -1;
  releaseHeld();
  if (g >= 0 && g <= GRPC_STATUS_MAX) return g;
  return grpcStatusOfHeaders(b);
}

// The grpc-status of the response headers (a trailers-only reply); -1 when none of 0-16.
export function grpcStatusOfHeaders(b: Bytes): i32 {
  getHeader(RESPONSE_HEADERS, GRPC_STATUS, b);
  const g = b.len > 0 ? parseStatus(b) : -1;
  releaseHeld();
  return g >= 0 && g <= GRPC_STATUS_MAX ? g : -1;
}

// Whether the router picked an upstream host for the stream (upstream.address is set);
// `scratch` receives the address.
export function upstreamCalled(scratch: Bytes): bool {
  getProperty(UPSTREAM_ADDRESS, scratch);
  const called = scratch.len > 0;
  releaseHeld();
  return called;
}
