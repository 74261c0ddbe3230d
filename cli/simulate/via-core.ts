// `--via core`: the trace through the policy core alone, no gateway. It models one
// gateway's side (GatewayProfile, Kong by default: see ./result.ts) and does what the
// Kong plugins do, in their order: the experiment picks the variant (and rewrites the
// variant header the breaker then reads), the breaker admits or answers, the upstream
// answers as the trace line says, the breaker records the outcome.
//
// Time: the plugins see `t` as now when the request arrives; the upstream answers
// latencyMs later, when the outcome is recorded with latency latencyMs. A refused
// connection or a reset takes no time (the scripted upstreams answer them at once); a
// timeout takes latencyMs (the time until the gateway gave up). A streamed answer
// (streamMs) ends streamMs after its first byte: its outcome (latency still the time to
// first byte) is recorded then, where the gateway learns it at the request's end (Kong's
// log phase; Envoy's on_log), or at the head for a probe Envoy decides there
// (GatewayProfile.probesAtHeaders).
import type { TandemCore, ExperimentPlan, ExperimentDecision, BreakerPlan, GuardAdmission, BreakerCall, CallOutcome } from "../../core-js/tandem-core";
import {
  BREAKER_PROBE, EFFECT_CACHE_FIRST, EFFECT_REROUTE, FactKind, FallbackKind, REPLY_REJECT, TAGS_HEADER, breakerReply,
  callAdmitted, callEffects, callFlags, callNeedsMethod, callPermitted, callPreflight, callTransition, outcomeStatus,
} from "../../core-js/tandem-core";
import { OUTCOME_FAILURE } from "../../wasm/core/contract";
import { answerNeeds } from "../../core-js/answer-needs";
import { KONG_PROFILE, type GatewayProfile, type SimResult } from "./result";
import { answerOf, envoyRequestId, normalizedHeaders, sentMethod, type HeaderValue, type TraceRequest, type TraceUpstream } from "./trace";
import { resolveTries, retryModel, type RetryModel } from "./retries";
import { DEFAULT_UPSTREAM } from "./scripted-upstream";
import { edgeRefusals } from "./edge";
import { kongPartConfig, partConfig } from "../policy-plan";
import { fallbackForm } from "../../plugins/circuit-breaker/fallback-form";
import type { PolicyDoc } from "../policy-file";
import { VARIANT_HEADER } from "../../core-js/tandem-core";
import type { FaultPlan } from "../../core-js/tandem-core";
import { faultField } from "../../plugins/fault-injection/trace";
import { KeyLabels, TandemMetrics } from "../../core-js/metrics";
import { canonicalMetrics } from "./metrics";
import {
  ANSWERED_FALLBACK, ANSWERED_FAULT, ANSWERED_UPSTREAM, reasonLabelIndex, requestReasonIndex, sourceLabelIndex,
} from "../../wasm/core/metrics/catalog";

// The fault the fault-injection plugin injected into a request; upstream: scope upstream.
interface Fault { delayMs: number | null; abortStatus: number | null; upstream: boolean }

// The outcome the breaker and the guards record for a call `f` stood in for (scope:
// upstream): an abort is the outcome, latency the delay; a delay adds to the upstream's
// latency (plugins/shared/outcome.ts, wasm/filter/fault-mark.ts).
function withUpstreamFault(o: CallOutcome, f: Fault | null | undefined): CallOutcome {
  if (!f || !f.upstream) return o;
  if (f.abortStatus !== null) return { status: f.abortStatus, latencyMs: f.delayMs ?? 0 };
  return { ...o, latencyMs: o.latencyMs + (f.delayMs ?? 0) };
}

// What the request carries on to the breaker after the experiment decided `d`: the
// experiment's variant header (the client's copy removed), no override header.
// Rewrites `h` (lowercase names). Also used by `tandem explain`.
export function carryToBreaker(plan: ExperimentPlan, d: ExperimentDecision, h: Record<string, HeaderValue>): Record<string, HeaderValue> {
  delete h[plan.variantHeader];
  if (d.stripOverride && plan.overrideHeader) delete h[plan.overrideHeader];
  if (d.variant >= 0) h[plan.variantHeader] = plan.variants[d.variant].name;
  delete h[TAGS_HEADER];
  if (d.tags !== null) h[TAGS_HEADER] = d.tags;
  return h;
}

