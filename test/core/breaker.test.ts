// The breaker state machine in the core, rule by rule, with virtual time (issue 4).
import { beforeEach, describe, expect, it } from "vitest";
import { Admission, BreakerCore, ERROR, OUTCOME, type Outcome } from "../support/breaker-core";
import { GRPC_STATUS_BASE } from "../../wasm/core/contract";

const core = BreakerCore.load();
const K = "api-v1";
const OK: Outcome = { status: 200 };
const FAIL: Outcome = { status: 503 };

function setup(cfg: Record<string, unknown>): void { core.configure(cfg); }
function st(key = K) { return core.state(key)!; }

// One call: allow at t, record the outcome at t (if admitted).
function call(o: Outcome, t: number, key = K): Admission {
  const a = core.allow(key, t);
  if (a.admitted) core.record(key, a, o, t);
  return a;
}

// Opens the breaker at t with consecutive failures (consecutiveFailures must be set).
function open(t: number, key = K): void {
  while (st(key)?.state !== "OPEN") {
    const a = call(FAIL, t, key);
    if (!a.permitted) throw new Error("not closed");
  }
}

describe("CLOSED: thresholds after every outcome", () => {
  it("opens when the failure rate reaches the threshold (>=, not >) once minimumCalls are in", () => {
    setup({ window: { size: 10 }, minimumCalls: 4, failureRateThreshold: 50 });
    call(FAIL, 0); call(OK, 1); call(FAIL, 2);
    expect(st()).toMatchObject({ state: "CLOSED", calls: 3, failures: 2 });  // 67% but only 3 calls
    call(OK, 3);                                                             // 2 of 4 = 50%
    expect(st()).toMatchObject({ state: "OPEN", reason: "failure_rate", sinceMs: 3, openUntilMs: 30003 });
  });

  it("never opens below minimumCalls, even at 100% failures", () => {
    setup({ minimumCalls: 5 });
    for (let i = 0; i < 4; i++) call(FAIL, i);
    expect(st()).toMatchObject({ state: "CLOSED", calls: 4, failures: 4 });
    call(FAIL, 4);
    expect(st().state).toBe("OPEN");
  });

  it("caps minimumCalls at a count window's size", () => {
    setup({ window: { size: 3 }, minimumCalls: 20 });
    call(FAIL, 0); call(FAIL, 1);
    expect(st().state).toBe("CLOSED");
    call(FAIL, 2);
    expect(st().state).toBe("OPEN");
  });

  it("stays closed just below the threshold", () => {
    setup({ window: { size: 3 }, minimumCalls: 3, failureRateThreshold: 66.67 });
    call(FAIL, 0); call(FAIL, 1); call(OK, 2);       // 66.66...% < 66.67%
    expect(st().state).toBe("CLOSED");
    call(FAIL, 3);                                     // window [F, OK, F]: still 2 of 3
    expect(st().state).toBe("CLOSED");
    call(FAIL, 4);                                     // [OK, F, F]
    call(FAIL, 5);                                     // [F, F, F]
    expect(st().state).toBe("OPEN");
  });

  it("opens on the slow-call rate; latency >= slowCallDurationMs is slow", () => {
    setup({ window: { size: 4 }, minimumCalls: 4, failureRateThreshold: 100, slowCallDurationMs: 100, slowCallRateThreshold: 50 });
    call({ status: 200, latencyMs: 99 }, 0);
    call({ status: 200, latencyMs: 100 }, 1);
    call({ status: 200, latencyMs: 5 }, 2);
    expect(st()).toMatchObject({ state: "CLOSED", calls: 3, slow: 1 });
    call({ status: 500, latencyMs: 250 }, 3);          // a slow failure counts for both rates
    expect(st()).toMatchObject({ state: "OPEN", reason: "slow_call_rate", slow: 2, failures: 1 });
  });

  it("slow calls are not tracked when slowCallDurationMs is 0", () => {
    setup({ window: { size: 2 }, minimumCalls: 1, slowCallRateThreshold: 0 });
    call({ status: 200, latencyMs: 1e9 }, 0);
    expect(st()).toMatchObject({ state: "CLOSED", slow: 0 });
  });

  it("a threshold of 0 opens on any failure, never on successes alone", () => {
    setup({ window: { size: 10 }, minimumCalls: 2, failureRateThreshold: 0 });
    for (let i = 0; i < 5; i++) call(OK, i);
    expect(st().state).toBe("CLOSED");
    call(FAIL, 5);
    expect(st()).toMatchObject({ state: "OPEN", reason: "failure_rate" });
  });

  it("consecutiveFailures opens regardless of minimumCalls; a success resets it, an ignored outcome does not", () => {
    setup({ minimumCalls: 100, consecutiveFailures: 3, failure: { ignoreStatuses: ["404"] } });
    call(FAIL, 0); call(FAIL, 1); call(OK, 2);
    expect(st().consecutive).toBe(0);
    call(FAIL, 3); call(FAIL, 4); call({ status: 404 }, 5);
    expect(st()).toMatchObject({ state: "CLOSED", consecutive: 2, calls: 5 });
    call(FAIL, 6);
    expect(st()).toMatchObject({ state: "OPEN", reason: "consecutive_failures", consecutive: 0 });
  });

  it("ignored outcomes never enter the window", () => {
    setup({ failure: { ignoreStatuses: ["4xx"] } });
    call({ status: 404 }, 0); call({ status: 0 }, 1); call({ status: 600 }, 2);
    expect(st()).toMatchObject({ calls: 0 });
  });
});

