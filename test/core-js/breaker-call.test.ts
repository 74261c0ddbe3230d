// The breaker's lean calls (core-js/breaker-call.ts, TandemCore.admitCall / recordCall /
// lastCall): the packed admission and the fields read on demand must say what the whole
// BreakerCall object says; a ticket records the key it was given for, and falls back to
// the key when that key was evicted meanwhile; facts written once for a plan are reused
// only while they are the same strings.
import { describe, expect, it } from "vitest";
import { answerNeeds } from "../../core-js/answer-needs";
import {
  BREAKER_ADMITTED, BREAKER_PERMITTED, EFFECT_REPLY, EFFECT_RESPOND, EFFECT_TRACK, FallbackKind, OUTCOME_KEY_GONE,
  REPLY_RESPOND, VARIANT_HEADER, callAdmitted, callEffects, callFlags, callNeedsMethod, callPermitted, callPreflight,
  callTransition, type BreakerAdmission, type BreakerPlan,
} from "../../core-js/tandem-core";
import { loadCore } from "../support/dist";

const core = loadCore();

const facts = (plan: BreakerPlan, variant: string | undefined, host = "shop.example.com") =>
  answerNeeds(plan.needs, { headers: variant === undefined ? { host } : { host, [VARIANT_HEADER]: variant } });

// Everything the lean view reads on demand, as one object (the admission's fields).
function lazily(): Omit<BreakerAdmission, "pass"> {
  const l = core.lastCall;
  return {
    key: l.key, flags: l.flags, admitted: l.admitted, permitted: l.permitted, needsFacts: l.needsFacts,
    generation: l.generation, state: l.state, prevState: l.prevState, transition: l.transition,
    retryAfter: l.retryAfter, answer: l.answer, outcome: l.outcome, effects: l.effects, reply: l.reply,
    replyRetryAfter: l.replyRetryAfter,
  };
}