// The gateway answered itself: no request went upstream, so no tags did either.
function answered(r: SimResult): SimResult {
  return r.tags === undefined ? r : { ...r, tags: null };
}

// What the gateway records of an upstream's answer: status or transport error (as the
// gateway tells them apart), latency to the first byte (a refused connection or a
// reset takes none; a timeout the time until the gateway gave up).
// A gRPC answer's grpc-status counts where the gateway sees it: in the headers of a
// trailers-only reply on both; in real trailers only on Envoy (GatewayProfile), and
// there not for a probe, which Envoy decides at the response headers (`probe`: the
// admission's flags have BREAKER_PROBE; wasm/filter/outcome.ts outcomeAtHeaders).
// Under retries `u` is the last try's answer and `priorMs` what the tries before it took:
// the request's latency runs from the first try's start (wasm/core/breaker/tries.ts).
function outcome(u: TraceUpstream, p: GatewayProfile, probe = false): CallOutcome {
  const latencyMs = (u.priorMs ?? 0) + (u.error === "connect" || u.error === "reset" ? 0 : u.latencyMs ?? 0);
  if (u.error) return { error: p.errorKind[u.error], latencyMs };
  const grpcSeen = u.grpcStatus !== undefined && (!u.trailers || (p.seesGrpcTrailers && !probe));
  return { status: u.status, latencyMs, grpcStatus: grpcSeen ? u.grpcStatus : null };
}

// The head the scripted upstream sends (scripted-upstream.ts): content-type (text/plain
// unless the trace sets one), the trace's headers (a list: one field per copy), and the
// length Node frames the body with.
function answerHeaders(u: TraceUpstream): Array<[string, string]> {
  const hs = { "content-type": "text/plain", ...(u.headers ?? {}) };
  const out: Array<[string, string]> = [];
  for (const [k, v] of Object.entries(hs)) for (const c of Array.isArray(v) ? v : [v]) out.push([k, c]);
  out.push(["content-length", String(Buffer.byteLength(u.body ?? "ok", "utf8"))]);
  return out;
}

export class CoreDriver {
  readonly plan: ExperimentPlan | null;     // tandem explain reads its guards after a replay
  readonly breaker: BreakerPlan | null;   // tandem explain reads its states after a replay
  readonly faults: FaultPlan | null;      // spec.faults (the fault-injection plugin)

  // `tandem simulate --metrics`: what a Kong plugin server records (core-js/metrics.ts),
  // from the same core calls.
  private readonly keyLabels: KeyLabels | null;

  constructor(private readonly core: TandemCore, policy: PolicyDoc, private readonly profile: GatewayProfile = KONG_PROFILE,
    readonly metrics: TandemMetrics | null = null) {
    const ex = partConfig(policy, "experiment");
    this.plan = ex ? core.configureExperiment(JSON.stringify(ex)) : null;
    // Configured as Kong's copy is, with each variant's upstream: the core resolves a
    // reroute's upstream from it (wasm/core/breaker/reroute.ts); Envoy's route table on
    // the variant header picks the same one.
    // (the plan's Kong copy, its list fallback back under `fallback`: what the Kong plugin
    // hands the core, plugins/circuit-breaker/handler.ts)
    const cb = kongPartConfig(policy, "circuit-breaker");
    this.breaker = cb ? core.configureBreaker(JSON.stringify(fallbackForm(cb))) : null;
    const fc = partConfig(policy, "fault-injection");
    this.faults = fc ? core.configureFaults(JSON.stringify(fc)) : null;
    this.keyLabels = this.breaker ? new KeyLabels(Number(this.breaker.settings.maxKeys)) : null;
    this.retry = retryModel(policy, profile.gateway);
  }

  // The modelled gateway's retries (spec.retries as `tandem render` writes them for it).
  private readonly retry: RetryModel;

  // The answer the request ends with from upstream `name`, after the gateway's retries:
  // the last try's, priorMs the earlier tries and backoffs (./retries.ts).
  private answer(r: TraceRequest, name: string): TraceUpstream {
    const x = resolveTries(answerOf(r, name), this.retry, sentMethod(r));
    return { ...x.answer, priorMs: x.priorMs };
  }

  // `c`: the core's lastCall, right after the call.
  private breakerMetrics(key: string, c: Pick<BreakerCall, "transition" | "prevState" | "state">): void {
    const m = this.metrics;
    const b = this.breaker;
    if (!m || !b) return;
    if (c.transition !== null) m.breakerTransition(b.policy, this.keyLabels!.label(key), c.prevState, c.state);
  }