describe("rejected calls and generations", () => {
  beforeEach(() => setup({ window: { size: 10 }, minimumCalls: 2, openDurationMs: 1000, halfOpen: { permittedCalls: 1 } }));

  it("rejected calls never enter the window", () => {
    call(FAIL, 0); call(FAIL, 1);
    const before = st();
    expect(before.state).toBe("OPEN");
    const a = core.allow(K, 2);
    expect(a).toMatchObject({ admitted: false, permitted: false, state: "OPEN", retryAfterMs: 999 });
    expect(core.record(K, a, FAIL, 3)).toBe(OUTCOME.failure);   // classified, not counted
    expect(st()).toEqual(before);
  });

  it("calls in flight when the breaker opens cannot re-open or close it", () => {
    const early = [core.allow(K, 0), core.allow(K, 0), core.allow(K, 0)];
    core.record(K, early[0], FAIL, 1);
    core.record(K, early[1], FAIL, 2);
    const opened = st();
    expect(opened).toMatchObject({ state: "OPEN", generation: 1, calls: 2 });
    core.record(K, early[2], OK, 3);                  // admitted in generation 0
    expect(st()).toEqual(opened);
    // half-open, the probe passes: closed (generation 3); then an old failure arrives
    const probe = core.allow(K, 1002);
    expect(probe).toMatchObject({ probe: true, state: "HALF_OPEN", generation: 2 });
    const lateClosed = core.allow(K, 1002);             // rejected: one permit only
    expect(lateClosed.permitted).toBe(false);
    core.record(K, probe, OK, 1003);
    expect(st()).toMatchObject({ state: "CLOSED", generation: 3, calls: 0 });
    core.record(K, early[2], FAIL, 1004);
    core.record(K, early[2], FAIL, 1005);
    expect(st()).toMatchObject({ state: "CLOSED", calls: 0 });
  });

  it("a probe of an earlier half-open round is ignored", () => {
    call(FAIL, 0); call(FAIL, 0);
    const p1 = core.allow(K, 1000);
    core.record(K, p1, FAIL, 1001);                     // re-open, open until 2001
    const p2 = core.allow(K, 2001);
    expect(p2).toMatchObject({ probe: true, generation: p1.generation + 2 });
    core.record(K, p1, OK, 2002);                       // stale: does not close
    expect(st()).toMatchObject({ state: "HALF_OPEN", probesSeen: 0 });
    core.record(K, p2, OK, 2003);
    expect(st().state).toBe("CLOSED");
  });
});

