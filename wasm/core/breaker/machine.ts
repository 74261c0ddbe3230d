// The breaker state machine: resilience4j's CircuitBreaker semantics, one transition
// function, no clock of its own (callers pass nowMs) and no allocation.
//
//   allow(s, st, nowMs, out)                 before the call: admit or reject
//   record(s, st, adm, outcome, latency, now) after an admitted call: count its outcome
//   classify(s, status, error)               status / transport error -> OUTCOME_*
//   advance(s, st, nowMs)                    time-driven transitions and window eviction only
//                                            (for reporting: state, rates, Retry-After)
//
// Rules (docs: issue 4; where resilience4j has a trap, the fix is noted):
// - CLOSED: every outcome enters the window; after each one the thresholds are checked:
//   consecutiveFailures (if > 0) reached, or, once the window holds minimumCalls
//   outcomes (count windows: at most their size), failure rate >= failureRateThreshold
//   or slow-call rate >= slowCallRateThreshold (slow = latency >= slowCallDurationMs,
//   when that is > 0). Rates compare exactly, in basis points; a rate needs at least
//   one failure (one slow call), so a threshold of 0 means "any failure" rather than
//   "always" (opossum compares with > instead of >=: not here).
// - OPEN: rejects; at now >= openUntil it is HALF_OPEN (as of openUntil exactly).
//   openUntil = the time it opened + openDurationMs; each re-open from HALF_OPEN
//   multiplies the open duration by openBackoff.multiplier (whole ms, at most maxMs);
//   closing resets it.
// - HALF_OPEN: admits exactly permittedCalls probes, rejects the rest. A request that
//   may not probe (allow's probeOk 0: a long-lived request on a gateway that learns
//   outcomes only when the request ends, ../request/long-lived.ts) is admitted without a
//   permit, neither probing nor counted; probeOk -1 (not known) answers needsFacts
//   instead of taking a permit. It re-opens as
//   soon as the probe failures (slow probes) already seen make the rate over all
//   permittedCalls reach the threshold whatever the remaining results; it closes only
//   once all permittedCalls results are in (resilience4j decides on the results it has).
//   An ignored probe result returns its permit; a probe result while none is
//   outstanding (a duplicate report) is dropped. When results are outstanding and no
//   probe was admitted and no result came for maxWaitMs, it re-opens (as of that instant).
// - Rejected calls never enter the window. An outcome counts only in the generation it
//   was admitted in (every transition starts a new one): calls in flight when the
//   breaker opened, and late probes, are dropped.
// - The window is cleared when the breaker closes.
// - Time: t = max(nowMs, clockMs), clockMs = the latest time at which the state
//   changed: a clock going backwards counts as not moving. A call that changes nothing
//   (e.g. allow while CLOSED) does not move clockMs, so it leaves the state untouched
//   and Envoy needs no shared-data write for it.
// - Modes: dry_run runs the machine exactly as enforce but admits every call
//   (Admission.permitted says what enforce would have done; outcomes of calls enforce
//   would have rejected are not recorded, so the states match enforce); forced_open
//   rejects and forced_closed admits everything, both without touching the state.
import {
  BreakerMode, BreakerSettings, ERROR_CONNECT, ERROR_NONE, ERROR_RESET, ERROR_TIMEOUT, OUTCOME_FAILURE, OUTCOME_IGNORED,
  STATUS_TABLE_SIZE, GRPC_STATUS_BASE, GRPC_STATUS_MAX,
} from "./settings";
import {
  BreakerState, REASON_CONSECUTIVE, REASON_FAILURE_RATE, REASON_OPEN_ELAPSED, REASON_PROBE_FAILURES,
  REASON_PROBE_SLOW, REASON_PROBE_TIMEOUT, REASON_PROBES_PASSED, REASON_SLOW_RATE, STATE_CLOSED, STATE_HALF_OPEN,
  STATE_OPEN,
} from "./state";

export { ADMITTED, PERMITTED, PROBE, NEEDS_FACTS } from "../contract";
import { ADMITTED, PERMITTED, PROBE, NEEDS_FACTS } from "../contract";

