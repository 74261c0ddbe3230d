// The experiment's lean decision in the Node binding (TandemCore.decideVariant): the
// variant index comes back from the one call into the core, and the rest of the
// decision (Set-Cookie, x-tandem-decision, x-tandem-experiments, the reason, the canary
// guard consulted, the decision log's answer) is read from the core's decision and guard
// areas only when asked, through DecisionView. A caller that wants the variant alone (a
// Node service bucketing users, as the GrowthBook and Unleash SDKs do) builds no object
// (issue 17, peers.bucketRatio / unleashRatio).
import {
  D_COOKIE_LEN, D_EXPOSE_LEN, D_LOG, D_REASON, D_STRIP, D_TAGS_LEN, D_TEXT,
  G_FLAGS, G_GENERATION, G_GUARD, G_STATE, G_TRACKED,
} from "../wasm/core/contract";
import { STATE_NAMES } from "../wasm/core/contract-names";
import type { BreakerStateName, ExperimentDecision, ExperimentPlan, GuardAdmission } from "./tandem-core";

// What the view reads through: the core's memory as i32 (fresh after a call that may
// have grown it) and UTF-8 text at an address.
export interface DecisionSource {
  view(): Int32Array;
  text(p: number, n: number): string;
}

const STATES = STATE_NAMES as readonly BreakerStateName[];

// The last decision of one core, field by field: valid until its next decision.
export class DecisionView {
  plan: ExperimentPlan | null = null;   // the plan of the last decision

  constructor(private readonly src: DecisionSource, private readonly at: number, private readonly guardAt: number) {}

  private slot(i: number): number { return this.src.view()[this.at + i]; }

  get reason(): number { return this.slot(D_REASON); }
  get stripOverride(): boolean { return this.slot(D_STRIP) === 1; }
  get log(): number { return this.slot(D_LOG); }
  // The texts, one after another at D_TEXT: Set-Cookie, x-tandem-decision, x-tandem-experiments.
  get setCookie(): string | null {
    const v = this.src.view();
    const n = v[this.at + D_COOKIE_LEN];
    return n > 0 ? this.src.text(v[this.at + D_TEXT] >>> 0, n) : null;
  }
  get expose(): string | null {
    const v = this.src.view();
    const n = v[this.at + D_EXPOSE_LEN];
    return this.plan !== null && this.plan.expose && n > 0 ? this.src.text((v[this.at + D_TEXT] >>> 0) + v[this.at + D_COOKIE_LEN], n) : null;
  }
  get tags(): string | null {
    const v = this.src.view();
    const n = v[this.at + D_TAGS_LEN];
    const p = (v[this.at + D_TEXT] >>> 0) + v[this.at + D_COOKIE_LEN] + v[this.at + D_EXPOSE_LEN];
    return this.plan !== null && this.plan.tags.length > 0 && n > 0 ? this.src.text(p, n) : null;
  }
  get guard(): GuardAdmission | null {
    if (this.plan === null || this.plan.guards.length === 0) return null;
    const v = this.src.view();
    const g = this.guardAt;
    if (v[g + G_GUARD] < 0) return null;
    return { index: v[g + G_GUARD], flags: v[g + G_FLAGS], generation: v[g + G_GENERATION] >>> 0, state: STATES[v[g + G_STATE]], tracked: v[g + G_TRACKED] === 1 };
  }

  // The whole decision (TandemCore.decideExperiment) of variant `variant`.
  toDecision(variant: number): ExperimentDecision {
    return { variant, setCookie: this.setCookie, reason: this.reason, stripOverride: this.stripOverride, expose: this.expose, guard: this.guard, tags: this.tags, log: this.log };
  }
}
