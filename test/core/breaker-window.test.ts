// Sliding windows of the breaker: count ring and time buckets, eviction, a clock that
// goes backwards, and constant cost per call whatever the window size.
import { describe, expect, it } from "vitest";
import { BreakerCore, type Outcome } from "../support/breaker-core";

const core = BreakerCore.load();
const K = "k";
const OK: Outcome = { status: 200 };
const FAIL: Outcome = { status: 500 };

function rec(o: Outcome, t: number): void {
  const a = core.allow(K, t);
  expect(a.permitted).toBe(true);
  core.record(K, a, o, t);
}
const totals = () => { const s = core.state(K)!; return [s.calls, s.failures]; };

describe("count window", () => {
  it("keeps the last `size` outcomes: the oldest falls out of the running totals", () => {
    core.configure({ window: { size: 3 }, minimumCalls: 3, failureRateThreshold: 100 });
    const seen: number[][] = [];
    for (const [i, o] of [FAIL, FAIL, OK, FAIL, FAIL, OK, FAIL].entries()) {
      rec(o, i);
      seen.push(totals());
    }
    expect(seen).toEqual([[1, 1], [2, 2], [3, 2], [3, 2], [3, 2], [3, 2], [3, 2]]);
    rec(FAIL, 7);                                        // [OK, F, F]
    expect(core.state(K)!.state).toBe("CLOSED");
    rec(FAIL, 8);                                        // [F, F, F]: 100%
    expect(core.state(K)!.state).toBe("OPEN");
  });

  it("wraps around many times with exact totals", () => {
    core.configure({ window: { size: 7 }, minimumCalls: 1000, failureRateThreshold: 100, slowCallDurationMs: 10 });
    const outcomes: Array<[boolean, boolean]> = [];
    for (let i = 0; i < 500; i++) {
      const failed = (i * 7919) % 3 === 0;
      const slow = (i * 104729) % 5 < 2;
      outcomes.push([failed, slow]);
      rec({ status: failed ? 500 : 200, latencyMs: slow ? 10 : 9 }, i);
      const last = outcomes.slice(-7);
      const s = core.state(K)!;
      expect([s.calls, s.failures, s.slow]).toEqual([last.length, last.filter((x) => x[0]).length, last.filter((x) => x[1]).length]);
    }
  });
});

describe("time window", () => {
  // 4 buckets of 250 ms; minimumCalls out of reach so the breaker stays closed.
  const cfg = { window: { type: "time", sizeMs: 1000, buckets: 4 }, minimumCalls: 1000000 };

  it("drops whole buckets as time moves", () => {
    core.configure(cfg);
    rec(FAIL, 0);                                        // bucket 0
    rec(OK, 250);                                        // bucket 1
    rec(OK, 999.9);                                      // bucket 3
    expect(totals()).toEqual([3, 1]);
    rec(OK, 1000);                                       // bucket 4: bucket 0 (the failure) falls out
    expect(totals()).toEqual([3, 0]);
    expect(core.advance(K, 1999)).toBe(1);               // bucket 7: buckets 1..3 fall out
    expect(totals()).toEqual([1, 0]);
    expect(core.advance(K, 1999)).toBe(0);
    core.advance(K, 2250);                               // bucket 9: nothing is left
    expect(totals()).toEqual([0, 0]);
  });

  it("a jump of a whole window or more empties it at once", () => {
    core.configure(cfg);
    for (let t = 0; t < 1000; t += 50) rec(FAIL, t);
    expect(totals()).toEqual([20, 20]);
    rec(OK, 1e12);
    expect(totals()).toEqual([1, 0]);
  });

  it("an outcome recorded with an earlier time joins the newest bucket (the clock did not move)", () => {
    core.configure(cfg);
    rec(OK, 5000);                                       // bucket 20
    rec(FAIL, 4000);                                     // backwards: counted in bucket 20, not 16
    expect(totals()).toEqual([2, 1]);
    core.advance(K, 5999);                               // bucket 23: 20 is still inside
    expect(totals()).toEqual([2, 1]);
    core.advance(K, 6000);                               // bucket 24
    expect(totals()).toEqual([0, 0]);
    core.advance(K, 100);                                // backwards again: nothing moves
    expect(core.state(K)!.clockMs).toBe(6000);
  });

  it("the threshold is checked on the window as of the outcome's time", () => {
    core.configure({ window: { type: "time", sizeMs: 1000, buckets: 2 }, minimumCalls: 2, failureRateThreshold: 50 });
    rec(FAIL, 0);
    rec(OK, 1000);                                       // the failure fell out: 1 call < minimumCalls
    expect(core.state(K)).toMatchObject({ state: "CLOSED", calls: 1, failures: 0 });
    rec(FAIL, 1001);                                     // 1 of 2
    expect(core.state(K)!.state).toBe("OPEN");
  });

  it("one bucket is a tumbling window", () => {
    core.configure({ window: { type: "time", sizeMs: 1000, buckets: 1 }, minimumCalls: 1000000 });
    rec(FAIL, 10); rec(FAIL, 999);
    expect(totals()).toEqual([2, 2]);
    rec(OK, 1000);
    expect(totals()).toEqual([1, 0]);
  });

  it("counts many calls per bucket and evicts them exactly", () => {
    core.configure({ window: { type: "time", sizeMs: 10000, buckets: 10 }, minimumCalls: 1000000 });
    const log: Array<[number, boolean]> = [];
    let t = 0;
    for (let i = 0; i < 3000; i++) {
      t += (i * 37) % 23;                                // irregular steps, several calls per bucket
      const failed = i % 7 === 0;
      log.push([Math.floor(t / 1000), failed]);
      rec(failed ? FAIL : OK, t);
      const head = Math.floor(t / 1000);
      const live = log.filter(([b]) => b > head - 10);
      expect(totals()).toEqual([live.length, live.filter((x) => x[1]).length]);
    }
  });
});

describe("cost per call", () => {
  // allow + record per call, counted as inner-loop steps (window buckets advanced, key
  // probes: wasm/core/text/steps.ts), an exact figure; the window size must not matter.
  function stepsPerCall(cfg: object, stepMs = 1): number {
    core.configure(cfg);
    core.churn(K, 20000, 0, stepMs);                     // fill the window
    return core.churnSteps(K, 200000, 1e6, stepMs) / 200000;
  }

  it("is the same for a count window of 10 and of 10000, and for 1 or 1000 time buckets", () => {
    const small = stepsPerCall({ window: { size: 10 } });
    const large = stepsPerCall({ window: { size: 10000 } });
    const fewBuckets = stepsPerCall({ window: { type: "time", sizeMs: 1000, buckets: 1 } });
    const manyBuckets = stepsPerCall({ window: { type: "time", sizeMs: 1000, buckets: 1000 } });
    console.log(`breaker allow+record steps per call: count 10 ${small}, count 10000 ${large}, time 1 bucket ${fewBuckets}, time 1000 buckets ${manyBuckets}`);
    // O(1) per call: the same few steps; a per-call scan of the window would be ~1000x.
    expect(small).toBeGreaterThan(0);
    expect(large).toBeLessThanOrEqual(small * 1.5);
    expect(manyBuckets).toBeLessThanOrEqual(fewBuckets * 1.5 + 2);
    expect(Math.max(small, large, fewBuckets, manyBuckets)).toBeLessThan(8);
  });

  it("a call after a long pause advances the time window once, not bucket by bucket", () => {
    const per = stepsPerCall({ window: { type: "time", sizeMs: 1000, buckets: 1000 } }, 5000);
    expect(per).toBeLessThan(8);
  });
});
