// The history a breaker has when `tandem explain` asks it about a request. A fresh CLI
// process has none (every key closed), so the user may give one:
//   --trace t.jsonl       replayed through the core exactly as `tandem simulate --via core`
//                         replays it (the experiment, then the breaker, outcomes on virtual
//                         time); the request is then explained at the trace's end
//   --breaker-state <s>   the request's own key driven into <s> through the core's machine:
//                         open       failing calls recorded at --at until the core opens it
//                         half_open  the same, openDurationMs before --at: the core turns it
//                                    half-open exactly at --at
//                         half_open_full  that, and every probe permit handed out at --at
//                                    with no result yet (a rejection with Retry-After 1)
//                         closed     nothing: a fresh key is closed
// Every state comes from the core's allow()/record(); nothing here decides a transition.
import { answerNeeds } from "../../core-js/answer-needs";
import type { BreakerPlan, TandemCore } from "../../core-js/tandem-core";
import type { PolicyDoc } from "../policy-file";
import { CoreDriver } from "../simulate/via-core";
import { readTrace, type TraceRequest } from "../simulate/trace";
import {
  BAD_BREAKER_STATE, BREAKER_STATE_VALUES, CANNOT_OPEN, ExplainUsage, HALF_OPEN_TOO_EARLY, TRACE_AND_STATE, type GivenBreakerState,
} from "./usage";

export interface HistoryRequest {
  // lines: the calls replayed; total: the trace's length (more when --at cut it)
  trace: { name: string; lines: TraceRequest[]; total: number } | null;
  state: GivenBreakerState | null;
}

// --trace and --breaker-state as given (both optional, never both).
export function historyRequest(trace: string | undefined, state: string | undefined): HistoryRequest {
  if (state !== undefined && !(BREAKER_STATE_VALUES as readonly string[]).includes(state)) {
    throw new ExplainUsage(BAD_BREAKER_STATE + JSON.stringify(state));
  }
  if (trace !== undefined && state !== undefined) throw new ExplainUsage(TRACE_AND_STATE);
  const lines = trace === undefined ? null : readTrace(trace);
  return {
    trace: lines === null ? null : { name: trace!, lines, total: lines.length },
    state: (state as GivenBreakerState | undefined) ?? null,
  };
}

// The history at --at: the trace's calls that are over by then (t + latencyMs ≤ at), in
// order; the core never sees time go back. Without --at the request comes at the
// trace's end, after every call.
export function historyAt(h: HistoryRequest, atMs: number): HistoryRequest {
  if (h.trace === null) return h;
  const lines = h.trace.lines.filter((r) => r.t + (r.upstream.latencyMs ?? 0) <= atMs);
  return { ...h, trace: { ...h.trace, lines } };
}

// "<name>: 4 requests replayed" (+ " of 6: the rest end after --at")
function replayed(t: NonNullable<HistoryRequest["trace"]>): string {
  const cut = t.lines.length < t.total ? ` of ${t.total} (the rest end after this request)` : "";
  return `${t.name}: ${t.lines.length} requests${cut} replayed`;
}

// The trace's end: when its last call is over (the latest t + latencyMs). A trace line
// is a fact about time, not policy, so this needs no core.
export function traceEndMs(lines: TraceRequest[]): number {
  let end = 0;
  for (const r of lines) end = Math.max(end, r.t + (r.upstream.latencyMs ?? 0));
  return end;
}

export interface Breaker {
  core: TandemCore;
  plan: BreakerPlan;
  history: string;      // one line: where the state came from
  close(): Promise<void>;
}

