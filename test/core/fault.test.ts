// Fault injection in the core (wasm/core/fault) through core-js: the config rules with
// their messages (the same from the plugin config and a whole policy), and the decision.
import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { CoreError, FAULT_WHY, FAULT_WHY_HEADER, FAULT_WHY_PERCENT, type FaultPlan, type TandemCore } from "../../core-js/tandem-core";
import { answerNeeds } from "../../core-js/answer-needs";
import { loadCore } from "../support/dist";

const core: TandemCore = loadCore();
const EXPERIMENT = {
  name: "checkout", variants: [{ name: "stable", weight: 90 }, { name: "canary", weight: 10, guard: { window: { type: "count", size: 10 }, minimumCalls: 5, failureRateThreshold: 50, to: "stable" } }],
};
const SECRET = "0123456789abcdef-game-day";

function pluginError(config: unknown): string {
  try {
    core.configureFaults(JSON.stringify(config));
  } catch (e) {
    expect(e).toBeInstanceOf(CoreError);
    return (e as Error).message;
  }
  return "";
}

function policyError(spec: Record<string, unknown>): string {
  return core.validatePolicy(JSON.stringify({ apiVersion: "tandem.dev/v1alpha1", kind: "TrafficPolicy", metadata: { name: "t" }, spec })) ?? "";
}

// The same message from the plugin config and from the whole policy.
function rejected(faults: unknown[], experiment: unknown = EXPERIMENT, breaker = false): string {
  const a = pluginError({ faults, ...(experiment ? { experiment } : {}), ...(breaker ? { hasBreaker: true } : {}) });
  const b = policyError({ faults, ...(experiment ? { experiment } : {}), ...(breaker ? { circuitBreaker: {} } : {}) });
  expect(b).toBe(a);
  return a;
}

describe("fault config: bad input, the same text from the plugin and the policy", () => {
  const delay = (d: unknown) => [{ delay: d }];
  it.each([
    [delay({ fixedMs: 100, percent: 100.5 }), "faults[0].delay.percent: must be between 0 and 100, got 100.5"],
    [delay({ fixedMs: 100, percent: -1 }), "faults[0].delay.percent: must be between 0 and 100, got -1"],
    [delay({ fixedMs: 100, percent: 10.125 }), "faults[0].delay.percent: must have at most 2 decimals, got 10.125"],
    [delay({ fixedMs: 30001, percent: 10 }), "faults[0].delay.fixedMs: must be between 0 and 30000, got 30001"],
    [delay({ percent: 10 }), "faults[0].delay.fixedMs: is required"],
    [delay({ fixedMs: 10 }), "faults[0].delay.percent: is required"],
    [[{ abort: { status: 199, percent: 1 } }], "faults[0].abort.status: must be between 200 and 599, got 199"],
    [[{ abort: { status: 600, percent: 1 } }], "faults[0].abort.status: must be between 200 and 599, got 600"],
    [[{ abort: { percent: 1 } }], "faults[0].abort.status: is required"],
    [[{ abort: { status: 503, percent: 1, body: "x".repeat(65537) } }], "faults[0].abort.body: must be at most 65536 bytes (UTF-8), got 65537 bytes"],
    [[{ abort: { status: 503, percent: 1, headers: { "content-length": "1" } } }], "faults[0].abort.headers.content-length: is set by the gateway"],
    [[{ variant: "nope", abort: { status: 503, percent: 1 } }], "faults[0].variant: must name one of the experiment's variants, got \"nope\""],
    [[{ by: "session", abort: { status: 503, percent: 1 } }], "faults[0].by: must be one of request, user, got \"session\""],
    [[{ scope: "world", abort: { status: 503, percent: 1 } }], "faults[0].scope: must be one of gateway, upstream, got \"world\""],
    [[{ name: "a" }], "faults[0]: must have at least one of delay, abort, control"],
    [[{ name: "a", delay: { fixedMs: 1, percent: 1 } }, { name: "a", delay: { fixedMs: 1, percent: 1 } }], "faults[1].name: must be unique, got \"a\""],
    [[{ maxActive: 0, delay: { fixedMs: 1, percent: 1 } }], "faults[0].maxActive: must be between 1 and 1000000, got 0"],
    [[{ start: "tomorrow", delay: { fixedMs: 1, percent: 1 } }], "faults[0].start: must be an RFC 3339 time like 2026-11-27T10:00:00Z, got \"tomorrow\""],
    [[{ start: "2026-12-06T10:00:00Z", end: "2026-12-06T09:00:00Z", delay: { fixedMs: 1, percent: 1 } }], "faults[0].end: must be after start, got \"2026-12-06T09:00:00Z\""],
    [[{ control: { secret: "short" } }], "faults[0].control.secret: must be at least 16 bytes, got 5"],
    [[{ control: { header: "x-tandem-variant", secret: SECRET } }], "faults[0].control.header: must differ from the experiment's variantHeader and override.header, got \"x-tandem-variant\""],
    [[{ control: { header: "Host", secret: SECRET } }], "faults[0].control.header: must not be a header the gateways own or tandem writes, got \"host\""],
    [[{ match: {}, delay: { fixedMs: 1, percent: 1 } }], "faults[0].match: must not be empty"],
    [[{ match: { path: { regex: "(" } }, delay: { fixedMs: 1, percent: 1 } }], "faults[0].match.path.regex: invalid regex: unbalanced parenthesis: missing ) at byte 0"],
    [[{ delay: { fixedMs: 1, percent: 1 }, surprise: 1 }], "faults[0].surprise: unknown field (allowed: name, match, variant, delay, abort, by, scope, control, maxActive, enabled, start, end)"],
  ])("%j -> %s", (faults, msg) => {
    expect(rejected(faults as unknown[])).toBe(msg);
  });

  it("variant and by: user need the experiment; scope: upstream needs a breaker or a guard to feed", () => {
    expect(rejected([{ variant: "canary", delay: { fixedMs: 1, percent: 1 } }], null)).toBe("faults[0].variant: needs spec.experiment");
    expect(rejected([{ by: "user", delay: { fixedMs: 1, percent: 1 } }], null)).toBe("faults[0].by: needs spec.experiment (its stickiness names the user)");
    const noGuard = { name: "e", variants: [{ name: "a", weight: 100 }] };
    expect(rejected([{ scope: "upstream", delay: { fixedMs: 1, percent: 1 } }], noGuard))
      .toBe("faults[0].scope: needs spec.circuitBreaker or a canary guard in spec.experiment to feed");
    expect(rejected([{ scope: "upstream", delay: { fixedMs: 1, percent: 1 } }], noGuard, true)).toBe("");
    expect(rejected([{ scope: "upstream", delay: { fixedMs: 1, percent: 1 } }])).toBe("");
  });

  it("accepts a full fault and describes it", () => {
    const p = core.configureFaults(JSON.stringify({
      experiment: EXPERIMENT,
      faults: [{ name: "slow-canary", variant: "canary", by: "user", scope: "upstream", delay: { fixedMs: 2000, percent: 10 }, abort: { status: 503, percent: 0.5, body: "injected", headers: { "X-Fault": "yes" } }, maxActive: 50, control: { secret: SECRET } }],
    }));
    expect(p.faults[0]).toEqual({
      name: "slow-canary", scope: "upstream", by: "user", delayMs: 2000, delayPercent: 10, abortStatus: 503, abortPercent: 0.5, maxActive: 50,
      reply: { body: "injected", contentType: "text/plain; charset=utf-8", headers: { "x-fault": "yes" } },
    });
    expect(p.strip).toEqual(["x-tandem-fault"]);
    expect(p.upstream).toBe(true);
    core.releaseFaults(p);
  });
});

