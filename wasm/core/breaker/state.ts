// The state of one breaker key: CLOSED / OPEN / HALF_OPEN plus what each state needs.
// Only ./machine.ts changes it (through its single transition function); ./codec.ts
// turns it into bytes and back. Allocated once per key, reused after LRU eviction.
import { BreakerSettings, WindowType } from "./settings";
import { CountWindow, TimeWindow, Window } from "./window";

import { STATE_CLOSED as CLOSED, STATE_OPEN as OPEN, STATE_HALF_OPEN as HALF_OPEN } from "../contract";

// The state numbers of ../contract.ts, typed as the state field holds them.
export const STATE_CLOSED: u8 = <u8>CLOSED;
export const STATE_OPEN: u8 = <u8>OPEN;
export const STATE_HALF_OPEN: u8 = <u8>HALF_OPEN;

// Why the last transition happened (for simulate/explain output and metrics).
export const REASON_NONE: u8 = 0;            // never transitioned
export const REASON_FAILURE_RATE: u8 = 1;    // CLOSED -> OPEN: failure rate >= threshold
export const REASON_SLOW_RATE: u8 = 2;       // CLOSED -> OPEN: slow-call rate >= threshold
export const REASON_CONSECUTIVE: u8 = 3;     // CLOSED -> OPEN: consecutiveFailures reached
export const REASON_OPEN_ELAPSED: u8 = 4;    // OPEN -> HALF_OPEN: now >= openUntil
export const REASON_PROBE_FAILURES: u8 = 5;  // HALF_OPEN -> OPEN: probe failures reach the threshold
export const REASON_PROBE_SLOW: u8 = 6;      // HALF_OPEN -> OPEN: slow probes reach the threshold
export const REASON_PROBE_TIMEOUT: u8 = 7;   // HALF_OPEN -> OPEN: no probe result within maxWaitMs
export const REASON_PROBES_PASSED: u8 = 8;   // HALF_OPEN -> CLOSED: all probe results in, below thresholds

export function stateName(state: u8): string {
  if (state == STATE_OPEN) return "OPEN";
  if (state == STATE_HALF_OPEN) return "HALF_OPEN";
  return "CLOSED";
}


export class BreakerState {
  state: u8 = STATE_CLOSED;
  reason: u8 = REASON_NONE;
  // +1 on every transition. An admission carries the generation it was made in; its
  // outcome counts only while the generation is unchanged, so a call admitted before
  // the breaker opened (or a probe of an earlier half-open round) cannot close or
  // re-open it.
  generation: u32 = 0;
  clockMs: f64 = 0;           // latest time at which the state changed; earlier times count as it
  sinceMs: f64 = 0;           // time of the last transition
  openUntilMs: f64 = 0;       // OPEN: when it turns HALF_OPEN
  openMs: f64 = 0;            // length of the current (last) open period, backoff applied
  backoffLevel: u32 = 0;      // re-opens since the breaker last closed
  consecutive: u32 = 0;       // CLOSED: consecutive failures
  // HALF_OPEN
  probesIssued: u32 = 0;      // permits handed out (an ignored probe result returns its permit)
  probesSeen: u32 = 0;        // probe results counted
  probeFailures: u32 = 0;
  probeSlow: u32 = 0;
  probeActivityMs: f64 = 0;   // last probe admitted or probe result seen
  window: Window;             // CLOSED: the sliding window; cleared when the breaker closes

  constructor(s: BreakerSettings) {
    this.window = s.windowType == WindowType.Count
      ? changetype<Window>(new CountWindow(s.windowSize))
      : changetype<Window>(new TimeWindow(s.buckets, s.bucketMs));
  }

  // A fresh CLOSED state (a new key, or an evicted key's state reused for another).
  reset(generation: u32): void {
    this.state = STATE_CLOSED;
    this.reason = REASON_NONE;
    this.generation = generation;
    this.clockMs = 0;
    this.sinceMs = 0;
    this.openUntilMs = 0;
    this.openMs = 0;
    this.backoffLevel = 0;
    this.consecutive = 0;
    this.probesIssued = 0;
    this.probesSeen = 0;
    this.probeFailures = 0;
    this.probeSlow = 0;
    this.probeActivityMs = 0;
    this.window.clear(0);
    const w = this.window;
    if (w instanceof TimeWindow) (w as TimeWindow).headEpoch = 0;
  }
}