// A configured breaker (the policy's `circuit-breaker` part, as both gateways configure
// it) carrying the history asked for. `headers`: the explained request as the breaker
// sees it (--breaker-state drives that request's key).
export async function breakerWithHistory(core: TandemCore, policy: PolicyDoc, h: HistoryRequest,
  headers: Record<string, string>, nowMs: number): Promise<Breaker> {
  const driver = new CoreDriver(core, policy);
  const plan = driver.breaker!;
  const facts = answerNeeds(plan.needs, { headers });
  const close = () => driver.close();
  const given = h.trace ? `--trace ${h.trace.name}` : h.state ? `--breaker-state ${h.state}` : null;
  if (!plan.records) {
    // Forced modes decide without a state: a history would change nothing.
    const history = `${given ? `${given} ignored: ` : ""}mode ${plan.mode} keeps no state`;
    return { core, plan, history, close };
  }
  if (h.trace) {
    for (const r of h.trace.lines) await driver.run(r);
    const history = `${replayed(h.trace)} through the core (as tandem simulate --via core), then this one at ${at(nowMs)}`;
    return { core, plan, history, close };
  }
  if (h.state === "open" || h.state === "half_open" || h.state === "half_open_full") {
    const openMs = (plan.settings as { openDurationMs: number }).openDurationMs;
    const t0 = h.state === "open" ? nowMs : nowMs - openMs;
    if (t0 < 0) throw new ExplainUsage(`${HALF_OPEN_TOO_EARLY}${openMs}, got ${nowMs}`);
    const n = trip(core, plan, facts, t0);
    let history = `--breaker-state ${h.state}: ${n} failing calls recorded through the core at ${at(t0)}`;
    if (h.state === "open") history += ", then this request";
    else history += `, openDurationMs before this request at ${at(nowMs)}`;
    if (h.state === "half_open_full") history += `; ${takePermits(core, plan, facts, nowMs)} probes admitted at ${at(nowMs)}, no result yet`;
    return { core, plan, history, close };
  }
  const history = h.state === "closed" ? "--breaker-state closed: a fresh key" :
    "none: a fresh process, every key closed (--trace or --breaker-state give one)";
  return { core, plan, history, close };
}

// Records calls the core counts as failures (and slow) on the request's key at t0
// until the core reports it open; returns how many it took.
function trip(core: TandemCore, plan: BreakerPlan, facts: ReadonlyArray<string | undefined>, t0: number): number {
  const key = core.admitBreaker(plan, facts, t0).key;
  const slowMs = (plan.settings as { slowCallDurationMs: number }).slowCallDurationMs;
  const failing = failingOutcome(core, plan, key, t0, slowMs > 0);
  // Failures only: the failure rate is 100%, at or over any threshold, once the window
  // holds minimumCalls (a count window: at most its size); likewise slow calls.
  const limit = (plan.settings as { effectiveMinimumCalls: number }).effectiveMinimumCalls + 1;
  for (let n = 1; n <= limit; n++) {
    const a = core.allowBreaker(plan, key, t0);
    const r = core.recordBreaker(plan, key, a.flags, a.generation, { ...failing, latencyMs: slowMs }, t0);
    if (r.state === "open") return n;
  }
  throw new Error(`tandem explain: the breaker did not open after ${limit} failing calls`);
}

// Admits probes on the request's key at nowMs, recording no result, until the core
// admits no more; returns how many it admitted.
function takePermits(core: TandemCore, plan: BreakerPlan, facts: ReadonlyArray<string | undefined>, nowMs: number): number {
  const limit = (plan.settings as { halfOpen: { permittedCalls: number } }).halfOpen.permittedCalls;
  let n = 0;
  while (n < limit && core.admitBreaker(plan, facts, nowMs).permitted) n++;
  return n;
}

// An outcome the core classifies as a failure, asked of the core itself: record() with
// no admission flags classifies without counting (machine.ts: only permitted calls
// count). Transport errors first, then statuses, 5xx first. With slow calls on, a
// success recorded slow trips it as well.
function failingOutcome(core: TandemCore, plan: BreakerPlan, key: string, t0: number, slowCounts: boolean): { status?: number; error?: number } {
  const candidates: Array<{ status?: number; error?: number }> = [{ error: 1 }, { error: 2 }, { error: 3 }];
  for (const [from, to] of [[500, 599], [400, 499], [100, 399]]) for (let s = from; s <= to; s++) candidates.push({ status: s });
  let success: { status?: number } | null = null;
  for (const o of candidates) {
    const outcome = core.recordBreaker(plan, key, 0, 0, { ...o, latencyMs: 0 }, t0).outcome;
    if (outcome === 1) return o;
    if (outcome === 0 && success === null) success = o;
  }
  if (slowCounts && success !== null) return success;
  throw new ExplainUsage(CANNOT_OPEN);
}

// A time on the plugins' clock: `t=<ms>` like a trace's `t`, or RFC 3339 when it looks
// like a wall-clock time (after 2001: --at's default, now).
export function at(ms: number): string {
  return ms >= 1e12 && ms < 8.64e15 ? new Date(ms).toISOString() : `t=${ms}`;
}
