// Kong plugin `experiment`: sticky weighted canary / A/B split. Thin: the core decides,
// this file turns Kong facts into core facts and the decision into PDK calls.
// RPC round trips per request (HandleEvent included): 1 + get_headers
// [+ get_path_with_query / get_method / client.get_ip when the policy needs them]
// + set_header [+ set_upstream] [+ Set-Cookie for a new user]: 4-5 for the example
// policy, 6 for a new user under a path scope, 2-3 out of scope; one more each when
// the request carries the QA override header (stripped) and with exposeHeader, and
// one (nginx.get_var: Kong's request id, ./facts.ts) for a new user whose request has
// no x-request-id: 6 for the example policy. A request carrying
// Access-Control-Request-Method: + get_method (is it a CORS preflight? ./facts.ts).
// Tagging experiments (./tags.ts): none in scope (set_headers carries the variant and
// the tags); + clear_header when the client sent x-tandem-experiments and no tags
// replace it (out of scope, or a policy without spec.experiments).
// Canary guards: + set_serialize_value for a request a guard tracks (its admission,
// for log); log = 1 (HandleEvent) without guards, 1 + serialize = 2 with them: the
// outcome from Kong's own figures (../core/outcome.ts), never a `response` phase.
// Decision log (spec.experiment.decisionLog, ./decision-log.ts): a sampled request
// + set_serialize_value in access (none when guards or metrics already carry) and the
// serialize in log; an unsampled one nothing (docs/metrics.md "Decision log").
// State: the guards live in the core instance of this plugin server process (shared by
// all Kong workers); a restarted plugin instance with the same config keeps them.
import { outcomeOf, type KongOutcome } from "../shared/outcome";
import type { TandemMetrics } from "../../core-js/metrics";
import { OTHER, reasonLabelIndex, requestReasonIndex, sourceLabelIndex } from "../../wasm/core/metrics/catalog";
import { guardTraceOn, writeGuardTrace } from "./trace";
import type { KongPDK } from "../shared/pdk";
import { getCore } from "../shared/shared";
import { ConfigKeeper } from "../shared/config-keeper";
import { BreakerError, EXPOSE_HEADER, type ExperimentPlan } from "../../core-js/tandem-core";
import { decide, fetchFacts, planFacts, type FactPlan } from "./facts";
import { answeredByOf, logAwaited, sampleDecision, writeDecisionLine, type LogCarry } from "./decision-log";
import { clearClientTags, setDecisionHeaders } from "./tags";

import { PLUGIN_EXPERIMENT as PLUGIN } from "../../wasm/core/metrics/catalog";
import { kongMetrics } from "../shared/metrics";
import { outcomeLedger } from "../shared/dropped";
export { Schema } from "./schema";
export const Version = "0.1.0";
// After authentication (1000+) and rate limiting (900s), before proxying plugins.
export const Priority = 800;

interface Configured { plan: ExperimentPlan; facts: FactPlan; canon: string; token: string }

// Where a guard's admission travels from access to log (kong.log.set_serialize_value;
// log plugins see it too): the configuration's token, the guard, flags, generation.
export const GUARD_CARRY_FIELD = "tandem.guard";
// `ticket`: the log phase returns it; one that never comes counts as dropped (../shared/outcome-ledger.ts).
interface GuardCarry { config: string; guard: number; flags: number; generation: number; variant?: number; reason?: number; ticket?: number; log?: LogCarry }
// With metrics on, the decision travels to log the same way (merged into the guard's
// carry when a guard tracks the request): variant index and catalog reason index.
export const DECISION_CARRY_FIELD = "tandem.decision";
interface DecisionCarry { config: string; variant: number; reason?: number; ticket?: number; log?: LogCarry }
// A request the decision log samples (./decision-log.ts LogCarry: the decision's reason
// with its rule index, the key source, the request id the core sampled) carries `log`.

type ExperimentPDK = KongPDK & { log: KongPDK["log"] & { setSerializeValue(key: string, value: unknown): Promise<unknown> } };

// Last good configuration per Kong plugin id; an unchanged one (a restarted instance)
// keeps its guards' states (../core/config-keeper.ts).
const configs = new ConfigKeeper<Configured>((c) => getCore().release(c.plan), PLUGIN);

function configure(config: Record<string, unknown>): Configured {
  return configs.fromKong(config, (json, canon, token) => {
    const plan = getCore().configureExperiment(json);
    declareSeries(plan);
    return { plan, facts: planFacts(plan.needs, true), canon, token };
  });
}

// The series this configuration can write, at zero (core-js/metrics.ts declare*): the
// same set the Envoy filter defines at configure.
function declareSeries(plan: ExperimentPlan): void {
  const m = kongMetrics();
  if (m === null) return;
  if (plan.guards.length > 0 || plan.metrics) m.declarePlugin(PLUGIN, plan.policy);
  if (!plan.metrics) return;
  const names = plan.variants.map((v) => v.name);
  const sources = [...new Set([...plan.sourceKinds.map((k) => sourceLabelIndex(k, false)), sourceLabelIndex(0, true)])];
  m.declareExperiment(plan.policy, plan.name, names, sources);
  for (const g of plan.guards) m.declareGuard(plan.policy, plan.name, names[g.variant]);
}