// The answer of allow(). Adapters keep `flags` and `generation` with the request and
// hand them back to record() (Admission.restore) when the outcome is known.
@final
export class Admission {
  admitted: bool = false;    // let the request through (always true in dry_run and forced_closed)
  permitted: bool = false;   // the state machine let it in (what enforce mode does)
  probe: bool = false;       // a half-open probe
  needsFacts: bool = false;  // would probe, but whether the request may is not known
  generation: u32 = 0;       // the state's generation when admitted
  state: u8 = STATE_CLOSED;  // the state after the decision
  // Rejections: ms until the breaker may admit again (OPEN: open time left; HALF_OPEN
  // with all permits out: 0); -1 = unknown (forced_open). For Retry-After.
  retryAfterMs: f64 = -1;
  changed: bool = false;     // the state changed (Envoy: write it back with CAS)

  // @ts-ignore: decorator
  @inline get flags(): i32 {
    return (this.admitted ? ADMITTED : 0) | (this.permitted ? PERMITTED : 0) | (this.probe ? PROBE : 0) | (this.needsFacts ? NEEDS_FACTS : 0);
  }

  restore(flags: i32, generation: u32): Admission {
    this.admitted = (flags & ADMITTED) != 0;
    this.permitted = (flags & PERMITTED) != 0;
    this.probe = (flags & PROBE) != 0;
    this.needsFacts = false;
    this.generation = generation;
    return this;
  }
}

// A transport error the gateway cannot tell apart: nginx (Kong) reports a refused
// connection and a reset before the response alike (502, try state "failed"). It is a
// failure when failure.errors lists either kind.
export { ERROR_CONNECT_OR_RESET } from "../contract";
import { ERROR_CONNECT_OR_RESET } from "../contract";

// The error kind to classify: ERROR_CONNECT_OR_RESET as whichever of the two the
// settings list (connect first), any other kind as it is.
export function transportError(s: BreakerSettings, error: i32): i32 {
  if (error != ERROR_CONNECT_OR_RESET) return error;
  return (s.errorMask & (1 << ERROR_CONNECT)) != 0 ? ERROR_CONNECT : ERROR_RESET;
}

// Failure, success or ignored, from what the gateway saw. A transport error (connect
// failure, reset, timeout) wins over a status; an error kind not listed in
// failure.errors is ignored (it says nothing about the upstream the user cares about).
// Statuses: ignoreStatuses, then statuses (failures), else success; outside 100-599 ignored.
// A gRPC reply (status GRPC_STATUS_BASE + grpc-status, ../contract.ts): failure.grpcStatuses
// are failures, every other code a success; its HTTP :status says nothing (gRPC answers
// errors with 200).
export function classify(s: BreakerSettings, status: i32, error: i32): i32 {
  if (error != ERROR_NONE) {
    if (error < 0 || error > ERROR_TIMEOUT) return OUTCOME_IGNORED;
    return (s.errorMask & (1 << error)) != 0 ? OUTCOME_FAILURE : OUTCOME_IGNORED;
  }
  if (<u32>(status - GRPC_STATUS_BASE) <= <u32>GRPC_STATUS_MAX) return <i32>unchecked(s.grpcClass[status - GRPC_STATUS_BASE]);
  if (<u32>status >= <u32>STATUS_TABLE_SIZE) return OUTCOME_IGNORED;
  return <i32>unchecked(s.statusClass[status]);
}

// The single transition function: every state change goes through here.
function transition(s: BreakerSettings, st: BreakerState, to: u8, atMs: f64, reason: u8): void {
  if (to == STATE_OPEN) {
    if (st.state == STATE_HALF_OPEN) {
      st.backoffLevel++;
      st.openMs = min(Math.floor(st.openMs * s.backoffMultiplier), s.backoffMaxMs);
    } else {
      st.backoffLevel = 0;
      st.openMs = s.openDurationMs;
    }
    st.openUntilMs = atMs + st.openMs;
  } else if (to == STATE_HALF_OPEN) {
    st.probesIssued = 0;
    st.probesSeen = 0;
    st.probeFailures = 0;
    st.probeSlow = 0;
    st.probeActivityMs = atMs;
  } else {
    st.window.clear(atMs);
    st.backoffLevel = 0;
  }
  st.consecutive = 0;
  st.state = to;
  st.reason = reason;
  st.sinceMs = atMs;
  st.generation++;
}