describe("OPEN -> HALF_OPEN -> CLOSED / OPEN", () => {
  it("turns half-open at now >= openUntil, as of openUntil", () => {
    setup({ minimumCalls: 1, openDurationMs: 5000 });
    call(FAIL, 1000);
    expect(st().openUntilMs).toBe(6000);
    expect(core.allow(K, 5999)).toMatchObject({ admitted: false, retryAfterMs: 1 });
    const p = core.allow(K, 7000);
    expect(p).toMatchObject({ admitted: true, probe: true, state: "HALF_OPEN", changed: true });
    expect(st()).toMatchObject({ state: "HALF_OPEN", reason: "open_elapsed", sinceMs: 6000, probesIssued: 1, probeActivityMs: 7000 });
  });

  it("admits exactly permittedCalls probes and closes only when all their results are in", () => {
    setup({ minimumCalls: 1, openDurationMs: 100, halfOpen: { permittedCalls: 3 } });
    call(FAIL, 0);
    const probes = [core.allow(K, 100), core.allow(K, 101), core.allow(K, 102)];
    expect(probes.every((p) => p.admitted && p.probe)).toBe(true);
    const extra = core.allow(K, 103);
    expect(extra).toMatchObject({ admitted: false, state: "HALF_OPEN", retryAfterMs: 0 });
    core.record(K, probes[0], OK, 104);
    core.record(K, probes[2], OK, 105);
    expect(st()).toMatchObject({ state: "HALF_OPEN", probesSeen: 2 });   // resilience4j would decide here
    expect(core.allow(K, 106).admitted).toBe(false);                     // permits are not handed out again
    core.record(K, probes[1], OK, 107);
    expect(st()).toMatchObject({ state: "CLOSED", reason: "probes_passed", calls: 0, failures: 0, sinceMs: 107 });
  });

  it("re-opens as soon as the failures seen guarantee the threshold", () => {
    setup({ minimumCalls: 1, openDurationMs: 100, failureRateThreshold: 50, halfOpen: { permittedCalls: 4 } });
    call(FAIL, 0);
    const probes = [0, 1, 2, 3].map((i) => core.allow(K, 100 + i));
    core.record(K, probes[0], FAIL, 110);
    expect(st()).toMatchObject({ state: "HALF_OPEN", probeFailures: 1 });  // 1 of 4 < 50%
    core.record(K, probes[1], FAIL, 111);                                  // 2 of 4 = 50% whatever comes
    expect(st()).toMatchObject({ state: "OPEN", reason: "probe_failures", openUntilMs: 211 });
    const reopened = st();
    core.record(K, probes[2], OK, 112);
    core.record(K, probes[3], OK, 113);
    expect(st()).toEqual(reopened);
  });

  it("with a threshold of 100% every probe must fail before it re-opens", () => {
    setup({ minimumCalls: 1, openDurationMs: 100, failureRateThreshold: 100, halfOpen: { permittedCalls: 3 } });
    call(FAIL, 0);                               // 1 of 1
    const probes = [0, 1, 2].map((i) => core.allow(K, 100 + i));
    core.record(K, probes[0], FAIL, 110);
    core.record(K, probes[1], FAIL, 111);
    expect(st().state).toBe("HALF_OPEN");
    core.record(K, probes[2], OK, 112);
    expect(st().state).toBe("CLOSED");
  });

  it("re-opens on slow probes", () => {
    setup({ minimumCalls: 1, openDurationMs: 100, slowCallDurationMs: 50, slowCallRateThreshold: 50, halfOpen: { permittedCalls: 2 } });
    call(FAIL, 0);
    const p = core.allow(K, 100);
    core.allow(K, 100);
    core.record(K, p, { status: 200, latencyMs: 60 }, 160);
    expect(st()).toMatchObject({ state: "OPEN", reason: "probe_slow_calls" });
  });

  it("an ignored probe result gives its permit back", () => {
    setup({ minimumCalls: 1, openDurationMs: 100, failure: { ignoreStatuses: ["404"] }, halfOpen: { permittedCalls: 1 } });
    call(FAIL, 0);
    const p1 = core.allow(K, 100);
    expect(core.allow(K, 101).admitted).toBe(false);
    core.record(K, p1, { status: 404 }, 102);
    expect(st()).toMatchObject({ state: "HALF_OPEN", probesIssued: 0, probesSeen: 0 });
    const p2 = core.allow(K, 103);
    expect(p2.probe).toBe(true);
    core.record(K, p2, OK, 104);
    expect(st().state).toBe("CLOSED");
  });

  it("the window is cleared when the breaker closes: minimumCalls count again", () => {
    setup({ window: { size: 10 }, minimumCalls: 3, openDurationMs: 100, halfOpen: { permittedCalls: 1 } });
    call(FAIL, 0); call(FAIL, 1); call(FAIL, 2);
    call(OK, 200);                              // probe passes
    expect(st()).toMatchObject({ state: "CLOSED", calls: 0 });
    call(FAIL, 201); call(FAIL, 202);
    expect(st()).toMatchObject({ state: "CLOSED", calls: 2, failures: 2 });
    call(FAIL, 203);
    expect(st().state).toBe("OPEN");
  });
});

