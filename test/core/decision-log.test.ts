// The sampled decision log in the core (wasm/core/decision-log/): spec.experiment.decisionLog's
// checks, which requests are sampled (from the request id only), and the line itself.
import { describe, expect, it } from "vitest";
import { loadCore } from "../support/dist";
import { FactKind } from "../../core-js/tandem-core";
import { answerNeeds } from "../../core-js/answer-needs";
import { CHECKOUT } from "../support/policies";
import { ANSWERED_FALLBACK, ANSWERED_FAULT, ANSWERED_UPSTREAM } from "../../wasm/core/metrics/catalog";
import { REASON_RULE0, REASON_SPLIT } from "../../wasm/core/contract";

const core = loadCore();
const policy = (experiment: unknown) => JSON.stringify({ apiVersion: "tandem.dev/v1alpha1", kind: "TrafficPolicy", metadata: { name: "shop" }, spec: { experiment } });
const withLog = (decisionLog: unknown) => ({ ...CHECKOUT, decisionLog });

describe("decisionLog config", () => {
  const cases: Array<[unknown, string]> = [
    [{ percent: 101 }, "experiment.decisionLog.percent: must be between 0 and 100, got 101"],
    [{ percent: -1 }, "experiment.decisionLog.percent: must be between 0 and 100, got -1"],
    [{ percent: 0.125 }, "experiment.decisionLog.percent: must have at most 2 decimals, got 0.125"],
    [{ percent: "5" }, 'experiment.decisionLog.percent: must be a number, got "5"'],
    [{}, "experiment.decisionLog.percent: is required"],
    [{ percent: 5, rate: 1 }, "experiment.decisionLog.rate: unknown field (allowed: percent)"],
    [5, "experiment.decisionLog: must be an object, got 5"],
  ];
  for (const [dl, message] of cases) {
    it(`refuses ${JSON.stringify(dl)} in validate and in the plugin config alike`, () => {
      const v = core.validatePolicy(policy(withLog(dl)));
      expect(v).not.toBeNull();
      expect(v!.startsWith(message)).toBe(true);
      expect(() => core.configureExperiment(JSON.stringify(withLog(dl)))).toThrow(v!);
    });
  }

  it("accepts 0-100 with 2 decimals; absent is off", () => {
    expect(core.validatePolicy(policy(withLog({ percent: 12.5 })))).toBeNull();
    expect(core.configureExperiment(JSON.stringify(withLog({ percent: 12.34 }))).decisionLogBp).toBe(1234);
    expect(core.configureExperiment(JSON.stringify(withLog({ percent: 100 }))).decisionLogBp).toBe(10000);
    expect(core.configureExperiment(JSON.stringify(CHECKOUT)).decisionLogBp).toBe(0);
  });
});

describe("sampling", () => {
  const decide = (plan: ReturnType<typeof core.configureExperiment>, headers: Record<string, string>) =>
    core.decideExperiment(plan, answerNeeds(plan.needs, { headers }), 0);

  it("off: no request is sampled, and none asks for the request id", () => {
    const plan = core.configureExperiment(JSON.stringify(CHECKOUT));
    expect(decide(plan, { "x-user-id": "u1", "x-request-id": "r1" }).log).toBe(0);
    expect(decide(plan, { "x-user-id": "u1" }).log).toBe(0);
  });

  it("100%: every decided request, without its id; out of scope: never", () => {
    const plan = core.configureExperiment(JSON.stringify({ ...withLog({ percent: 100 }), scope: { pathPrefixes: ["/shop"] } }));
    const inScope = core.decideExperiment(plan, answerNeeds(plan.needs, { headers: { "x-user-id": "u1" }, path: "/shop/a" }), 0);
    expect(inScope.variant).toBeGreaterThanOrEqual(0);
    expect(inScope.log).toBe(1);
    const out = core.decideExperiment(plan, answerNeeds(plan.needs, { headers: { "x-user-id": "u1", "x-request-id": "r" }, path: "/other" }), 0);
    expect(out.variant).toBe(-1);
    expect(out.log).toBe(0);
  });

  it("a share: by request id alone, the same answer from the id passed later; no id: asks for it", () => {
    const plan = core.configureExperiment(JSON.stringify(withLog({ percent: 25 })));
    let sampled = 0;
    for (let i = 0; i < 4000; i++) {
      const id = `req-${i}`;
      const d = decide(plan, { "x-user-id": `u${i % 7}`, "x-request-id": id });
      expect(d.log === 0 || d.log === 1).toBe(true);
      // the user does not matter, the id does
      expect(decide(plan, { "x-user-id": "someone-else", "x-request-id": id }).log).toBe(d.log);
      expect(core.logSampled(plan, id)).toBe(d.log === 1);
      sampled += d.log;
    }
    expect(sampled).toBeGreaterThan(900);
    expect(sampled).toBeLessThan(1100);
    // a request without an id (Kong without x-request-id): the core asks for it
    const facts = answerNeeds(plan.needs, { headers: { "x-user-id": "u1" } });
    facts[plan.needs.findIndex((n) => n.kind === FactKind.Entropy)] = undefined;
    const d = core.decideExperiment(plan, facts, 0);
    expect(d.variant).toBeGreaterThanOrEqual(0);
    expect(d.log).toBe(2);
  });
});

