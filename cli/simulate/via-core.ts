// `--via core`: the trace through the policy core alone, no gateway. It models one
// gateway's side (GatewayProfile, Kong by default: see ./result.ts) and does what the
// Kong plugins do, in their order: the experiment picks the variant (and rewrites the
// variant header the breaker then reads), the breaker admits or answers, the upstream
// answers as the trace line says, the breaker records the outcome.
//
// Time: the plugins see `t` as now when the request arrives; the upstream answers
// latencyMs later, when the outcome is recorded with latency latencyMs. A refused
// connection or a reset takes no time (the scripted upstreams answer them at once); a
// timeout takes latencyMs (the time until the gateway gave up).
import type { TandemCore, ExperimentPlan, BreakerPlan } from "../../plugins/core/tandem-core";
import { BreakerAnswer } from "../../plugins/core/tandem-core";
import { answerNeeds } from "../../plugins/core/answer-needs";
import { KONG_PROFILE, type GatewayProfile, type SimResult } from "./result";
import { normalizedHeaders, type TraceRequest } from "./trace";
import { breakerConfig, variantUpstreams } from "../render";
import type { PolicyDoc } from "../policy-file";

// The header a variant reroute sets (plugins/circuit-breaker, wasm/filter/breaker-filter.ts).
const VARIANT_HEADER = "x-tandem-variant";
const IDEMPOTENT = new Set(["GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"]);

export class CoreDriver {
  private readonly plan: ExperimentPlan | null;
  private readonly breaker: BreakerPlan | null;
  private readonly variantUpstreams: Record<string, string>;

  constructor(private readonly core: TandemCore, policy: PolicyDoc, private readonly profile: GatewayProfile = KONG_PROFILE) {
    this.plan = policy.spec.experiment ? core.configureExperiment(JSON.stringify(policy.spec.experiment)) : null;
    const cb = breakerConfig(policy);
    this.breaker = cb ? core.configureBreaker(JSON.stringify(cb)) : null;
    this.variantUpstreams = variantUpstreams(policy);
  }

  async run(r: TraceRequest): Promise<SimResult> {
    const res: SimResult = { variant: null, upstream: null, action: "forward", status: 0, breaker: null, setCookie: null };
    const h = normalizedHeaders(r);
    let variant: string | null = null;
    let upstream: string | null = null;
    if (this.plan) {
      const plan = this.plan;
      const facts = answerNeeds(plan.needs, { headers: h, path: r.path, method: r.method, ip: "127.0.0.1" });
      const d = this.core.decideExperiment(plan, facts, r.t);
      // What the request carries on to the breaker: the experiment's variant header
      // (the client's copy removed), no override header.
      delete h[plan.variantHeader];
      if (d.stripOverride && plan.overrideHeader) delete h[plan.overrideHeader];
      if (d.variant >= 0) {
        const v = plan.variants[d.variant];
        variant = v.name;
        upstream = v.upstream;
        h[plan.variantHeader] = v.name;
      }
      res.setCookie = d.setCookie;
    }
    const u = r.upstream;
    const p = this.profile;
    const upstreamStatus = u.error ? p.errorStatus[u.error] : (u.status as number);
    const b = this.breaker;
    if (!b) return { ...res, variant, upstream, status: upstreamStatus };

    const a = this.core.admitBreaker(b, answerNeeds(b.needs, { headers: h }), r.t);
    if (!a.admitted) {
      res.breaker = a.state;
      const f = b.fallback;
      if (a.answer === BreakerAnswer.Reroute && f) {
        // Kong: set_upstream to the variant's Upstream when it has one; Envoy: the
        // route on the variant / x-tandem-upstream header. Not tracked by the breaker.
        // The reported variant is the experiment's header as the upstream got it.
        if (f.variant !== null) {
          if (this.plan?.variantHeader === VARIANT_HEADER) variant = f.variant;
          upstream = this.variantUpstreams[f.variant] ?? upstream;
        } else upstream = f.upstream;
        return { ...res, action: "fallback", variant, upstream, status: upstreamStatus };
      }
      if (a.answer === BreakerAnswer.Respond && f) return { ...res, action: "fallback", status: f.status as number };
      return { ...res, action: "reject", status: b.reject.status };
    }
    res.variant = variant;
    res.upstream = upstream;
    res.status = upstreamStatus;
    res.breaker = a.state;
    if (a.permitted) {
      const latencyMs = u.error === "connect" || u.error === "reset" ? 0 : u.latencyMs ?? 0;
      const o = u.error ? { error: p.errorKind[u.error], latencyMs } : { status: u.status, latencyMs };
      const rec = this.core.recordBreaker(b, a.key, a.flags, a.generation, o, r.t + latencyMs);
      res.breaker = rec.state;
      const f = b.fallback;
      if (p.upstreamFailureFallback && f?.kind === "respond" && f.onUpstreamFailure && rec.outcome === 1 && IDEMPOTENT.has(r.method)) {
        res.action = "fallback";
        res.status = f.status as number;
      }
    }
    return res;
  }

  async close(): Promise<void> {
    if (this.plan) this.core.release(this.plan);
    if (this.breaker) this.core.releaseBreaker(this.breaker);
  }
}
