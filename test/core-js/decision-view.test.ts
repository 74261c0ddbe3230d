// The experiment's lean decision (core-js/decision-view.ts, TandemCore.decideVariant /
// lastDecision): the variant from the call, every other field read on demand from the
// core's decision and guard areas, each equal to what decideExperiment's whole object
// says for the same request on a twin plan.
import { describe, expect, it } from "vitest";
import { answerNeeds } from "../../core-js/answer-needs";
import type { ExperimentDecision, ExperimentPlan } from "../../core-js/tandem-core";
import { loadCore } from "../support/dist";

const core = loadCore();

function lazily(variant: number): ExperimentDecision {
  const d = core.lastDecision;
  return { variant, setCookie: d.setCookie, reason: d.reason, stripOverride: d.stripOverride, expose: d.expose, guard: d.guard, tags: d.tags, log: d.log };
}

describe("decideVariant and lastDecision", () => {
  it("read field by field, say what decideExperiment's object says: texts, reason, tags, guard, log", () => {
    const cfg = JSON.stringify({
      name: "lean", exposeHeader: true, decisionLog: { percent: 100 },
      stickiness: { sources: ["header:x-user-id", "cookie:tandem-uid"], cookie: { name: "tandem-uid" } },
      variants: [{ name: "stable", weight: 50 }, { name: "canary", weight: 50, guard: { window: { type: "count", size: 10 }, minimumCalls: 4, failureRateThreshold: 50 } }],
      experiments: [{ name: "layout", variants: [{ name: "grid", weight: 50 }, { name: "list", weight: 50 }] }],
    });
    const whole = core.configureExperiment(cfg);
    const lean = core.configureExperiment(cfg);
    const requests: Array<Record<string, string>> = [
      { "x-user-id": "u-1" }, { "x-user-id": "ünïcødé-用户" }, { "x-request-id": "0f8fad5b-d9cb-469f-a165-70867728950e" },
      { cookie: "tandem-uid=abc" },
    ];
    let sawCookie = false, sawGuard = false;
    for (let i = 0; i < 40; i++) {
      const headers = i < requests.length ? requests[i] : { "x-user-id": `user-${i}` };
      const run = (p: ExperimentPlan) => answerNeeds(p.needs, { headers, requestId: "fixed-request-id" });
      const old = core.decideExperiment(whole, run(whole), 0);
      const v = core.decideVariant(lean, run(lean), 0);
      expect(lazily(v)).toEqual(old);
      expect(core.lastDecision.toDecision(v)).toEqual(old);
      sawCookie ||= old.setCookie !== null;
      sawGuard ||= old.guard !== null;
      expect(old.expose).toMatch(/; reason=/);
      expect(old.tags).toMatch(/^layout=(grid|list)$/);
    }
    // the cases the loop was for did come
    expect([sawCookie, sawGuard]).toEqual([true, true]);
    core.release(whole);
    core.release(lean);
  });
});
