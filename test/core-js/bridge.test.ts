// The Node binding's per-call bridge (core-js/tandem-core.ts): facts written through views
// over the core's memory, results read from its fixed result areas, a breaker key
// remembered per plan. What it must get right: views rebuilt after memory grew, the
// decision's texts (Set-Cookie, x-tandem-decision, x-tandem-experiments) read at their
// offsets, non-ASCII facts and keys, and a remembered key never returned for other bytes.
import { describe, expect, it } from "vitest";
import { answerNeeds } from "../../core-js/answer-needs";
import { VARIANT_HEADER } from "../../core-js/tandem-core";
import { loadCore } from "../support/dist";

const core = loadCore();

// Grows the core's memory (as its allocator does when it needs more): the buffer the
// binding's views were over is detached.
function growMemory(): void {
  const memory = (core as unknown as { ex: { memory: WebAssembly.Memory } }).ex.memory;
  const old = memory.buffer;
  memory.grow(16);
  expect(old.byteLength).toBe(0);
}

describe("the bridge", () => {
  it("bridgeOnly (the benchmarks' baseline) writes the facts and decides nothing", () => {
    const plan = core.configureExperiment(JSON.stringify({ name: "b0", stickiness: { sources: ["header:x-user-id"] }, variants: [{ name: "a", weight: 50 }, { name: "b", weight: 50 }] }));
    const facts = (u: string) => answerNeeds(plan.needs, { headers: { "x-user-id": u } });
    core.decideExperiment(plan, facts("first"), 0);
    const bucket = core.lastBucket(plan);
    // other facts, no decision: the last decision's bucket stays
    for (const u of ["second", "third", "fourth"]) expect(core.bridgeOnly(plan, facts(u))).toBe(bucket);
    core.release(plan);
  });

  it("reads the same decisions and admissions before and after memory grew", () => {
    const exp = core.configureExperiment(JSON.stringify({
      name: "bridge", exposeHeader: true,
      stickiness: { sources: ["header:x-user-id", "cookie:tandem-uid"], cookie: { name: "tandem-uid" } },
      variants: [{ name: "stable", weight: 50 }, { name: "canary", weight: 50 }],
      experiments: [{ name: "layout", variants: [{ name: "grid", weight: 50 }, { name: "list", weight: 50 }] }],
    }));
    const brk = core.configureBreaker(JSON.stringify({ consecutiveFailures: 2, openDurationMs: 1000 }), 3);
    const users = ["u-1", "ünïcødé-用户", "x".repeat(300), "🙂-" + "é".repeat(200)];
    const decide = (u: string) => core.decideExperiment(exp, answerNeeds(exp.needs, { headers: { "x-user-id": u } }), 0);
    const before = users.map(decide);
    const newUser = core.decideExperiment(exp, answerNeeds(exp.needs, { headers: { "x-request-id": "r1" } }), 0);
    growMemory();
    expect(users.map(decide)).toEqual(before);
    for (const d of before) {
      expect(d.variant).toBeGreaterThanOrEqual(0);
      expect(d.setCookie).toBeNull();
      expect(d.expose).toBe(`${exp.variants[d.variant].name}; reason=split`);
      expect(d.tags).toMatch(/^layout=(grid|list)$/);
    }
    // a new user: the three texts one after another in the core's buffer
    expect(newUser.setCookie).toMatch(/^tandem-uid=[0-9a-f]{32};/);
    expect(newUser.expose).toBe(`${exp.variants[newUser.variant].name}; reason=split`);
    expect(newUser.tags).toMatch(/^layout=(grid|list)$/);

    // breaker keys: non-ASCII, then keys of equal length (the remembered key is compared)
    const admit = (k: string, now: number) => core.admitBreaker(brk, answerNeeds(brk.needs, { headers: { host: "h", [VARIANT_HEADER]: k } }), now);
    for (const k of ["canary", "stable", "canarx", "ünïcødé", "canary"]) expect(admit(k, 1).key).toBe(k);
    const a = admit("ünïcødé", 2);
    expect(core.recordBreaker(brk, a.key, a.flags, a.generation, { status: 500, latencyMs: 1 }, 2).state).toBe("closed");
    growMemory();
    const b = admit("ünïcødé", 3);
    expect(b).toMatchObject({ key: "ünïcødé", admitted: true, state: "closed" });
    expect(core.recordBreaker(brk, b.key, b.flags, b.generation, { status: 500, latencyMs: 1 }, 3)).toMatchObject({ state: "open", transition: "consecutive_failures" });
    expect(admit("ünïcødé", 4)).toMatchObject({ admitted: false, state: "open", retryAfter: 1 });
    expect(admit("canary", 4)).toMatchObject({ key: "canary", admitted: true, state: "closed" });
    core.release(exp);
    core.releaseBreaker(brk);
  });

  it("gives the core a long fact it asks for in full, whatever else the call wrote, and the same decision with or without one it does not read", () => {
    const exp = core.configureExperiment(JSON.stringify({
      name: "asked", stickiness: { sources: ["header:x-user-id", "cookie:tandem-uid"], cookie: { name: "tandem-uid" } },
      variants: [{ name: "stable", weight: 50 }, { name: "canary", weight: 50 }],
    }));
    const decide = (headers: Record<string, string>) => core.decideExperiment(exp, answerNeeds(exp.needs, { headers }), 0);
    // a new user's id comes from a long x-request-id, left out until the core reads it
    const id = "0f8fad5b-d9cb-469f-a165-70867728950e";
    const cookie = decide({ "x-request-id": id }).setCookie;
    expect(cookie).toMatch(/^tandem-uid=[0-9a-f]{32};/);
    expect(decide({ "x-request-id": id }).setCookie).toBe(cookie);
    // after a short fact written before the call (a cookie without tandem-uid): the same id
    expect(decide({ cookie: "a=b", "x-request-id": id }).setCookie).toBe(cookie);
    // one character past the first 16 changes the id: the core read all of it
    expect(decide({ "x-request-id": id.slice(0, 30) + "ffffff" }).setCookie).not.toBe(cookie);
    // long, short and non-ASCII keys beside a long fact the decision does not read
    for (const u of ["u-1", "a-key-longer-than-sixteen-units", "ünïcødé-用户-" + "é".repeat(40)]) {
      expect(decide({ "x-user-id": u, "x-request-id": id })).toEqual(decide({ "x-user-id": u }));
    }
    core.release(exp);
  });
});
