// deploy/examples/cache-fallback.yaml with its trace, as a user runs it: the catalog's
// upstream refuses connections from t=5 s to t=12 s. On Envoy the readers get the pages
// they asked for before from the cache (x-tandem-fallback: cache, Age), failed calls and
// rejections alike; a page never stored gets the 503; once the upstream is back the
// breaker closes. On Kong (the fallback-cache plugin beside the breaker) the failed
// calls pass as Kong's 502 (the breaker has no response phase to replace them), and
// once the breaker opens the rejections get the stored pages, a page never stored the
// 503. Each gateway exactly as the core models it.
import { describe, expect, it } from "vitest";
import { tandem, simulateEveryWay } from "../support/cli-run";

const POLICY = "deploy/examples/cache-fallback.yaml";
const TRACE = "deploy/examples/cache-fallback.trace.jsonl";
const T_GAP = 50;   // ms between the trace's requests

interface Line { action: string; status: number; breaker: string | null; cache: { age: number } | null }

describe("cache fallback example", () => {
  it("Envoy serves stored pages from the cache through the outage; Kong once the breaker opens; each as the core models it", async () => {
    const results = await simulateEveryWay(POLICY, TRACE);
    expect(results.kong).toBe(results["core/kong"]);
    expect(results.envoy).toBe(results["core/envoy"]);
    const parse = (s: string) => s.trim().split("\n").map((l) => JSON.parse(l) as Line);
    const envoy = parse(results.envoy);
    const kong = parse(results.kong);
    const between = (ls: Line[], from: number, to: number) => ls.slice(from / T_GAP, to / T_GAP);
    // healthy: forwarded, nothing from the cache
    for (const ls of [envoy, kong]) expect(between(ls, 0, 5000).every((l) => l.action === "forward" && l.status === 200 && l.cache === null)).toBe(true);
    // the outage on Envoy: every answer is a cached page (200, with its Age) or, for a
    // page never stored, the 503; the breaker opens meanwhile
    const outage = between(envoy, 5000, 12000);
    expect(outage.every((l) => l.action === "fallback" && ((l.status === 200 && l.cache !== null) || (l.status === 503 && l.cache === null)))).toBe(true);
    expect(outage.filter((l) => l.status === 503).length).toBeGreaterThan(5);
    expect(Math.max(...outage.map((l) => l.cache?.age ?? 0))).toBeGreaterThanOrEqual(7);
    expect(outage.some((l) => l.breaker === "open")).toBe(true);
    // on Kong: Kong's 502 until the breaker opens, then a cached page (200, with its Age)
    // or, for a page never stored, the 503
    const kOutage = between(kong, 5000, 12000);
    expect(kOutage.every((l) => (l.status === 502 && l.cache === null) ||
      (l.action === "fallback" && ((l.status === 200 && l.cache !== null) || (l.status === 503 && l.cache === null))))).toBe(true);
    expect(kOutage.some((l) => l.status === 502)).toBe(true);
    expect(kOutage.filter((l) => l.cache !== null).length).toBeGreaterThan(5);
    expect(kOutage.filter((l) => l.status === 503).length).toBeGreaterThan(5);
    // back: closed again, forwarded
    for (const ls of [envoy, kong]) expect(between(ls, 16000, 20000).every((l) => l.action === "forward" && l.status === 200 && l.breaker === "closed")).toBe(true);
  }, 300_000);
});