// tandem_requests_total (the status the client got) and tandem_request_duration_seconds
// (the upstream's latency, when an upstream answered or failed) of a decided request.
// The reason: the decision's, or who answered when tandem did (the circuit breaker's
// fallback, a fault's abort), told by the answer header those plugins' exits carry
// (catalog ANSWER_HEADER), from the same serialize: no extra RPC.
function recordRequest(m: TandemMetrics, d: { config: string; variant?: number; reason?: number } | undefined, s: Record<string, unknown>, o: KongOutcome): void {
  const c = d && typeof d.variant === "number" && typeof d.reason === "number" ? configs.byTokenOf(d.config) : undefined;
  if (!d || !c) return;
  const plan = c.plan;
  const variant = plan.variants[d.variant as number]?.name ?? OTHER;
  const status = (s.response as { status?: unknown } | undefined)?.status;
  if (typeof status === "number") m.request(plan.policy, plan.name, variant, requestReasonIndex(d.reason as number, answeredByOf(s)), status);
  if (o.status > 0 || o.error !== BreakerError.none) m.latency(plan.policy, plan.name, variant, o.latencyMs);
}

export class Plugin {
  private readonly c: Configured;

  constructor(config: Record<string, unknown>) {
    this.c = configure(config);
  }

  async access(kong: ExperimentPDK): Promise<void> {
    const { plan, facts } = this.c;
    const f = await fetchFacts(kong, facts);
    const d = await decide(kong, plan, facts, f, Date.now());
    if (d.variant < 0) {
      // out of scope: only a client-sent copy needs removing (saves an RPC otherwise)
      if (f.headers[plan.variantHeader] !== undefined) await kong.service.request.clearHeader(plan.variantHeader);
      await clearClientTags(kong, f.headers);
    } else {
      const v = plan.variants[d.variant];
      await setDecisionHeaders(kong, plan, v.name, d.tags, f.headers);
      if (v.upstream !== null) await kong.service.setUpstream(v.upstream);
    }
    if (d.stripOverride) await kong.service.request.clearHeader(plan.overrideHeader!);
    if (d.setCookie !== null) await kong.response.addHeader("Set-Cookie", d.setCookie);
    if (d.expose !== null) await kong.response.addHeader(EXPOSE_HEADER, d.expose);
    const g = d.guard;
    const m = plan.metrics ? kongMetrics() : null;
    const logged = await sampleDecision(kong, plan, facts, f, d);
    if (m !== null && d.variant >= 0) {
      // Recorded from the decision the core made (no PDK call).
      const ks = getCore().lastKeySource(plan);
      m.assignment(plan.policy, plan.name, plan.variants[d.variant].name, sourceLabelIndex(ks >= 0 ? plan.sourceKinds[ks] : 0, ks < 0));
      if (g !== null) m.guard(plan.policy, plan.name, plan.variants[plan.guards[g.index].variant].name, g.state, false);
    }
    if (g !== null && g.tracked) {
      const carry: GuardCarry = { config: this.c.token, guard: g.index, flags: g.flags, generation: g.generation, ticket: outcomeLedger(PLUGIN).take(plan.policy, Date.now()) };
      if (m !== null) { carry.variant = d.variant; carry.reason = reasonLabelIndex(d.reason); }
      if (logged !== null) { carry.variant = d.variant; carry.log = logged; }
      await kong.log.setSerializeValue(GUARD_CARRY_FIELD, carry);
    } else if ((m !== null || logged !== null) && d.variant >= 0) {
      const carry: DecisionCarry = { config: this.c.token, variant: d.variant, ticket: outcomeLedger(PLUGIN).take(plan.policy, Date.now()) };
      if (m !== null) carry.reason = reasonLabelIndex(d.reason);
      if (logged !== null) carry.log = logged;
      await kong.log.setSerializeValue(DECISION_CARRY_FIELD, carry);
    }
  }

  // Canary guards: the outcome of a request a guard admitted and tracks.
  // With metrics on, also the request's outcome (serialize: one RPC, the same the
  // guards already make; a policy without guards makes it only with metrics on).
  async log(kong: ExperimentPDK): Promise<void> {
    const m = this.c.plan.metrics ? kongMetrics() : null;
    // Without guards and metrics, only the decision log needs the serialize, and only
    // while a sampled request's log is still due here (./decision-log.ts logAwaited).
    if (this.c.plan.guards.length === 0 && m === null && !logAwaited(this.c.plan, PLUGIN)) return;
    const s = JSON.parse(await kong.log.serialize() as unknown as string) as Record<string, unknown>;
    const tandem = s.tandem as { guard?: GuardCarry; decision?: DecisionCarry } | undefined;
    const carry = tandem?.guard;
    const back = carry ?? tandem?.decision;
    if (back) outcomeLedger(PLUGIN).settle(back.ticket, Date.now());
    const c = carry && typeof carry.guard === "number" ? configs.byTokenOf(carry.config) : undefined;
    const o = outcomeOf(s, getCore());
    // (no carry: not tracked; no configuration: admitted under one since replaced)
    if (carry && c) {
      const r = getCore().recordGuard(c.plan, carry.guard, carry.flags, carry.generation, o, Date.now());
      const v = c.plan.variants[c.plan.guards[carry.guard].variant].name;
      if (r.transition !== null) {
        process.stderr.write(`tandem: experiment guard of variant ${JSON.stringify(v)} -> ${r.state} (${r.transition})\n`);
      }
      m?.guard(c.plan.policy, c.plan.name, v, r.state, r.transition !== null && r.state === "open");
    }
    if (m !== null) recordRequest(m, carry ?? tandem?.decision, s, o);
    const sampled = back?.log !== undefined && typeof back.variant === "number" ? configs.byTokenOf(back.config) : undefined;
    if (sampled) writeDecisionLine(sampled.plan, back!.variant!, back!.log!, s, o);
    if (guardTraceOn()) writeGuardTrace(getCore().guardStates(this.c.plan));
  }
}
