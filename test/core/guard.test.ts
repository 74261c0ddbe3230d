// Canary guards (wasm/core/guard/guard.ts, config/guard.ts) through the core alone: config
// rules and texts, rollback and recovery on virtual time, what bypasses a guard.
import { describe, expect, it } from "vitest";
import { loadCore } from "../support/dist";
import type { ExperimentPlan } from "../../core-js/tandem-core";
import { answerNeeds } from "../../core-js/answer-needs";

const core = loadCore();

const GUARD = { window: { type: "count", size: 10 }, minimumCalls: 4, failureRateThreshold: 50, cooldownMs: 1000, halfOpen: { permittedCalls: 2 } };

function experiment(guard: Record<string, unknown> | null, extra: Record<string, unknown> = {}) {
  return {
    name: "exp",
    stickiness: { sources: ["header:x-user-id"] },
    variants: [{ name: "stable", weight: 50 }, { name: "canary", weight: 50, ...(guard ? { guard } : {}) }],
    ...extra,
  };
}

function configError(cfg: unknown): string {
  try {
    core.release(core.configureExperiment(JSON.stringify(cfg)));
    return "";
  } catch (e) {
    return (e as Error).message;
  }
}

describe("guard config", () => {
  it("accepts a guard and reports it in the plan", () => {
    const plan = core.configureExperiment(JSON.stringify(experiment(GUARD)));
    expect(plan.guards).toEqual([{ variant: 1, to: 0, mode: "enforce" }]);
    expect(plan.clock).toBe(true);     // decisions now depend on the adapter's clock
    core.release(plan);
    const plain = core.configureExperiment(JSON.stringify(experiment(null)));
    expect(plain.guards).toEqual([]);
    expect(plain.clock).toBe(false);
    core.release(plain);
  });

  it.each([
    [{ ...GUARD, to: "nope" }, 'experiment.variants[1].guard.to: must name one of the experiment\'s variants, got "nope"'],
    [{ ...GUARD, to: "canary" }, 'experiment.variants[1].guard.to: must name another variant, one without a guard, got "canary"'],
    [{ ...GUARD, cooldownMs: 0 }, "experiment.variants[1].guard.cooldownMs: must be between 1 and 86400000, got 0"],
    [{ ...GUARD, failureRateThreshold: 101 }, "experiment.variants[1].guard.failureRateThreshold: must be between 0 and 100, got 101"],
    [{ ...GUARD, window: { type: "count", size: 0 } }, "experiment.variants[1].guard.window.size: must be between 1 and 10000, got 0"],
    [{ ...GUARD, halfOpen: { permittedCalls: 0 } }, "experiment.variants[1].guard.halfOpen.permittedCalls: must be between 1 and 1000, got 0"],
    [{ ...GUARD, failure: { statuses: ["6xx"] } }, 'experiment.variants[1].guard.failure.statuses[0]: must be a status code 100-599 or a class 1xx-5xx, got "6xx"'],
  ])("rejects %j", (guard, text) => {
    expect(configError(experiment(guard))).toBe(text);
  });

  it("rejects breaker-only fields by name", () => {
    expect(configError(experiment({ ...GUARD, openDurationMs: 5 }))).toMatch(/^experiment\.variants\[1\]\.guard\.openDurationMs: unknown field \(allowed: window, .*cooldownMs.*, to\)$/);
    expect(configError(experiment({ ...GUARD, key: "route" }))).toMatch(/^experiment\.variants\[1\]\.guard\.key: unknown field/);
  });

  it("rejects a guard on the first variant without `to` (the default target is itself)", () => {
    const cfg = { name: "exp", variants: [{ name: "canary", weight: 10, guard: GUARD }, { name: "stable", weight: 90 }] };
    expect(configError(cfg)).toBe("experiment.variants[0].guard.to: must name another variant, one without a guard, got the default canary (the first variant)");
    expect(configError({ ...cfg, variants: [{ ...cfg.variants[0], guard: { ...GUARD, to: "stable" } }, cfg.variants[1]] })).toBe("");
  });

  it("rejects a rollback onto another guarded variant", () => {
    const cfg = {
      name: "exp",
      variants: [{ name: "a", weight: 50 }, { name: "b", weight: 25, guard: { ...GUARD, to: "c" } }, { name: "c", weight: 25, guard: GUARD }],
    };
    expect(configError(cfg)).toBe('experiment.variants[1].guard.to: must name another variant, one without a guard, got "c"');
  });

  it("validatePolicy reports the same text", () => {
    const doc = { apiVersion: "tandem.dev/v1alpha1", kind: "TrafficPolicy", metadata: { name: "p" }, spec: { experiment: experiment({ ...GUARD, to: "nope" }) } };
    expect(core.validatePolicy(JSON.stringify(doc))).toBe(configError(experiment({ ...GUARD, to: "nope" })));
  });
});

// Users whose split gives the canary, found through a guard-less twin of the policy.
function canaryUsers(extra: Record<string, unknown> = {}): string[] {
  const plain = core.configureExperiment(JSON.stringify(experiment(null, extra)));
  const out: string[] = [];
  for (let i = 0; out.length < 40; i++) {
    const d = core.decideExperiment(plain, answerNeeds(plain.needs, { headers: { "x-user-id": `u${i}` } }), 0);
    if (d.variant === 1) out.push(`u${i}`);
  }
  core.release(plain);
  return out;
}