// Time-driven transitions at time t; true when any happened. At most OPEN -> HALF_OPEN,
// or HALF_OPEN -> OPEN (probe timeout) -> HALF_OPEN, each as of the instant it was due.
function tick(s: BreakerSettings, st: BreakerState, t: f64): bool {
  let changed = false;
  if (st.state == STATE_OPEN && t >= st.openUntilMs) {
    transition(s, st, STATE_HALF_OPEN, st.openUntilMs, REASON_OPEN_ELAPSED);
    changed = true;
  }
  if (st.state == STATE_HALF_OPEN && st.probesIssued > st.probesSeen) {
    const due = st.probeActivityMs + s.maxWaitMs;
    if (t >= due) {
      transition(s, st, STATE_OPEN, due, REASON_PROBE_TIMEOUT);
      if (t >= st.openUntilMs) transition(s, st, STATE_HALF_OPEN, st.openUntilMs, REASON_OPEN_ELAPSED);
      changed = true;
    }
  }
  return changed;
}

// Times past 2^53 ms (and NaN) are not times: they count as the clock not moving.
const MAX_TIME_MS: f64 = 9007199254740992;

// @ts-ignore: decorator
@inline function clockOf(st: BreakerState, nowMs: f64): f64 {
  return nowMs > st.clockMs && nowMs < MAX_TIME_MS ? nowMs : st.clockMs;
}

// Applies time-driven transitions and drops window outcomes older than the window, as
// of nowMs (for reporting: state names, rates, Retry-After). True when the state changed.
export function advance(s: BreakerSettings, st: BreakerState, nowMs: f64): bool {
  if (s.mode >= BreakerMode.ForcedOpen) return false;
  const t = clockOf(st, nowMs);
  let changed = tick(s, st, t);
  if (st.state == STATE_CLOSED) {
    const w = st.window;
    const calls = w.calls;
    w.advance(t);
    if (w.calls != calls) changed = true;
  }
  if (changed) st.clockMs = t;
  return changed;
}

// Whether allow() would admit and permit the call as a plain one (not a probe), changing
// nothing: a CLOSED state in enforce or dry_run mode (CLOSED has no time-driven
// transition, and allow() leaves the window alone). What allow() answers then is fixed
// (flags ADMITTED | PERMITTED, the state's generation), so a caller that only reports
// the answer writes it without running allow() (./runtime.ts admitState: about 10 ns of
// the ~30 ns an admission took in the core, issue 17).
// @ts-ignore: decorator
@inline export function admitsAsIs(s: BreakerSettings, st: BreakerState): bool {
  return st.state == STATE_CLOSED && s.mode <= BreakerMode.DryRun;
}

// probeOk: 1 the request may be a half-open probe; 0 it may not (admitted without a
// permit instead); -1 not known (needsFacts, nothing taken). Other states ignore it.
export function allow(s: BreakerSettings, st: BreakerState, nowMs: f64, out: Admission, probeOk: i32 = 1): Admission {
  out.probe = false;
  out.needsFacts = false;
  out.changed = false;
  out.retryAfterMs = -1;
  out.generation = st.generation;
  out.state = st.state;
  if (s.mode == BreakerMode.ForcedOpen) { out.admitted = false; out.permitted = false; return out; }
  if (s.mode == BreakerMode.ForcedClosed) { out.admitted = true; out.permitted = true; return out; }
  const t = clockOf(st, nowMs);
  let changed = st.state != STATE_CLOSED && tick(s, st, t);   // (CLOSED has no time-driven transition)
  let permitted = false;
  let passThrough = false;
  const state = st.state;
  if (state == STATE_CLOSED) {
    permitted = true;
  } else if (state == STATE_OPEN) {
    out.retryAfterMs = st.openUntilMs - t;
  } else if (probeOk == 0) {
    passThrough = true;                      // long-lived: never holds a probe
  } else if (st.probesIssued < <u32>s.permittedCalls && probeOk < 0) {
    out.needsFacts = true;
  } else if (st.probesIssued < <u32>s.permittedCalls) {
    st.probesIssued++;
    st.probeActivityMs = t;
    out.probe = true;
    permitted = true;
    changed = true;
  } else {
    out.retryAfterMs = 0;
  }
  if (changed) st.clockMs = t;
  out.permitted = permitted;
  out.admitted = permitted || passThrough || s.mode == BreakerMode.DryRun;
  out.generation = st.generation;
  out.state = st.state;
  out.changed = changed;
  return out;
}