describe("admitCall and lastCall", () => {
  // Two plans of one config and seed, one driven through admitBreaker / recordBreaker
  // (the whole object), the other through the lean calls: same requests, same answers.
  it("read after a rejection, the lazily read fields equal the whole object's values", () => {
    const cfg = JSON.stringify({ consecutiveFailures: 2, openDurationMs: 3500, fallback: { respond: { status: 429, body: "later" } } });
    const full = core.configureBreaker(cfg, 9);
    const lean = core.configureBreaker(cfg, 9);
    for (let i = 0; i < 2; i++) {
      const a = core.admitBreaker(full, facts(full, "canary"), 100 + i, "end");
      core.recordBreaker(full, a.key, a.flags, a.generation, { status: 503, latencyMs: 2 }, 101 + i);
      const c = core.admitCall(lean, facts(lean, "canary"), 100 + i, "end");
      expect(callAdmitted(c)).toBe(true);
      expect(callEffects(c)).toBe(EFFECT_TRACK);
      const l = core.lastCall;
      const outcome = core.recordCall(lean, l.ticket, callFlags(c), l.generation, 503, 0, 2, 101 + i);
      expect(outcome).toBe(1);
    }
    // the second failure opened both: the record's transition, read lazily
    expect(core.lastCall.transition).toBe("consecutive_failures");
    expect(core.lastCall.state).toBe("open");

    const old = core.admitBreaker(full, facts(full, "canary"), 1000, "end");
    const c = core.admitCall(lean, facts(lean, "canary"), 1000, "end");
    expect(callAdmitted(c)).toBe(false);
    expect(callPermitted(c)).toBe(false);
    expect(callTransition(c)).toBe(false);
    expect(callEffects(c)).toBe(EFFECT_REPLY | EFFECT_RESPOND);
    const read = lazily();
    expect(read).toEqual({ ...old, pass: undefined, key: old.key } as unknown as typeof read);
    // and what the old object said, spelled out
    expect(read).toMatchObject({
      key: "canary", admitted: false, state: "open", prevState: "open", transition: null, retryAfter: 3,
      answer: FallbackKind.Respond, effects: EFFECT_REPLY | EFFECT_RESPOND, reply: REPLY_RESPOND, replyRetryAfter: 3, outcome: -1,
    });
    expect(core.lastCall.toCall()).toEqual({ ...old, key: undefined, pass: undefined } as unknown as ReturnType<typeof core.lastCall.toCall>);
    core.releaseBreaker(full);
    core.releaseBreaker(lean);
  });

  // A CLOSED key's admission in enforce and dry_run is written without running the state
  // machine (wasm/core/breaker/machine.ts admitsAsIs): every slot must still be its own,
  // none left over from the call before (an OPEN key's: in enforce a rejection with a reply
  // and Retry-After).
  it.each(["enforce", "dry_run"])("a CLOSED admission (%s) reports admitted and permitted, nothing left from an OPEN key's call before it", (mode) => {
    const plan = core.configureBreaker(JSON.stringify({ mode, consecutiveFailures: 1, openDurationMs: 3500, fallback: { respond: { status: 429, body: "later" } } }), 3);
    const a = core.admitCall(plan, facts(plan, "canary"), 100, "end");
    core.recordCall(plan, core.lastCall.ticket, callFlags(a), core.lastCall.generation, 503, 0, 2, 101);
    expect(core.lastCall.state).toBe("open");
    const r = core.admitCall(plan, facts(plan, "canary"), 1000, "end");
    expect(callPermitted(r)).toBe(false);
    expect(core.lastCall.state).toBe("open");
    // (dry_run admits what enforce rejects: no reply, no Retry-After)
    expect(core.lastCall.retryAfter).toBe(mode === "enforce" ? 3 : -1);
    const c = core.admitCall(plan, facts(plan, "stable"), 1000, "end");
    expect(c).toBe(BREAKER_ADMITTED | BREAKER_PERMITTED | (EFFECT_TRACK << 4));
    expect(lazily()).toEqual({
      key: "stable", flags: BREAKER_ADMITTED | BREAKER_PERMITTED, admitted: true, permitted: true, needsFacts: false,
      generation: core.lastCall.generation, state: "closed", prevState: "closed", transition: null, retryAfter: -1,
      answer: FallbackKind.None, outcome: -1, effects: EFFECT_TRACK, reply: 0, replyRetryAfter: -1,
    });
    // the same key again through the whole object (its own state table entry, same generation)
    const whole = core.admitBreaker(plan, facts(plan, "stable"), 1001, "end");
    expect({ ...whole, pass: undefined }).toEqual({ ...lazily(), pass: undefined });
    core.releaseBreaker(plan);
  });

  it("packs flags, effects and the transition; a CORS preflight or a missing method is a pass with the key readable", () => {
    const p = core.configureBreaker(JSON.stringify({ key: "header:x-tenant" }));
    const needs = (tenant: string, acrm?: string, method?: string) =>
      answerNeeds(p.needs, { headers: acrm === undefined ? { "x-tenant": tenant } : { "x-tenant": tenant, "access-control-request-method": acrm }, method });
    const c = core.admitCall(p, needs("t-1"), 0);
    expect(callFlags(c)).toBe(BREAKER_ADMITTED | BREAKER_PERMITTED);
    expect(callPreflight(c) || callNeedsMethod(c)).toBe(false);
    expect(core.lastCall.key).toBe("t-1");
    const m = core.admitCall(p, needs("t-2", "POST"), 0);
    expect(callNeedsMethod(m)).toBe(true);
    expect(callPreflight(m)).toBe(false);
    expect(core.lastCall.key).toBe("t-2");
    const pf = core.admitCall(p, needs("t-3", "POST", "OPTIONS"), 0);
    expect(callPreflight(pf)).toBe(true);
    expect(callAdmitted(pf)).toBe(false);        // nothing admitted, nothing to record
    expect(core.lastCall.key).toBe("t-3");
    expect(core.breakerState(p, "t-3")).toBeNull();
    // admitBreaker, on the same calls, as before
    expect(core.admitBreaker(p, needs("t-3", "POST", "OPTIONS"), 0)).toMatchObject({ key: "t-3", pass: "preflight", state: "closed" });
    expect(core.admitBreaker(p, needs("t-2", "POST"), 0)).toMatchObject({ key: "t-2", pass: "method", permitted: false });
    core.releaseBreaker(p);
  });
});

