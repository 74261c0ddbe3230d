// What the fault-injection filter did to a stream, left in its filter state for the
// circuit breaker's and the canary guards' on_log (filters run in one stream; Envoy's
// proxy_set_property stores "wasm.<name>", proxy_get_property reads it back:
// source/extensions/common/wasm/context.cc Context::setProperty / getProperty):
//   9 bytes: scope (0 gateway, 1 upstream), delay ms (u32 LE), abort status (u32 LE).
// scope upstream: the fault stands in for the upstream, the outcome is the abort's
// status (latency: the delay); gateway: the fault's delay is the gateway's own time,
// not the upstream's, and is taken out of the latency (Kong's latencies.proxy never
// includes a plugin's wait, plugins/shared/outcome.ts).
import * as imports from "@solo-io/proxy-runtime/assembly/imports";
import { Bytes, utf8 } from "../core/text/bytes";
import { getProperty, releaseHeld } from "./host";

const NAME = utf8("tandem_fault");
const VALUE = new StaticArray<u8>(9);

export function markFault(upstream: bool, delayMs: i32, abortStatus: i32): void {
  const p = changetype<usize>(VALUE);
  store<u8>(p, upstream ? 1 : 0);
  store<u32>(p + 1, <u32>max(0, delayMs));
  store<u32>(p + 5, <u32>max(0, abortStatus));
  imports.proxy_set_property(changetype<usize>(NAME), NAME.length, p, 9);
}

@final
export class FaultMark {
  present: bool = false;
  upstream: bool = false;
  delayMs: i32 = 0;
  abortStatus: i32 = 0;
}
const mark = new FaultMark();

// `possible`: a fault-injection filter may share the stream's policy (the experiment
// config's hasFaults, ../core/metrics/catalog.ts HAS_FAULTS_FIELD); when not, no mark
// can be there and none is read (one proxy_get_property less per stream).
export function readFaultMark(scratch: Bytes, possible: bool = true): FaultMark {
  if (!possible) { mark.present = false; return mark; }
  getProperty(NAME, scratch);
  mark.present = scratch.len == 9;
  if (mark.present) {
    mark.upstream = load<u8>(scratch.ptr) == 1;
    mark.delayMs = <i32>load<u32>(scratch.ptr + 1);
    mark.abortStatus = <i32>load<u32>(scratch.ptr + 5);
  }
  releaseHeld();
  return mark;
}

// The outcome's status and latency with the fault accounted for (see above).
export function faultLatency(m: FaultMark, latencyMs: f64): f64 {
  if (!m.present || m.upstream || m.abortStatus > 0) return latencyMs;
  return max(0, latencyMs - <f64>m.delayMs);
}
