// The response code details of tandem's local replies (proxy_send_local_response's
// `details`: Envoy stores them as the stream's response code details,
// source/extensions/common/wasm/context.cc Context::sendLocalResponse -> sendLocalReply;
// %RESPONSE_CODE_DETAILS% in an access log; no spaces: Envoy replaces them), and who
// answered a stream, read back from them in the experiment filter's on_log
// (tandem_requests_total's reason: ../core/metrics/catalog.ts requestReasonIndex).
import { Bytes, utf8 } from "../core/text/bytes";
import { ANSWERED_FALLBACK, ANSWERED_UPSTREAM, ANSWER_HEADER, ANSWER_FALLBACK, ANSWER_FAULT } from "../core/metrics/catalog";

// The answer header every tandem reply carries on both gateways (catalog ANSWER_HEADER):
// added to each LocalReply at configure time, no host call.
export const ANSWER_NAME = utf8(ANSWER_HEADER);
export const ANSWER_BY_FALLBACK = utf8(ANSWER_FALLBACK);
export const ANSWER_BY_FAULT = utf8(ANSWER_FAULT);
import { getProperty, releaseHeld } from "./host";

// the circuit breaker's rejection: its respond fallback or the default answer
export const DETAILS_OPEN = utf8("tandem_circuit_breaker_open");
// the respond fallback replacing a failed call's answer (fallback.on: upstreamFailure)
export const DETAILS_UPSTREAM_FAILURE = utf8("tandem_fallback_upstream_failure");
// the cache fallback's entry (a rejection, or a failed call with upstreamFailure)
export const DETAILS_CACHE = utf8("tandem_fallback_cache");
// a fault's abort (the experiment filter tells it from the fault mark: ./fault-mark.ts)
export const DETAILS_ABORT = utf8("tandem_fault_abort");

const CODE_DETAILS = utf8("response\0code_details");

function equals(b: Bytes, s: StaticArray<u8>): bool {
  return b.len == s.length && memory.compare(b.ptr, changetype<usize>(s), <usize>s.length) == 0;
}

// Whether the breaker's fallback answered this stream (catalog ANSWERED_*): one
// proxy_get_property, which the caller makes only when no upstream's answer reached it.
export function answeredByDetails(scratch: Bytes): i32 {
  getProperty(CODE_DETAILS, scratch);
  const by = equals(scratch, DETAILS_OPEN) || equals(scratch, DETAILS_UPSTREAM_FAILURE) || equals(scratch, DETAILS_CACHE)
    ? ANSWERED_FALLBACK : ANSWERED_UPSTREAM;
  releaseHeld();
  return <i32>by;
}