describe("halfOpen.maxWaitMs", () => {
  beforeEach(() => setup({ minimumCalls: 1, openDurationMs: 5000, halfOpen: { permittedCalls: 1, maxWaitMs: 1000 } }));

  it("re-opens when no probe result comes within maxWaitMs, as of the deadline", () => {
    call(FAIL, 1000);                                  // open until 6000
    const p = core.allow(K, 6000);
    expect(core.allow(K, 6999).admitted).toBe(false);
    const a = core.allow(K, 7000);
    expect(a).toMatchObject({ admitted: false, state: "OPEN", retryAfterMs: 5000 });
    expect(st()).toMatchObject({ state: "OPEN", reason: "probe_timeout", sinceMs: 7000, openUntilMs: 12000 });
    core.record(K, p, OK, 7500);                       // too late
    expect(st().state).toBe("OPEN");
  });

  it("a probe result arriving after the deadline finds the breaker re-opened", () => {
    call(FAIL, 1000);
    const p = core.allow(K, 6000);
    core.record(K, p, OK, 7001);                       // nobody asked in between
    expect(st()).toMatchObject({ state: "OPEN", reason: "probe_timeout", sinceMs: 7000 });
  });

  it("does not apply while no probe is out: an idle half-open breaker waits for traffic", () => {
    call(FAIL, 1000);
    const p = core.allow(K, 100000);
    expect(p).toMatchObject({ probe: true, state: "HALF_OPEN" });
    expect(st()).toMatchObject({ sinceMs: 6000, backoffLevel: 0 });
  });

  it("catches up on several due transitions at once", () => {
    setup({ minimumCalls: 1, openDurationMs: 5000, openBackoff: { multiplier: 2 }, halfOpen: { permittedCalls: 1, maxWaitMs: 1000 } });
    call(FAIL, 1000);
    core.allow(K, 6000);                               // probe never answers
    const a = core.allow(K, 50000);                    // re-opened at 7000 for 10000 ms, half-open at 17000
    expect(a).toMatchObject({ probe: true, state: "HALF_OPEN" });
    expect(st()).toMatchObject({ sinceMs: 17000, backoffLevel: 1, openMs: 10000 });
  });
});

describe("openBackoff", () => {
  it("multiplies the open duration on each consecutive re-open up to maxMs, and resets on close", () => {
    setup({ minimumCalls: 1, openDurationMs: 1000, openBackoff: { multiplier: 2, maxMs: 5000 }, halfOpen: { permittedCalls: 1 } });
    let t = 0;
    call(FAIL, t);
    const durations: number[] = [st().openMs];
    for (let i = 0; i < 4; i++) {
      t = st().openUntilMs;
      call(FAIL, t);                                   // the probe fails
      durations.push(st().openMs);
      expect(st().openUntilMs).toBe(t + st().openMs);
    }
    expect(durations).toEqual([1000, 2000, 4000, 5000, 5000]);
    expect(st().backoffLevel).toBe(4);
    call(OK, st().openUntilMs);                        // the probe passes: closed
    expect(st()).toMatchObject({ state: "CLOSED", backoffLevel: 0 });
    call(FAIL, 100000);
    expect(st()).toMatchObject({ state: "OPEN", openMs: 1000, openUntilMs: 101000 });
  });

  it("fractional multipliers round down to whole milliseconds", () => {
    setup({ minimumCalls: 1, openDurationMs: 1001, openBackoff: { multiplier: 1.5, maxMs: 100000 }, halfOpen: { permittedCalls: 1 } });
    call(FAIL, 0);
    call(FAIL, st().openUntilMs);
    expect(st().openMs).toBe(1501);
    call(FAIL, st().openUntilMs);
    expect(st().openMs).toBe(2251);
  });

  it("without openBackoff every open lasts openDurationMs", () => {
    setup({ minimumCalls: 1, openDurationMs: 1000, halfOpen: { permittedCalls: 1 } });
    call(FAIL, 0);
    call(FAIL, 1000);
    call(FAIL, 2000);
    expect(st()).toMatchObject({ openMs: 1000, backoffLevel: 2, openUntilMs: 3000 });
  });
});

