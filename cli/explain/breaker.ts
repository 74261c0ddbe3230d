// The `circuit-breaker` part of `tandem explain`: which breaker key the request maps to
// and what the breaker does with it at now, given a history (./breaker-history.ts).
// The key, the admission, Retry-After, the answer's kind and the key's state are the
// core's (admitBreaker, describeBreakerState, the configure-time plan); this file only
// words them:
//   breaker:  the key and which request fact it came from
//   history:  where the breaker's state came from
//   state:    the key's state after this request's admission
//   decision: admitted | probe | rejected, and for a rejection why
//   answer:   what the client gets
import { answerNeeds } from "../../core-js/answer-needs";
import {
  BREAKER_PROBE, BreakerAnswer, type BreakerAdmission, type BreakerPlan, type BreakerReply, type TandemCore,
} from "../../core-js/tandem-core";
import type { PolicyDoc } from "../policy-file";
import { at, breakerWithHistory, type HistoryRequest } from "./breaker-history";
import { UPSTREAM_HEADER, VARIANT_HEADER } from "../../core-js/tandem-core";

const LABEL = 10;
const CONT = " ".repeat(LABEL);
const BODY_SHOWN = 120;

// wasm/core/breaker/state.ts REASON_*, in words.
const REASON_TEXT: Record<string, string> = {
  failure_rate: "failure rate reached failureRateThreshold",
  slow_call_rate: "slow-call rate reached slowCallRateThreshold",
  consecutive_failures: "consecutiveFailures failures in a row",
  open_elapsed: "openDurationMs elapsed",
  probe_failures: "failed probes reached failureRateThreshold",
  probe_slow_calls: "slow probes reached slowCallRateThreshold",
  probe_timeout: "no probe result within halfOpen.maxWaitMs",
  probes_passed: "all probes passed",
};

// describeBreakerState's JSON (wasm/core/breaker/describe.ts describeState).
interface KeyState {
  reason: string; sinceMs: number; openUntilMs: number; openMs: number; backoffLevel: number;
  calls: number; failures: number; slow: number; probesIssued: number; probesSeen: number; probeFailures: number;
}

// `headers`: the request as the breaker sees it, after the experiment (variant header set).
export async function explainBreaker(core: TandemCore, policy: PolicyDoc, headers: Record<string, string>,
  nowMs: number, h: HistoryRequest): Promise<string[]> {
  const b = await breakerWithHistory(core, policy, h, headers, nowMs);
  try {
    const plan = b.plan;
    const a = core.admitBreaker(plan, answerNeeds(plan.needs, { headers }), nowMs);
    const st = core.describeBreakerState(plan, a.key) as unknown as KeyState;
    const permitted = (plan.settings as { halfOpen: { permittedCalls: number } }).halfOpen.permittedCalls;
    return [
      line("breaker:", `key ${JSON.stringify(a.key)}: ${keySource(plan, a.key, headers)} (key: ${plan.key})`),
      line("history:", b.history),
      line("state:", stateText(plan, a, st, permitted)),
      line("decision:", decisionText(plan, a, st, permitted)),
      line("answer:", answerText(plan, a)),
    ];
  } finally {
    await b.close();
  }
}

function line(label: string, text: string): string {
  return label.padEnd(LABEL) + text.split("\n").join("\n" + CONT);
}

// Which fact the core's key came from (the derivation itself is the core's).
function keySource(plan: BreakerPlan, key: string, headers: Record<string, string>): string {
  if (plan.key === "route") return "one state for every request this plugin sees";
  if (plan.key.startsWith("header:")) {
    const name = plan.key.slice("header:".length).toLowerCase();
    return headers[name] === undefined ? `no ${name}: the key every request without it shares` : `the first value of ${name}`;
  }
  const variant = headers[VARIANT_HEADER];
  if (variant !== undefined && variant !== "") {
    // the core keys a variant by its upstream's name when the policy gives it one
    if (key === variant) return `${VARIANT_HEADER}, the variant the experiment set`;
    return `the upstream of ${VARIANT_HEADER} ${JSON.stringify(variant)}, the variant the experiment set`;
  }
  if (key !== "" && key === headers.host) return `the Host, no ${VARIANT_HEADER}`;
  return `no ${VARIANT_HEADER} and no Host`;
}