describe("recordCall's ticket", () => {
  it("records the key it names; a key evicted since goes by its key, and is gone without one", () => {
    const cfg = JSON.stringify({ maxKeys: 1, consecutiveFailures: 1 });
    const p = core.configureBreaker(cfg);
    const twin = core.configureBreaker(cfg);

    // k1 admitted, then evicted by k2: the ticket is stale
    core.admitCall(p, facts(p, "k1"), 0);
    const t1 = core.lastCall.ticket;
    const g1 = core.lastCall.generation;
    core.admitCall(p, facts(p, "k2"), 0);
    expect(core.lastCall.ticket).not.toBe(t1);
    expect(core.recordCall(p, t1, BREAKER_ADMITTED | BREAKER_PERMITTED, g1, 500, 0, 1, 1)).toBe(OUTCOME_KEY_GONE);
    expect(core.lastCall.outcome).toBe(OUTCOME_KEY_GONE);
    expect(core.breakerState(p, "k1")).toBeNull();
    expect(core.breakerState(p, "k2")).toBe("closed");        // the stale ticket touched nothing

    // k1 admitted again (k2 evicted): the old ticket still names k1's first stay; by its
    // key the record finds k1's new state, and counts nothing there (an older generation),
    // exactly as recordBreaker does on the twin
    core.admitCall(p, facts(p, "k1"), 2);
    const a = core.admitBreaker(twin, facts(twin, "k1"), 0);
    core.admitBreaker(twin, facts(twin, "k2"), 0);
    core.admitBreaker(twin, facts(twin, "k1"), 2);
    const viaKey = core.recordCall(p, t1, BREAKER_ADMITTED | BREAKER_PERMITTED, g1, 500, 0, 1, 3, "k1");
    const lean = core.lastCall.toCall();
    const old = core.recordBreaker(twin, "k1", a.flags, a.generation, { status: 500, latencyMs: 1 }, 3);
    expect(viaKey).toBe(1);
    expect(lean).toEqual(old);
    expect(core.breakerState(p, "k1")).toBe("closed");        // consecutiveFailures 1: counted, it would be open

    // a fresh ticket of k1 counts: it opens
    core.admitCall(p, facts(p, "k1"), 4);
    expect(core.recordCall(p, core.lastCall.ticket, BREAKER_ADMITTED | BREAKER_PERMITTED, core.lastCall.generation, 500, 0, 1, 5)).toBe(1);
    expect([core.lastCall.state, core.lastCall.transition]).toEqual(["open", "consecutive_failures"]);
    core.releaseBreaker(p);
    core.releaseBreaker(twin);
  });

  it("a ticket of a released plan names no key of the plan that takes its handle", () => {
    const p = core.configureBreaker(JSON.stringify({ consecutiveFailures: 1 }));
    core.admitCall(p, facts(p, "k"), 0);
    const t = core.lastCall.ticket;
    const g = core.lastCall.generation;
    core.releaseBreaker(p);
    const q = core.configureBreaker(JSON.stringify({ consecutiveFailures: 1 }));
    expect(q.handle).toBe(p.handle);
    core.admitCall(q, facts(q, "k"), 0);
    expect(core.recordCall(q, t, BREAKER_ADMITTED | BREAKER_PERMITTED, g, 500, 0, 1, 1)).toBe(OUTCOME_KEY_GONE);
    expect(core.breakerState(q, "k")).toBe("closed");
    core.releaseBreaker(q);
  });
});