function decide(plan: FaultPlan, headers: Record<string, string>, nowMs = 0, extra: { path?: string; method?: string } = {}) {
  return core.decideFault(plan, answerNeeds(plan.needs, { headers, ...extra, requestId: null }), nowMs);
}

function sign(msg: string): string {
  return `${msg}.${createHmac("sha256", SECRET).update(msg).digest("hex")}`;
}

describe("fault decision", () => {
  it("percent by request: reproducible per request id, about percent of ids", () => {
    const p = core.configureFaults(JSON.stringify({ faults: [{ delay: { fixedMs: 250, percent: 12.5 } }] }));
    let hit = 0;
    for (let i = 0; i < 10000; i++) {
      const h = { "x-request-id": `req-${i}` };
      const a = decide(p, h);
      expect(decide(p, h)).toEqual(a);
      if (a.fault === 0) { hit++; expect(a.delayMs).toBe(250); expect(a.reason).toBe(FAULT_WHY_PERCENT); }
    }
    expect(hit).toBeGreaterThan(1150);
    expect(hit).toBeLessThan(1350);
    // without a request id the coin cannot be tossed: the adapter asks for one
    expect(decide(p, {})).toMatchObject({ fault: -1, needsEntropy: true });
    core.releaseFaults(p);
  });

  it("0% never, 100% always without a request id; delay and abort have their own coins", () => {
    const p = core.configureFaults(JSON.stringify({ faults: [{ delay: { fixedMs: 5, percent: 0 }, abort: { status: 502, percent: 100 } }] }));
    expect(decide(p, {})).toMatchObject({ fault: 0, delayMs: null, abortStatus: 502, needsEntropy: false });
    core.releaseFaults(p);
    const q = core.configureFaults(JSON.stringify({ faults: [{ delay: { fixedMs: 5, percent: 50 }, abort: { status: 502, percent: 50 } }] }));
    const kinds = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const d = decide(q, { "x-request-id": `r${i}` });
      kinds.add(`${d.delayMs ?? "-"}/${d.abortStatus ?? "-"}`);
    }
    expect([...kinds].sort()).toEqual(["-/-", "-/502", "5/-", "5/502"]);
    core.releaseFaults(q);
  });

  it("by user: the same user every time, and a new user's coin is the one its minted cookie gets", () => {
    const ex = core.configureExperiment(JSON.stringify(EXPERIMENT));
    const p = core.configureFaults(JSON.stringify({ experiment: EXPERIMENT, faults: [{ by: "user", delay: { fixedMs: 9, percent: 30 } }] }));
    let same = 0;
    for (let i = 0; i < 300; i++) {
      const first = decide(p, { "x-request-id": `first-${i}` });
      const cookie = core.decideExperiment(ex, answerNeeds(ex.needs, { headers: { "x-request-id": `first-${i}` } }), 0).setCookie!.split(";")[0];
      const later = decide(p, { cookie, "x-request-id": `later-${i}` });
      const later2 = decide(p, { cookie, "x-request-id": `again-${i}` });
      expect(later.fault).toBe(first.fault);
      expect(later2.fault).toBe(first.fault);
      if (first.fault === 0) same++;
    }
    expect(same).toBeGreaterThan(60);
    expect(same).toBeLessThan(120);
    core.releaseFaults(p);
    core.release(ex);
  });

  it("first applying fault wins; match, variant, enabled, schedule say why the others did not", () => {
    const p = core.configureFaults(JSON.stringify({
      experiment: EXPERIMENT,
      faults: [
        { name: "off", enabled: false, abort: { status: 500, percent: 100 } },
        { name: "later", start: "2026-12-06T22:00:00Z", end: "2026-12-06T23:00:00Z", abort: { status: 501, percent: 100 } },
        { name: "api", match: { path: { prefix: "/api" } }, abort: { status: 502, percent: 100 } },
        { name: "canary", variant: "canary", abort: { status: 503, percent: 100 } },
      ],
    }));
    const t = Date.parse("2026-12-06T21:00:00Z");
    expect(decide(p, { "x-tandem-variant": "stable" }, t, { path: "/web" }).fault).toBe(-1);
    expect([0, 1, 2, 3].map((i) => FAULT_WHY[core.faultTrace(p, i).why])).toEqual(["disabled", "outside its schedule", "match does not hold", "another variant"]);
    expect(decide(p, { "x-tandem-variant": "canary" }, t, { path: "/web" })).toMatchObject({ fault: 3, abortStatus: 503 });
    expect(decide(p, { "x-tandem-variant": "canary" }, t, { path: "/api/x" })).toMatchObject({ fault: 2, abortStatus: 502 });
    expect(decide(p, {}, Date.parse("2026-12-06T22:30:00Z"), { path: "/api/x" })).toMatchObject({ fault: 1, abortStatus: 501 });
    expect(decide(p, {}, Date.parse("2026-12-06T23:00:00Z"), { path: "/api/x" })).toMatchObject({ fault: 2 });
    core.releaseFaults(p);
  });

  it("control header: a signed token injects exactly what it names; forged or unsigned ones nothing; stripped either way", () => {
    const p = core.configureFaults(JSON.stringify({ faults: [{ control: { secret: SECRET }, abort: { status: 500, percent: 0, body: "boom" } }] }));
    expect(decide(p, { "x-tandem-fault": sign("delay=2000") })).toMatchObject({ fault: 0, delayMs: 2000, abortStatus: null, reason: FAULT_WHY_HEADER, strip: true });
    expect(decide(p, { "x-tandem-fault": sign("abort=503") })).toMatchObject({ fault: 0, delayMs: null, abortStatus: 503, strip: true });
    const forged = sign("abort=503").replace(/.$/, (c) => (c === "0" ? "1" : "0"));
    for (const v of [forged, "abort=503", "abort=503.", sign("abort=700"), sign("delay=30001"), sign("slow=1"), sign("delay=-1")]) {
      expect(decide(p, { "x-tandem-fault": v, "x-request-id": "r" })).toMatchObject({ fault: -1, strip: true });
    }
    expect(decide(p, { "x-request-id": "r" })).toMatchObject({ fault: -1, strip: false });
    core.releaseFaults(p);
  });

  it("maxActive: the delay is skipped while the adapter counts that many in flight; an abort still applies", () => {
    const p = core.configureFaults(JSON.stringify({ faults: [{ maxActive: 2, delay: { fixedMs: 100, percent: 100 } }, { name: "b", abort: { status: 503, percent: 100 } }] }));
    expect(decide(p, {}).fault).toBe(0);
    expect(core.faultActive(p, 0, 1)).toBe(1);
    expect(core.faultActive(p, 0, 1)).toBe(2);
    const d = decide(p, {});
    expect(d).toMatchObject({ fault: 1, abortStatus: 503 });
    expect(FAULT_WHY[core.faultTrace(p, 0).why]).toBe("maxActive delays in flight");
    expect(core.faultActive(p, 0, -1)).toBe(1);
    expect(decide(p, {}).fault).toBe(0);
    core.releaseFaults(p);
  });
});
