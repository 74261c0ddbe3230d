// The page's last minutes (cli/playground/history.ts): per-variant series from the load
// generator's seconds, guard and breaker states with their transitions from the metrics
// (a gauge that first appears at 1 was 0 before: its transition is marked), the served
// split from tandem_requests_total when scraped, from the answers otherwise.
import { describe, expect, it } from "vitest";
import { History } from "../../../cli/playground/history";
import type { GatewaySecond, LoadSecond } from "../../../cli/playground/load-shape";
import type { Scraped } from "../../../cli/playground/metrics-scrape";

const gw = (stable: number, canary: number, guard = 0): GatewaySecond => ({
  variants: { stable: { n: stable, ok: stable, p95: 5 }, canary: { n: canary, ok: canary - 1, p95: 9 } },
  sources: { header: stable + canary }, reasons: guard > 0 ? { split: stable, guard } : { split: stable + canary }, errors: 0,
});
const second = (t: number, g: GatewaySecond): LoadSecond => ({
  t: t * 1000, kong: g, envoy: g, decisions: { kong: [], envoy: [] },
  agreement: { users: 1, compared: 1, differ: 0, lastDiffer: null, stateful: 0 }, moves: {}, skipped: 0, sent: 1,
});
const scraped = (stable: number, canary: number, guard: number | null, breaker: number | null): Scraped => ({
  guards: guard === null ? {} : { canary: guard }, breakers: breaker === null ? {} : { stable: breaker },
  requests: { stable, canary }, assignments: { header: stable + canary },
});

describe("playground history", () => {
  it("keeps per-variant rate, success and p95, and the split of the answers", () => {
    const h = new History(["canary"]);
    h.push(second(100, gw(90, 10)));
    h.push(second(101, gw(80, 20)));
    expect(h.t).toEqual([100, 101]);
    expect(h.gw.kong.rate).toEqual({ stable: [90, 80], canary: [10, 20] });
    expect(h.gw.kong.success.canary).toEqual([90, 95]);
    expect(h.split("kong")).toEqual({ stable: 85, canary: 15 });
    expect(h.gw.kong.from).toBe("load generator");
    // observed: a second with guard answers is a rolled-back second
    h.push(second(102, gw(100, 0, 5)));
    expect(h.gw.kong.guards.canary.values).toEqual([0, 0, 1]);
    expect(h.gw.kong.guards.canary.transitions).toEqual([{ t: 102, from: 0, to: 1 }]);
  });

  it("with metrics: states and their transitions from the gauges, the split from the counters", () => {
    const h = new History(["canary"]);
    h.push(second(200, gw(9, 1)), { kong: scraped(900, 100, null, null), envoy: null });
    h.push(second(201, gw(9, 1)), { kong: scraped(990, 110, 1, 1), envoy: null });
    h.push(second(202, gw(9, 1)), { kong: scraped(1090, 110, 1, 0), envoy: null });
    const k = h.gw.kong;
    expect(k.from).toBe("metrics");
    expect(k.guards.canary.values).toEqual([0, 1, 1]);
    expect(k.guards.canary.transitions).toEqual([{ t: 201, from: 0, to: 1 }]);
    // the breaker's series appears at its first transition: it was closed before
    expect(k.breakers.stable.values).toEqual([null, 1, 0]);
    expect(k.breakers.stable.transitions).toEqual([{ t: 201, from: 0, to: 1 }, { t: 202, from: 1, to: 0 }]);
    // 190 stable and 10 canary requests between the first and the last scrape
    expect(h.split("kong")).toEqual({ stable: 95, canary: 5 });
    expect(h.gw.envoy.from).toBe("load generator");
  });

  it("keeps 300 seconds", () => {
    const h = new History([]);
    for (let t = 0; t < 310; t++) h.push(second(t, gw(1, 1)));
    expect(h.t).toHaveLength(300);
    expect(h.t[0]).toBe(10);
    expect(h.gw.envoy.rate.stable).toHaveLength(300);
  });
});