describe("modes", () => {
  const cfg = { window: { size: 5 }, minimumCalls: 2, openDurationMs: 1000, halfOpen: { permittedCalls: 2 } };
  const script: Array<[number, Outcome]> = [
    [0, OK], [1, FAIL], [2, FAIL], [3, OK], [500, FAIL], [1002, OK], [1003, OK], [1004, FAIL], [1005, OK], [1006, FAIL],
    [1007, FAIL], [1008, FAIL], [2008, FAIL], [2009, OK], [3009, OK], [3010, OK], [3011, OK],
  ];

  it("dry_run admits every call and goes through exactly the states enforce goes through", () => {
    setup({ ...cfg, mode: "enforce" });
    const enforced = script.map(([t, o]) => { const a = call(o, t); return { a, s: st() }; });
    setup({ ...cfg, mode: "dry_run" });
    const dry = script.map(([t, o]) => { const a = call(o, t); return { a, s: st() }; });
    for (let i = 0; i < script.length; i++) {
      expect(dry[i].a.admitted).toBe(true);
      expect(dry[i].a.permitted).toBe(enforced[i].a.admitted);
      expect(dry[i].s).toEqual(enforced[i].s);
    }
    expect(enforced.some((e) => !e.a.admitted)).toBe(true);
    expect(enforced.map((e) => e.s.state)).toContain("HALF_OPEN");
  });

  it("forced_open rejects everything without touching the state", () => {
    setup({ ...cfg, mode: "forced_open" });
    for (const [t, o] of script) {
      const a = call(o, t);
      expect(a).toMatchObject({ admitted: false, permitted: false, retryAfterMs: -1 });
      core.record(K, { ...a, permitted: true, flags: 3 }, o, t);   // even a forged admission
    }
    expect(st()).toMatchObject({ state: "CLOSED", calls: 0, generation: 0 });
  });

  it("forced_closed admits everything and records nothing", () => {
    setup({ ...cfg, mode: "forced_closed" });
    for (let t = 0; t < 100; t++) expect(call(FAIL, t).admitted).toBe(true);
    expect(st()).toMatchObject({ state: "CLOSED", calls: 0, generation: 0 });
  });
});

describe("outcome classification", () => {
  it("defaults: 5xx and every transport error fail; other statuses succeed; no status is ignored", () => {
    setup({});
    for (const s of [500, 502, 503, 504, 599]) expect(core.classify(s), String(s)).toBe(OUTCOME.failure);
    for (const s of [100, 200, 204, 301, 404, 429, 499]) expect(core.classify(s), String(s)).toBe(OUTCOME.success);
    for (const s of [0, 99, 600, 999, 1017, -1]) expect(core.classify(s), String(s)).toBe(OUTCOME.ignored);
    for (const e of [ERROR.connect, ERROR.reset, ERROR.timeout]) expect(core.classify(0, e)).toBe(OUTCOME.failure);
    expect(core.classify(200, ERROR.reset)).toBe(OUTCOME.failure);          // the error wins
    expect(core.classify(0, 7)).toBe(OUTCOME.ignored);                      // unknown error kind
  });

  it("gRPC replies (GRPC_STATUS_BASE + grpc-status): failure.grpcStatuses fail, other codes succeed, errors still win", () => {
    setup({});
    for (const g of [4, 13, 14]) expect(core.classify(GRPC_STATUS_BASE + g), `grpc ${g}`).toBe(OUTCOME.failure);
    for (const g of [0, 1, 2, 3, 5, 7, 8, 12, 15, 16]) expect(core.classify(GRPC_STATUS_BASE + g), `grpc ${g}`).toBe(OUTCOME.success);
    expect(core.classify(GRPC_STATUS_BASE + 14, ERROR.connect)).toBe(OUTCOME.failure);   // Envoy's own UNAVAILABLE for a dead upstream
    setup({ failure: { grpcStatuses: [2], errors: ["timeout"] } });
    expect(core.classify(GRPC_STATUS_BASE + 2)).toBe(OUTCOME.failure);
    expect(core.classify(GRPC_STATUS_BASE + 14)).toBe(OUTCOME.success);
    expect(core.classify(GRPC_STATUS_BASE + 14, ERROR.connect)).toBe(OUTCOME.ignored);  // connect not listed
    expect(core.classify(200)).toBe(OUTCOME.success);
  });

  it("statuses, ignoreStatuses (which win) and errors as configured", () => {
    setup({ failure: { statuses: ["5xx", "429"], ignoreStatuses: ["501"], errors: ["connect"] } });
    expect(core.classify(429)).toBe(OUTCOME.failure);
    expect(core.classify(502)).toBe(OUTCOME.failure);
    expect(core.classify(501)).toBe(OUTCOME.ignored);
    expect(core.classify(428)).toBe(OUTCOME.success);
    expect(core.classify(0, ERROR.connect)).toBe(OUTCOME.failure);
    expect(core.classify(0, ERROR.reset)).toBe(OUTCOME.ignored);           // not listed: says nothing
    expect(core.classify(0, ERROR.timeout)).toBe(OUTCOME.ignored);
  });

  it("status classes cover their hundred; exact codes only themselves", () => {
    setup({ failure: { statuses: ["4xx", "503"] } });
    expect(core.classify(400)).toBe(OUTCOME.failure);
    expect(core.classify(499)).toBe(OUTCOME.failure);
    expect(core.classify(500)).toBe(OUTCOME.success);
    expect(core.classify(503)).toBe(OUTCOME.failure);
  });
});

