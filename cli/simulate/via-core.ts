// `--via core`: the trace through the policy core alone, no gateway.
import type { TandemCore, ExperimentPlan } from "../../plugins/core/tandem-core";
import { answerNeeds } from "../../plugins/core/answer-needs";
import { KONG_ERROR_STATUS, type SimResult } from "./result";
import { normalizedHeaders, type TraceRequest } from "./trace";
import type { PolicyDoc } from "../policy-file";

export class CoreDriver {
  private readonly plan: ExperimentPlan | null;

  constructor(private readonly core: TandemCore, policy: PolicyDoc) {
    this.plan = policy.spec.experiment ? core.configureExperiment(JSON.stringify(policy.spec.experiment)) : null;
  }

  async run(r: TraceRequest): Promise<SimResult> {
    const res: SimResult = { variant: null, upstream: null, action: "forward", status: 0, breaker: null, setCookie: null };
    if (this.plan) {
      const h = normalizedHeaders(r);
      const facts = answerNeeds(this.plan.needs, { headers: h, path: r.path, method: r.method, ip: "127.0.0.1" });
      const d = this.core.decideExperiment(this.plan, facts, r.t);
      if (d.variant >= 0) {
        const v = this.plan.variants[d.variant];
        res.variant = v.name;
        res.upstream = v.upstream;
      }
      res.setCookie = d.setCookie;
    }
    res.status = r.upstream.error ? KONG_ERROR_STATUS[r.upstream.error] : (r.upstream.status as number);
    return res;
  }

  async close(): Promise<void> {
    if (this.plan) this.core.release(this.plan);
  }
}