function decide(plan: ExperimentPlan, user: string, t: number, headers: Record<string, string> = {}) {
  return core.decideExperiment(plan, answerNeeds(plan.needs, { headers: { "x-user-id": user, ...headers }, path: "/", method: "GET" }), t);
}

describe("guard at request time", () => {
  it("rolls the canary's users back after the failure rate is reached, probes after the cooldown, recovers", () => {
    const plan = core.configureExperiment(JSON.stringify(experiment(GUARD, { exposeHeader: true })));
    const users = canaryUsers({ exposeHeader: true });
    let t = 1000;
    // 4 calls, 2 failing: 50% >= 50% with minimumCalls 4 -> open
    for (let i = 0; i < 4; i++) {
      const d = decide(plan, users[i], t);
      expect(d.variant).toBe(1);
      expect(d.guard).toMatchObject({ index: 0, state: "closed", tracked: true });
      const r = core.recordGuard(plan, 0, d.guard!.flags, d.guard!.generation, { status: i % 2 === 0 ? 503 : 200, latencyMs: 5 }, t + 5);
      expect(r.state).toBe(i < 3 ? "closed" : "open");
      if (i === 3) expect(r.transition).toBe("failure_rate");
      t += 10;
    }
    // open: every canary user goes to stable, reason guard; nothing to record
    for (const u of users) {
      const d = decide(plan, u, t);
      expect(d.variant).toBe(0);
      expect(d.reason).toBe(3);
      expect(d.expose).toBe("stable; reason=guard");
      expect(d.guard).toMatchObject({ state: "open", tracked: false });
    }
    // after the cooldown: exactly permittedCalls probes reach the canary
    t = 1035 + 1000;                                  // opened at the 4th outcome (t 1030 + 5 ms)
    const probes = users.map((u) => decide(plan, u, t)).filter((d) => d.variant === 1);
    expect(probes.length).toBe(2);
    for (const p of probes) expect(p.guard).toMatchObject({ state: "half_open", tracked: true });
    const r1 = core.recordGuard(plan, 0, probes[0].guard!.flags, probes[0].guard!.generation, { status: 200, latencyMs: 5 }, t + 5);
    expect(r1.state).toBe("half_open");               // all probe results are awaited
    const r2 = core.recordGuard(plan, 0, probes[1].guard!.flags, probes[1].guard!.generation, { status: 200, latencyMs: 5 }, t + 6);
    expect(r2).toMatchObject({ state: "closed", transition: "probes_passed" });
    for (const u of users) expect(decide(plan, u, t + 10).variant).toBe(1);
    core.release(plan);
  });

  it("ignores outcomes admitted before the guard opened", () => {
    const plan = core.configureExperiment(JSON.stringify(experiment({ ...GUARD, minimumCalls: 2 })));
    const users = canaryUsers();
    const a = decide(plan, users[0], 0);
    const b = decide(plan, users[1], 0);
    const late = decide(plan, users[2], 0);
    core.recordGuard(plan, 0, a.guard!.flags, a.guard!.generation, { status: 500, latencyMs: 1 }, 1);
    expect(core.recordGuard(plan, 0, b.guard!.flags, b.guard!.generation, { status: 500, latencyMs: 1 }, 2).state).toBe("open");
    // `late` was admitted while closed: its success must not count in the open state
    const r = core.recordGuard(plan, 0, late.guard!.flags, late.guard!.generation, { status: 200, latencyMs: 1 }, 3);
    expect(r).toMatchObject({ state: "open", transition: null });
    core.release(plan);
  });

  it("an override still reaches the rolled-back canary; rules to it are rolled back", () => {
    const secret = "guard-test-secret-0123456789";
    const extra = {
      override: { header: "x-force", secret },
      rules: [{ match: { header: { "x-beta": { exact: "1" } } }, variant: "canary" }],
    };
    const plan = core.configureExperiment(JSON.stringify(experiment({ ...GUARD, mode: "forced_open" }, extra)));
    const { createHmac } = require("node:crypto") as typeof import("node:crypto");
    const token = `canary.${createHmac("sha256", secret).update("canary").digest("hex")}`;
    const forced = decide(plan, "anyone", 0, { "x-force": token });
    expect(forced.variant).toBe(1);
    expect(forced.guard).toBeNull();
    const beta = decide(plan, "anyone", 0, { "x-beta": "1" });
    expect(beta.variant).toBe(0);
    expect(beta.reason).toBe(3);
    core.release(plan);
  });

  it("forced_closed admits without tracking; dry_run tracks but never reroutes", () => {
    const closed = core.configureExperiment(JSON.stringify(experiment({ ...GUARD, mode: "forced_closed" })));
    const u = canaryUsers()[0];
    expect(decide(closed, u, 0).guard).toMatchObject({ tracked: false });
    core.release(closed);
    const dry = core.configureExperiment(JSON.stringify(experiment({ ...GUARD, mode: "dry_run", minimumCalls: 1 })));
    const d = decide(dry, u, 0);
    expect(core.recordGuard(dry, 0, d.guard!.flags, d.guard!.generation, { status: 500, latencyMs: 1 }, 1).state).toBe("open");
    const after = decide(dry, u, 2);
    expect(after.variant).toBe(1);                   // dry_run: reports, never rolls back
    expect(after.guard).toMatchObject({ state: "open" });
    core.release(dry);
  });
});