  // The outcome of the admission (flags, generation, ticket) of `key`, through the core's
  // lean record (TandemCore.recordCall); the core's state after it and the outcome.
  private recordOutcome(b: BreakerPlan, key: string, flags: number, generation: number, ticket: number, o: CallOutcome, nowMs: number): { state: BreakerCall["state"]; outcome: number } {
    const outcome = this.core.recordCall(b, ticket, flags, generation, outcomeStatus(o), o.error ?? 0, o.latencyMs, nowMs, key);
    const last = this.core.lastCall;
    this.breakerMetrics(key, last);
    return { state: last.state, outcome };
  }

  // The fault-injection plugin (after experiment and breaker, on the headers they left):
  // the fault it injects, null none. Delays are on virtual time: one request at a time,
  // none is in flight when the next arrives (maxActive never binds here).
  private fault(r: TraceRequest, h: Record<string, HeaderValue>): Fault | null {
    const plan = this.faults;
    if (!plan) return null;
    const facts = answerNeeds(plan.needs, { headers: h, path: r.path, method: sentMethod(r), ip: "127.0.0.1" });
    const d = this.core.decideFault(plan, facts, r.t);
    if (this.metrics && d.fault >= 0) {
      if (d.delayMs !== null) this.metrics.fault(plan.policy, "delay");
      if (d.abortStatus !== null) this.metrics.fault(plan.policy, "abort");
    }
    return d.fault < 0 ? null : { delayMs: d.delayMs, abortStatus: d.abortStatus, upstream: plan.faults[d.fault].scope === "upstream" };
  }

  // The result with the fault applied: an abort answers instead of the upstream (the
  // breaker and guards see no upstream call), a delay adds to the client's wait.
  private withFault(res: SimResult, r: TraceRequest, f: Fault | null, reached: boolean, upstream: string | null): SimResult {
    if (!this.faults) return res;
    const delay = f?.delayMs ?? 0;
    if (f?.abortStatus != null) return answered({ ...res, upstream: null, action: "abort", status: f.abortStatus, fault: faultField(f.delayMs, f.abortStatus), latencyMs: delay });
    const u = reached ? outcome(this.answer(r, upstream ?? DEFAULT_UPSTREAM), this.profile).latencyMs : 0;
    return { ...res, fault: f ? faultField(f.delayMs, null) : null, latencyMs: delay + u };
  }

  async run(r: TraceRequest): Promise<SimResult> {
    const refused = edgeRefusals(r);
    const res = await this.decide(r, refused?.[this.profile.gateway]);
    return refused ? { ...res, refused } : res;
  }

  // The modelled gateway refused the request at its edge (`status`): no plugin ran.
  private refusedLine(status: number): SimResult {
    const res: SimResult = { variant: null, upstream: null, action: "refused", status, breaker: null, setCookie: null };
    if (this.breaker?.fallback?.cache) res.cache = null;
    if (this.plan && this.plan.tags.length > 0) res.tags = null;
    if (this.plan && this.plan.guards.length > 0) res.guards = this.core.guardStates(this.plan);
    return res;
  }