function reason(st: KeyState): string {
  const t = REASON_TEXT[st.reason];
  return t ? `${st.reason}: ${t}` : st.reason;
}

function stateText(plan: BreakerPlan, a: BreakerAdmission, st: KeyState, permitted: number): string {
  if (!plan.records) return `not consulted (mode ${plan.mode})`;
  switch (a.state) {
    case "open":
      return `open since ${at(st.sinceMs)} (${reason(st)}), until ${at(st.openUntilMs)}: open for ${st.openMs} ms` +
        (st.backoffLevel > 0 ? `, backoff level ${st.backoffLevel}` : "");
    case "half_open":
      return `half_open since ${at(st.sinceMs)}: ${st.probesIssued} of ${permitted} probes admitted, ` +
        `${st.probesSeen} results in, ${st.probeFailures} failed`;
    case "closed":
      return `closed; window: ${st.calls} outcomes, ${st.failures} failed, ${st.slow} slow` +
        (st.reason !== "none" ? ` (closed at ${at(st.sinceMs)}, ${reason(st)})` : "");
  }
}

function decisionText(plan: BreakerPlan, a: BreakerAdmission, st: KeyState, permitted: number): string {
  if (plan.mode === "forced_open") return "rejected: mode forced_open rejects every call";
  if (plan.mode === "forced_closed") return "admitted: mode forced_closed admits every call and counts nothing";
  if (a.permitted) {
    if ((a.flags & BREAKER_PROBE) !== 0) return `probe: half-open, admitted as probe ${st.probesIssued} of ${permitted}; its outcome decides whether the breaker closes`;
    return "admitted: the breaker is closed";
  }
  // Retry-After comes with rejections only (dry_run admits: none).
  const ra = a.retryAfter >= 0 ? ` (Retry-After ${a.retryAfter} s)` : "";
  const why = a.state === "open"
    ? `open until ${at(st.openUntilMs)}${ra}`
    : `half-open with all ${permitted} probe permits out, ${st.probesSeen} results in${ra}`;
  if (a.admitted) return `admitted: mode dry_run; enforce would reject it: ${why}`;
  return `rejected: ${why}`;
}

function answerText(plan: BreakerPlan, a: BreakerAdmission): string {
  if (a.admitted) {
    const counted = a.permitted && plan.records;
    return `the upstream's answer; its outcome ${counted ? "is" : "is not"} counted`;
  }
  const f = plan.fallback;
  const rr = plan.reroute;
  if (a.answer === BreakerAnswer.Reroute && rr) {
    if (rr.variant !== null) {
      return `fallback.reroute to variant ${rr.variant}: ${VARIANT_HEADER}: ${rr.variant}` +
        `${rr.upstream !== null ? `, Kong set_upstream(${rr.upstream})` : ""}; the breaker does not count it`;
    }
    return `fallback.reroute to upstream ${rr.upstream}: Kong set_upstream(${rr.upstream}), Envoy ${UPSTREAM_HEADER}: ${rr.upstream}; the breaker does not count it`;
  }
  if (a.answer === BreakerAnswer.Respond && f) return reply("fallback.respond", f as BreakerReply, a.retryAfter);
  const why = f ? "fallback.on does not include open" : "no fallback";
  return reply(`${why}: the gateway's own`, plan.reject, a.retryAfter);
}

// A response as the gateways send it (plugins/circuit-breaker/handler.ts answerOf and
// withRetryAfter): the reply's headers, Content-Type, Retry-After when the core gave
// seconds and the reply takes them.
function reply(what: string, r: BreakerReply, retryAfter: number): string {
  const out = [`${what} ${r.status}`];
  if (r.retryAfter && retryAfter >= 0) out.push(`retry-after: ${retryAfter}`);
  for (const [k, v] of Object.entries(r.headers)) out.push(`${k}: ${v}`);
  if (r.contentType !== "") out.push(`content-type: ${r.contentType}`);
  if (r.body !== "") {
    const shown = JSON.stringify(r.body.length > BODY_SHOWN ? r.body.slice(0, BODY_SHOWN) + "…" : r.body);
    out.push(`body ${shown} (${Buffer.byteLength(r.body)} bytes)`);
  }
  return out.join("\n");
}