// Counts the outcome of a call admitted by `adm`. latencyMs decides "slow". Returns
// true when the state changed.
export function record(s: BreakerSettings, st: BreakerState, adm: Admission, outcome: i32, latencyMs: f64, nowMs: f64): bool {
  return recordFlags(s, st, adm.flags, adm.generation, outcome, latencyMs, nowMs);
}

// record() of the admission (flags, generation) as the adapter hands it back
// (Admission.flags, .generation), without an Admission in between.
export function recordFlags(s: BreakerSettings, st: BreakerState, flags: i32, generation: u32, outcome: i32, latencyMs: f64, nowMs: f64): bool {
  if (s.mode >= BreakerMode.ForcedOpen || (flags & PERMITTED) == 0) return false;
  const t = clockOf(st, nowMs);
  // (a probe result after its deadline is late: the breaker re-opened; CLOSED has no
  // time-driven transition)
  let changed = st.state != STATE_CLOSED && tick(s, st, t);
  if (generation == st.generation) {
    if (st.state == STATE_CLOSED) {
      if (outcome != OUTCOME_IGNORED) {
        const failed = outcome == OUTCOME_FAILURE;
        st.window.add(t, failed, s.slowCallDurationMs > 0 && latencyMs >= s.slowCallDurationMs);
        if (failed) st.consecutive++;
        else st.consecutive = 0;
        changed = true;
        checkClosed(s, st, t);
      }
    } else if (st.state == STATE_HALF_OPEN && (flags & PROBE) != 0 && st.probesIssued > st.probesSeen) {
      // (a probe result with none outstanding is a duplicate report: dropped)
      st.probeActivityMs = t;
      changed = true;
      if (outcome == OUTCOME_IGNORED) {
        st.probesIssued--;                       // the permit goes back
      } else {
        st.probesSeen++;
        if (outcome == OUTCOME_FAILURE) st.probeFailures++;
        if (s.slowCallDurationMs > 0 && latencyMs >= s.slowCallDurationMs) st.probeSlow++;
        checkHalfOpen(s, st, t);
      }
    }
  }
  if (changed) st.clockMs = t;
  return changed;
}

function checkClosed(s: BreakerSettings, st: BreakerState, t: f64): void {
  if (s.consecutiveFailures > 0 && st.consecutive >= <u32>s.consecutiveFailures) {
    transition(s, st, STATE_OPEN, t, REASON_CONSECUTIVE);
    return;
  }
  const w = st.window;
  if (w.calls < <u32>s.effectiveMinimumCalls) return;
  const calls = <i64>w.calls;
  if (w.failures > 0 && <i64>w.failures * 10000 >= s.failureRateBp * calls) {
    transition(s, st, STATE_OPEN, t, REASON_FAILURE_RATE);
  } else if (s.slowCallDurationMs > 0 && w.slow > 0 && <i64>w.slow * 10000 >= s.slowRateBp * calls) {
    transition(s, st, STATE_OPEN, t, REASON_SLOW_RATE);
  }
}

function checkHalfOpen(s: BreakerSettings, st: BreakerState, t: f64): void {
  const n = <i64>s.permittedCalls;
  if (st.probeFailures > 0 && <i64>st.probeFailures * 10000 >= s.failureRateBp * n) {
    transition(s, st, STATE_OPEN, t, REASON_PROBE_FAILURES);
  } else if (s.slowCallDurationMs > 0 && st.probeSlow > 0 && <i64>st.probeSlow * 10000 >= s.slowRateBp * n) {
    transition(s, st, STATE_OPEN, t, REASON_PROBE_SLOW);
  } else if (st.probesSeen >= <u32>s.permittedCalls) {
    transition(s, st, STATE_CLOSED, t, REASON_PROBES_PASSED);
  }
}

// Whole seconds for a Retry-After header from Admission.retryAfterMs: rounded up, at
// least 1; -1 when unknown (no header).
export function retryAfterSeconds(ms: f64): i32 {
  if (ms < 0) return -1;
  const sec = <i32>Math.ceil(ms / 1000);
  return sec < 1 ? 1 : sec;
}