describe("a breaker plan's facts", () => {
  it("are written again whenever a string differs, the same array changed in place included", () => {
    const p = core.configureBreaker(JSON.stringify({}));
    const f = facts(p, "canary");
    const keyOf = (x: ReadonlyArray<string | undefined>) => { core.admitCall(p, x, 0); return core.lastCall.key; };
    expect(keyOf(f)).toBe("canary");
    expect(keyOf(f)).toBe("canary");
    f[p.needs.findIndex((n) => n.name === VARIANT_HEADER)] = "stable";       // the same array, another variant
    expect(keyOf(f)).toBe("stable");
    expect(keyOf(facts(p, "canary"))).toBe("canary");                        // equal strings, other objects
    expect(keyOf(facts(p, undefined, "a.example"))).toBe("a.example");       // no variant: the Host
    expect(keyOf(facts(p, undefined, "b.example"))).toBe("b.example");
    // a long key (left for the core to ask for), twice, then a short one, then it again
    const long = "a-variant-name-longer-than-sixteen-units-ünïcødé";
    expect(keyOf(facts(p, long))).toBe(long);
    expect(keyOf(facts(p, long))).toBe(long);
    expect(keyOf(facts(p, "x"))).toBe("x");
    expect(keyOf(facts(p, long))).toBe(long);
    // a short fact changing beside a long one the core asked for: only the short one is
    // written again, the long one stays where the core's ask wrote it
    expect(keyOf(facts(p, long, "c.example"))).toBe(long);
    expect(keyOf(facts(p, long, "d.example"))).toBe(long);
    expect(keyOf(facts(p, undefined, "d.example"))).toBe("d.example");
    expect(keyOf(facts(p, long, "d.example"))).toBe(long);
    expect(keyOf(facts(p, "y", "d.example"))).toBe("y");
    // the cache key path writes the same plan's facts: an admission after it reads its own
    const c = core.configureBreaker(JSON.stringify({ fallback: [{ cache: {} }] }));
    const cf = answerNeeds(c.needs, { headers: { host: "h", [VARIANT_HEADER]: "v1" }, path: "/a", method: "GET" });
    core.admitCall(c, cf, 0);
    expect(core.lastCall.key).toBe("v1");
    expect(core.cacheKey(c, answerNeeds(c.needs, { headers: { host: "h", [VARIANT_HEADER]: "v2" }, path: "/b", method: "GET" })).key).not.toBeNull();
    core.admitCall(c, cf, 0);
    expect(core.lastCall.key).toBe("v1");
    core.releaseBreaker(c);
    core.releaseBreaker(p);
  });

  it("give each key's own text back, keys of one length in turn, more than the binding remembers", () => {
    const p = core.configureBreaker(JSON.stringify({}));
    const keys = Array.from({ length: 11 }, (_, i) => `key-${String.fromCharCode(97 + i)}`);   // 5 bytes each
    for (let round = 0; round < 3; round++) {
      for (const k of keys) { core.admitCall(p, facts(p, k), round); expect(core.lastCall.key).toBe(k); }
      for (const k of [...keys].reverse()) { core.admitCall(p, facts(p, k), round); expect(core.lastCall.key).toBe(k); }
      for (const k of ["key-a", "key-b", "key-a", "ünï", "key-b"]) { core.admitCall(p, facts(p, k), round); expect(core.lastCall.key).toBe(k); }
    }
    core.releaseBreaker(p);
  });

  it("give the same answers when the same facts come again after their key was evicted", () => {
    const p = core.configureBreaker(JSON.stringify({ maxKeys: 1, consecutiveFailures: 1, openDurationMs: 1000 }));
    const f = facts(p, "k1");
    core.admitCall(p, f, 0);
    const t = core.lastCall.ticket;
    core.recordCall(p, t, BREAKER_ADMITTED | BREAKER_PERMITTED, core.lastCall.generation, 500, 0, 1, 1);
    expect(core.breakerState(p, "k1")).toBe("open");
    expect(callAdmitted(core.admitCall(p, f, 2))).toBe(false);
    core.allowBreaker(p, "k2", 3);                          // evicts k1
    const c = core.admitCall(p, f, 4);                      // the same facts: k1 afresh, closed
    expect(callAdmitted(c)).toBe(true);
    expect([core.lastCall.key, core.lastCall.state]).toEqual(["k1", "closed"]);
    expect(core.lastCall.ticket).not.toBe(t);
    expect(core.breakerState(p, "k2")).toBeNull();
    core.releaseBreaker(p);
  });
});