  private async decide(r: TraceRequest, refusedWith: number | undefined): Promise<SimResult> {
    if (refusedWith !== undefined) return this.refusedLine(refusedWith);
    const res: SimResult = { variant: null, upstream: null, action: "forward", status: 0, breaker: null, setCookie: null };
    if (this.breaker?.fallback?.cache) res.cache = null;
    const h = normalizedHeaders(r);
    if (this.profile.edgeRequestId) h["x-request-id"] = envoyRequestId(r.line);
    let variant: string | null = null;
    let upstream: string | null = null;
    let guard: GuardAdmission | null = null;
    let decided: { variant: string; reason: number } | null = null;
    let logged: { variant: number; reason: number; source: number; id: string | null } | null = null;
    if (this.plan) {
      const plan = this.plan;
      const facts = answerNeeds(plan.needs, { headers: h, path: r.path, method: sentMethod(r), ip: "127.0.0.1" });
      const d = this.core.decideExperiment(plan, facts, r.t, this.profile.probesAtHeaders ? "headers" : "end");
      carryToBreaker(plan, d, h);
      if (d.variant >= 0 && d.log === 1) {
        // sampled by the decision log (the id: x-request-id, else the entropy the Kong
        // plugin would fetch, here drawn by answerNeeds)
        const ks = this.core.lastKeySource(plan);
        const id = facts[plan.needs.findIndex((n) => n.kind === FactKind.Entropy)];
        logged = { variant: d.variant, reason: d.reason, source: sourceLabelIndex(ks >= 0 ? plan.sourceKinds[ks] : 0, ks < 0), id: id ?? null };
      }
      if (d.variant >= 0) {
        const v = plan.variants[d.variant];
        variant = v.name;
        upstream = v.upstream;
        if (this.metrics && plan.metrics) {
          const ks = this.core.lastKeySource(plan);
          this.metrics.assignment(plan.policy, plan.name, v.name, sourceLabelIndex(ks >= 0 ? plan.sourceKinds[ks] : 0, ks < 0));
          if (d.guard !== null) this.metrics.guard(plan.policy, plan.name, plan.variants[plan.guards[d.guard.index].variant].name, d.guard.state, false);
          decided = { variant: v.name, reason: reasonLabelIndex(d.reason) };
        }
      }
      res.setCookie = d.setCookie;
      if (plan.tags.length > 0) res.tags = d.tags;
      guard = d.guard;
    }
    const out = this.breakerStep(r, h, res, variant, upstream);
    let reached = out.reached;
    if (this.faults) {
      // (undefined: the fault plugin never saw the request: the breaker answered it)
      const aborted = out.fault?.abortStatus != null;
      out.res = this.withFault(out.res, r, out.fault ?? null, !aborted && reached !== undefined, reached ?? null);
      if (aborted) reached = undefined;
    }
    // The canary guard counts the outcome of the upstream the request reached (none:
    // answered before any upstream, which the guard ignores, as both gateways do), or
    // of the fault that stood in for it.
    if (guard !== null && guard.tracked && this.plan) {
      const u = reached !== undefined ? this.answer(r, reached ?? DEFAULT_UPSTREAM) : null;
      const o = withUpstreamFault(u === null ? { status: 0, latencyMs: 0 } : outcome(u, this.profile, (guard.flags & BREAKER_PROBE) !== 0), out.fault);
      const atHead = this.profile.probesAtHeaders && (guard.flags & BREAKER_PROBE) !== 0;
      const g = this.core.recordGuard(this.plan, guard.index, guard.flags, guard.generation, o, r.t + o.latencyMs + (atHead ? 0 : u?.streamMs ?? 0));
      if (this.metrics && this.plan.metrics) {
        const p = this.plan;
        this.metrics.guard(p.policy, p.name, p.variants[p.guards[guard.index].variant].name, g.state, g.transition !== null && g.state === "open");
      }
    }
    if (this.metrics && this.plan && decided) {
      // The status the client got; the upstream's latency when one answered or failed
      // (a fault with scope upstream stands in for it), as the Kong plugin's log phase.
      // The reason: who answered when tandem did (a fault's abort, the breaker's fallback:
      // `by`), else the decision's, as the core decides it for both gateways.
      const p = this.plan;
      const by = out.res.action === "abort" ? ANSWERED_FAULT : out.by ?? ANSWERED_UPSTREAM;
      this.metrics.request(p.policy, p.name, decided.variant, requestReasonIndex(decided.reason, by), out.res.status);
      const u = reached !== undefined ? this.answer(r, reached ?? DEFAULT_UPSTREAM) : null;
      const o = withUpstreamFault(u === null ? { status: 0, latencyMs: 0 } : outcome(u, this.profile), out.fault);
      if ((o.status ?? 0) > 0 || (o.error ?? 0) !== 0) this.metrics.latency(p.policy, p.name, decided.variant, o.latencyMs);
    }
    if (this.plan && logged) {
      // The decision log's line, from what the Kong plugin's log phase has (as the
      // metrics above): the status the client got, the upstream's latency when one
      // answered or failed, who answered.
      const by = out.res.action === "abort" ? ANSWERED_FAULT : out.by ?? ANSWERED_UPSTREAM;
      const u = reached !== undefined ? this.answer(r, reached ?? DEFAULT_UPSTREAM) : null;
      const o = withUpstreamFault(u === null ? { status: 0, latencyMs: 0 } : outcome(u, this.profile), out.fault);
      const latency = (o.status ?? 0) > 0 || (o.error ?? 0) !== 0 ? o.latencyMs : -1;
      this.decisions.push(this.core.decisionLine(this.plan, logged.variant, logged.reason, logged.source, by, out.res.status, latency, logged.id));
    }
    if (this.plan && this.plan.guards.length > 0) out.res.guards = this.core.guardStates(this.plan);
    return out.res;
  }

