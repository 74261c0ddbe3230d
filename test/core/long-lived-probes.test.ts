// Issue 18 item 3 on the core's side: a gateway that learns a call's outcome only when
// the request ends (Kong's log phase: probing "end") never admits a long-lived request
// (Upgrade, Accept: text/event-stream) as a half-open or guard probe; it passes without a
// permit and is not counted. A gateway deciding probes at the response headers (Envoy:
// "headers") lets any request probe. With the headers unread ("end-unread") a call that
// would probe asks for them first (needsFacts) and takes nothing.
import { describe, expect, it } from "vitest";
import { answerNeeds } from "../../core-js/answer-needs";
import type { BreakerPlan, TandemCore } from "../../core-js/tandem-core";
import { loadCore } from "../support/dist";

const core: TandemCore = loadCore();
const CFG = { key: "route", consecutiveFailures: 1, openDurationMs: 1000, halfOpen: { permittedCalls: 1, maxWaitMs: 5000 } };

function halfOpen(): BreakerPlan {
  const p = core.configureBreaker(JSON.stringify(CFG));
  const a = core.admitBreaker(p, [], 0, "end");
  core.recordBreaker(p, "", a.flags, a.generation, { status: 503, latencyMs: 1 }, 1);
  expect(core.breakerState(p, "")).toBe("open");
  return p;
}
const facts = (p: BreakerPlan, headers: Record<string, string>) => answerNeeds(p.needs, { headers });

describe("long-lived requests and half-open probes", () => {
  it("names the facts after the key's and the preflight test's: upgrade and accept", () => {
    const p = core.configureBreaker(JSON.stringify(CFG));
    expect(p.keyNeeds).toBe(2);
    expect(p.needs.map((n) => n.name)).toEqual(["access-control-request-method", "on-demand", "upgrade", "accept"]);
    const u = core.configureBreaker(JSON.stringify({ ...CFG, key: "header:x-tenant" }));
    expect(u.keyNeeds).toBe(3);
    expect(u.needs.map((n) => n.name)).toEqual(["x-tenant", "access-control-request-method", "on-demand", "upgrade", "accept"]);
  });

  for (const [what, headers] of [
    ["a WebSocket upgrade", { upgrade: "websocket", connection: "Upgrade" }],
    ["an event stream", { accept: "application/json, Text/Event-Stream;q=0.9" }],
  ] as const) {
    it(`"end": ${what} passes a half-open breaker without a permit; a plain request probes`, () => {
      const p = halfOpen();
      const s = core.admitBreaker(p, facts(p, headers), 1001, "end");
      expect(s).toMatchObject({ admitted: true, permitted: false, needsFacts: false, state: "half_open", transition: "open_elapsed" });
      expect(s.flags & 4).toBe(0);                         // not a probe
      const again = core.admitBreaker(p, facts(p, headers), 1002, "end");
      expect(again).toMatchObject({ admitted: true, permitted: false });   // not limited by permits
      const plain = core.admitBreaker(p, facts(p, { accept: "text/html" }), 1003, "end");
      expect(plain).toMatchObject({ admitted: true, permitted: true, state: "half_open" });
      expect(plain.flags & 4).toBe(4);
      // the permit is out: a plain request is rejected, a stream still passes
      expect(core.admitBreaker(p, facts(p, {}), 1004, "end")).toMatchObject({ admitted: false });
      expect(core.admitBreaker(p, facts(p, headers), 1004, "end")).toMatchObject({ admitted: true, permitted: false });
      const r = core.recordBreaker(p, "", plain.flags, plain.generation, { status: 200, latencyMs: 3 }, 1010);
      expect(r).toMatchObject({ state: "closed", transition: "probes_passed" });
      core.releaseBreaker(p);
    });

    it(`"headers": ${what} is a probe like any request`, () => {
      const p = halfOpen();
      const s = core.admitBreaker(p, facts(p, headers), 1001, "headers");
      expect(s).toMatchObject({ admitted: true, permitted: true, state: "half_open" });
      expect(s.flags & 4).toBe(4);
      core.releaseBreaker(p);
    });
  }

  it(`"end-unread": a call that would probe asks for the headers and takes nothing`, () => {
    const p = halfOpen();
    const a = core.admitBreaker(p, [], 1001, "end-unread");
    expect(a).toMatchObject({ needsFacts: true, admitted: false, permitted: false, state: "half_open", transition: "open_elapsed" });
    const b = core.admitBreaker(p, facts(p, {}), 1001, "end");
    expect(b).toMatchObject({ needsFacts: false, admitted: true, permitted: true, state: "half_open", transition: null });
    // the one permit is out: no more questions, a plain rejection
    expect(core.admitBreaker(p, [], 1002, "end-unread")).toMatchObject({ needsFacts: false, admitted: false });
    // closed: nothing to ask either
    core.recordBreaker(p, "", b.flags, b.generation, { status: 200, latencyMs: 1 }, 1003);
    expect(core.admitBreaker(p, [], 1004, "end-unread")).toMatchObject({ needsFacts: false, admitted: true, permitted: true });
    core.releaseBreaker(p);
  });
});

describe("long-lived requests and guard probes", () => {
  const EX = {
    name: "e", stickiness: { sources: ["header:x-user-id"] },
    variants: [{ name: "stable", weight: 0 }, { name: "canary", weight: 100, guard: { consecutiveFailures: 1, cooldownMs: 1000, halfOpen: { permittedCalls: 1 } } }],
  };
  it(`"end": an event stream reaches a half-open guard's variant without probing it`, () => {
    const plan = core.configureExperiment(JSON.stringify(EX));
    expect(plan.needs.map((n) => n.name)).toEqual(expect.arrayContaining(["upgrade", "accept"]));
    const f = (h: Record<string, string>) => answerNeeds(plan.needs, { headers: { "x-user-id": "u1", ...h } });
    const d0 = core.decideExperiment(plan, f({}), 0, "end");
    core.recordGuard(plan, d0.guard!.index, d0.guard!.flags, d0.guard!.generation, { status: 503, latencyMs: 1 }, 1);
    expect(core.decideExperiment(plan, f({}), 2, "end").variant).toBe(0);      // open: stable
    const s = core.decideExperiment(plan, f({ accept: "text/event-stream" }), 1001, "end");
    expect(s.variant).toBe(1);
    expect(s.guard).toMatchObject({ state: "half_open", tracked: false });
    const e = core.decideExperiment(plan, f({ accept: "text/event-stream" }), 1001, "headers");
    expect(e.guard).toMatchObject({ state: "half_open", tracked: true });   // Envoy: a probe
    core.release(plan);
  });
});