describe("time", () => {
  it("a clock going backwards counts as not moving", () => {
    setup({ minimumCalls: 1, openDurationMs: 5000, halfOpen: { permittedCalls: 1 } });
    call(FAIL, 10000);                                 // open until 15000, clock 10000
    expect(core.allow(K, 3000)).toMatchObject({ admitted: false, retryAfterMs: 5000 });
    const p = core.allow(K, 15000);
    expect(p.probe).toBe(true);
    core.record(K, p, OK, 50);                         // result "before" the probe: counted at 15000
    expect(st()).toMatchObject({ state: "CLOSED", sinceMs: 15000, clockMs: 15000 });
  });

  it("Retry-After seconds: rounded up, at least 1, none when unknown", () => {
    setup({});
    expect(core.retryAfterSeconds(29019)).toBe(30);
    expect(core.retryAfterSeconds(1000)).toBe(1);
    expect(core.retryAfterSeconds(1001)).toBe(2);
    expect(core.retryAfterSeconds(0)).toBe(1);
    expect(core.retryAfterSeconds(-1)).toBe(-1);
  });

  it("allow in CLOSED changes nothing (Envoy writes shared data only on change)", () => {
    setup({});
    core.allow(K, 0);
    const before = st();
    const a = core.allow(K, 99999);
    expect(a.changed).toBe(false);
    expect(st()).toEqual(before);
  });
});

describe("duplicate reports", () => {
  it("a probe result reported twice counts once; an ignored one returns its permit once", () => {
    setup({ minimumCalls: 1, openDurationMs: 100, failure: { ignoreStatuses: ["404"] }, halfOpen: { permittedCalls: 2 } });
    call(FAIL, 0);
    const p1 = core.allow(K, 100);
    core.record(K, p1, OK, 101);
    core.record(K, p1, OK, 102);                       // the same probe again: nothing outstanding
    expect(st()).toMatchObject({ state: "HALF_OPEN", probesIssued: 1, probesSeen: 1 });
    const p2 = core.allow(K, 103);
    core.record(K, p2, { status: 404 }, 104);
    core.record(K, p2, { status: 404 }, 105);
    expect(st()).toMatchObject({ state: "HALF_OPEN", probesIssued: 1, probesSeen: 1 });
  });
});

describe("fallback decision", () => {
  it("answers rejected calls when `on` has open; upstream failures of idempotent methods with upstreamFailure", () => {
    setup({ fallback: { respond: { status: 503 } } });
    expect(core.fallback({ rejected: true })).toBe("respond");
    expect(core.fallback({ outcome: OUTCOME.failure, method: "GET" })).toBe("none");
    setup({ fallback: { reroute: { variant: "stable" }, on: ["upstreamFailure"] } });
    expect(core.fallback({ rejected: true })).toBe("none");
    for (const m of ["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]) {
      expect(core.fallback({ outcome: OUTCOME.failure, method: m }), m).toBe("reroute");
    }
    for (const m of ["POST", "PATCH", "CONNECT", "get", ""]) {
      expect(core.fallback({ outcome: OUTCOME.failure, method: m }), m).toBe("none");
    }
    expect(core.fallback({ outcome: OUTCOME.success, method: "GET" })).toBe("none");
    expect(core.fallback({ outcome: OUTCOME.ignored, method: "GET" })).toBe("none");
    setup({});
    expect(core.fallback({ rejected: true })).toBe("none");
  });
});