  // The circuit breaker's part, and which upstream the request reached (null: the
  // default; undefined: none, the gateway answered). `by`: ANSWERED_FALLBACK when the
  // breaker's fallback (respond, cache) or its default rejection answered (a reroute is
  // answered by an upstream).
  private breakerStep(r: TraceRequest, h: Record<string, HeaderValue>, res: SimResult, variant: string | null,
    upstream: string | null): { res: SimResult; reached?: string | null; fault?: Fault | null; by?: number } {
    const p = this.profile;
    // A gRPC request: tandem's own answers are trailers-only 200s on both gateways
    // (wasm/core/request/grpc.ts); the gateway's own answer to a failed upstream is
    // Envoy's 200 + grpc-status 14, Kong's 502/504 (GatewayProfile.grpcErrorStatus).
    const ct = h["content-type"];
    const grpc = this.core.isGrpc(Array.isArray(ct) ? ct[0] : ct);
    const statusOf = (x: TraceUpstream) => (x.error ? (grpc && p.grpcErrorStatus !== null ? p.grpcErrorStatus : p.errorStatus[x.error]) : (x.status as number));
    const own = (status: number) => (grpc ? 200 : status);
    const u = this.answer(r, upstream ?? DEFAULT_UPSTREAM);
    const upstreamStatus = statusOf(u);
    const b = this.breaker;
    if (!b) return { res: { ...res, variant, upstream, status: upstreamStatus }, reached: upstream, fault: this.fault(r, h) };

    // The cache fallback, where the modelled gateway serves it (GatewayProfile.servesCache):
    // the request's key (null: not cached), looked up when a case it covers comes.
    const cp = b.fallback?.cache;
    const key = cp && p.servesCache ? this.core.cacheKey(b, answerNeeds(b.needs, { headers: h, path: r.path, method: sentMethod(r) })).key : null;
    // Each case the cache covers counts a lookup (tandem_cache_lookups_total): a hit, or a
    // miss (a request the cache does not take included), as both gateways count them.
    const fromCache = (covers: boolean, now: number) => {
      if (!cp || !covers) return null;
      const hit = key ? this.core.cacheLookup(b, key, now) : null;
      this.metrics?.cacheLookup(b.policy, hit !== null);
      return hit && { status: hit.status, cache: { age: Number(hit.headers.find(([n]) => n === "age")?.[1] ?? 0) } };
    };
    // The core's lean admission (core-js/breaker-call.ts): what this step uses of it is
    // read from core.lastCall at once (the fault and cache calls below come between).
    const c = this.core.admitCall(b, answerNeeds(b.needs, { headers: h, method: sentMethod(r) }), r.t, p.probesAtHeaders ? "headers" : "end");
    // A CORS preflight passes the breaker untouched (wasm/core/request/preflight.ts).
    if (callPreflight(c)) return { res: { ...res, variant, upstream, status: upstreamStatus, breaker: null }, reached: upstream, fault: this.fault(r, h) };
    const last = this.core.lastCall;
    const bkey = last.key;
    // (the method is always among these facts: a pass for it cannot come; if it did, the
    // request would pass as admitted and not counted, the key's state as it is)
    const needsMethod = callNeedsMethod(c);
    const admitted = needsMethod || callAdmitted(c);
    const permitted = !needsMethod && callPermitted(c);
    const flags = callFlags(c);
    const generation = last.generation;
    const ticket = last.ticket;
    const state = needsMethod ? this.core.breakerState(b, bkey) ?? "closed" : last.state;
    const effects = needsMethod ? 0 : callEffects(c);
    const replyNo = last.reply;
    if (callTransition(c)) this.breakerMetrics(bkey, last);
    if (!admitted && this.metrics) this.metrics.breakerRejection(b.policy, this.keyLabels!.label(bkey));
    if (!admitted) {
      // The core's effects (wasm/core/contract.ts EFFECT_*), applied in order.
      res.breaker = state;
      const hit = fromCache((effects & EFFECT_CACHE_FIRST) !== 0, r.t);
      if (hit) return { res: answered({ ...res, variant, action: "fallback", ...hit }), by: ANSWERED_FALLBACK };
      if ((effects & EFFECT_REROUTE) !== 0) {
        // The core's reroute: the variant header to set, the upstream to choose (none:
        // the request's). Not tracked by the breaker. The reported variant is the
        // experiment's header as the upstream got it.
        const rr = b.reroute!;
        if (rr.variant !== null && this.plan?.variantHeader === VARIANT_HEADER) variant = rr.variant;
        upstream = rr.upstream ?? upstream;
        return { res: { ...res, action: "fallback", variant, upstream, status: statusOf(this.answer(r, upstream ?? DEFAULT_UPSTREAM)) }, reached: upstream };
      }
      // A local reply, before any upstream: the variant is the experiment's (the
      // request's variant header as an access log shows it), no upstream.
      const reply = breakerReply(b, replyNo);
      return { res: answered({ ...res, variant, action: replyNo === REPLY_REJECT ? "reject" : "fallback", status: own(reply.status) }), by: ANSWERED_FALLBACK };
    }
    res.variant = variant;
    res.upstream = upstream;
    res.status = upstreamStatus;
    res.breaker = state;
    const fault = this.fault(r, h);
    if (fault?.abortStatus != null) {
      // answered by a later plugin before any upstream: the breaker records nothing
      if (permitted) {
        const rec = this.recordOutcome(b, bkey, flags, generation, ticket, withUpstreamFault({ status: 0, latencyMs: 0 }, fault), r.t);
        res.breaker = rec.state;
      }
      return { res, fault };
    }
    if (permitted) {
      const o = withUpstreamFault(outcome(u, p, (flags & BREAKER_PROBE) !== 0), fault);
      const atHead = p.probesAtHeaders && (flags & BREAKER_PROBE) !== 0;
      const rec = this.recordOutcome(b, bkey, flags, generation, ticket, o, r.t + o.latencyMs + (atHead ? 0 : u.streamMs ?? 0));
      res.breaker = rec.state;
      const f = b.fallback;
      // A failed call: the cache first (Envoy: the filter's local reply replaces the
      // answer, straight to the codec, so no Set-Cookie), else the respond fallback.
      const hit = rec.outcome === OUTCOME_FAILURE && p.upstreamFailureFallback ? fromCache(cp?.on.includes("upstreamFailure") ?? false, r.t + o.latencyMs) : null;
      if (hit) return { res: { ...res, action: "fallback", ...hit, setCookie: null }, reached: upstream, fault, by: ANSWERED_FALLBACK };
      if (p.upstreamFailureFallback && f && this.core.fallbackOnOutcome(b, rec.outcome, sentMethod(r)) === FallbackKind.Respond) {
        // Envoy: the circuit-breaker filter's reply replaces the upstream's answer or the
        // router's own 503/504 before any header reached the codec, and goes straight to
        // it (FilterManager::sendDirectLocalReply): the experiment filter, earlier in the
        // chain, never sees the response, so its Set-Cookie is not sent.
        res.action = "fallback";
        res.status = own(f.status as number);
        res.setCookie = null;
        return { res, reached: upstream, fault, by: ANSWERED_FALLBACK };
      }
    }
    // The upstream's answer, stored if the core's rules take it (at its arrival).
    if (key && !u.error && u.grpcStatus === undefined) {
      const body = sentMethod(r) === "HEAD" ? Buffer.alloc(0) : Buffer.from(u.body ?? "ok", "utf8");
      this.core.cacheStore(b, key, u.status as number, answerHeaders(u), body, r.t + (u.priorMs ?? 0) + (u.latencyMs ?? 0));
    }
    return { res, reached: upstream, fault };
  }

  // --decisions: the lines, in request order (./decisions.ts)
  private readonly decisions: string[] = [];
  async decisionLines(): Promise<string[]> {
    return this.decisions;
  }

  async metricsText(): Promise<string> {
    return this.metrics ? canonicalMetrics([await this.metrics.text()], false) : "";
  }

  async close(): Promise<void> {
    if (this.plan) this.core.release(this.plan);
    if (this.breaker) this.core.releaseBreaker(this.breaker);
    if (this.faults) this.core.releaseFaults(this.faults);
  }
}