describe("the line", () => {
  const plan = core.configureExperiment(JSON.stringify({ ...withLog({ percent: 100 }), policy: "shop", rules: [{ match: { header: { "x-beta": { exact: "1" } } }, variant: "canary" }] }));
  const parse = (line: string) => {
    expect(line.startsWith("tandem: decision {")).toBe(true);
    expect(line).not.toContain("\n");
    return JSON.parse(line.slice("tandem: decision ".length));
  };

  it("names every field, in order", () => {
    const line = core.decisionLine(plan, 1, REASON_SPLIT, 0, ANSWERED_UPSTREAM, 200, 12.4, "r-1");
    expect(line).toBe('tandem: decision {"policy":"shop","experiment":"checkout-v2","variant":"canary","reason":"split","rule":null,"source":"cookie","answered_by":"upstream","status":200,"code_class":"2xx","latency_ms":12,"request_id":"r-1"}');
  });

  it("a rule, a fallback, a fault, no upstream latency, no id, an unknown status", () => {
    expect(parse(core.decisionLine(plan, 1, REASON_RULE0, 4, ANSWERED_FALLBACK, 503, -1, null))).toEqual({
      policy: "shop", experiment: "checkout-v2", variant: "canary", reason: "rule", rule: 0, source: "issued", answered_by: "fallback",
      status: 503, code_class: "5xx", latency_ms: null, request_id: null,
    });
    const f = parse(core.decisionLine(plan, 0, REASON_SPLIT, 1, ANSWERED_FAULT, 0, 3, "x"));
    expect([f.answered_by, f.status, f.code_class, f.latency_ms, f.source]).toEqual(["fault", null, null, 3, "header"]);
  });

  it("no request id can break the line: quotes, backslashes, controls, invalid UTF-8, length", () => {
    for (const id of ['a"b\\c', "x\u0000y\u001f\u007f", '"},"variant":"evil', "é日本\u{1F600}", "\ud800", "z".repeat(5000)]) {
      const line = core.decisionLine(plan, 0, REASON_SPLIT, 0, ANSWERED_UPSTREAM, 200, 1, id);
      const o = parse(line);
      expect(o.variant).toBe("stable");
      expect(Object.keys(o)).toHaveLength(11);
      if (id.length < 100 && !id.includes("\ud800")) expect(o.request_id).toBe(id);
      expect(Buffer.byteLength(line)).toBeLessThan(1024);
    }
    // cut to 128 bytes, never inside a character
    const long = parse(core.decisionLine(plan, 0, REASON_SPLIT, 0, ANSWERED_UPSTREAM, 200, 1, "é".repeat(100))).request_id as string;
    expect(long).toBe("é".repeat(64));
    expect(parse(core.decisionLine(plan, 0, REASON_SPLIT, 0, ANSWERED_UPSTREAM, 200, 1, "a" + "é".repeat(100))).request_id).toBe("a" + "é".repeat(63));
    // a lone surrogate reaches the core as U+FFFD (TextEncoder), and stays one character
    expect(parse(core.decisionLine(plan, 0, REASON_SPLIT, 0, ANSWERED_UPSTREAM, 200, 1, "a\ud800b")).request_id).toBe("a\ufffdb");
  });
});
