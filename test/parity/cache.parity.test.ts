// Cache fallback parity (spec.fallback[].cache, issue 16): the same traces through the
// core and through each gateway, line by line. Envoy's circuit-breaker filter stores and
// serves entries (wasm/filter/cache-fallback.ts); on Kong the opt-in `fallback-cache`
// plugin stores them (a buffered response phase) and hands a servable one to the
// breaker, which serves it on a rejection (plugins/fallback-cache/handler.ts,
// plugins/shared/cache-carry.ts). Kong cannot answer a failed call from it (the breaker
// has no response phase): there the next fallback's rule applies. The core models each
// (GatewayProfile), and each model must match its gateway. The cases: a hit, a miss,
// another vary combination, no-store, eviction (LRU: a look ahead is no use, a served hit
// is), the list order [cache, respond] and [cache, reroute] (a rerouted answer is not
// stored), and a failed call answered from the cache (on: [upstreamFailure], Envoy only).
import { describe, expect, it } from "vitest";
import { simulate, type Via } from "../../cli/simulate/run";
import { ENVOY_PROFILE, KONG_PROFILE, type GatewayProfile, type SimResult } from "../../cli/simulate/result";
import type { PolicyDoc } from "../../cli/policy-file";
import { parseTrace, type TraceRequest } from "../../cli/simulate/trace";

const PATHS: Array<{ via: Exclude<Via, "core">; profile: GatewayProfile }> = [
  { via: "kong", profile: KONG_PROFILE },
  { via: "envoy", profile: ENVOY_PROFILE },
];

function doc(name: string, spec: PolicyDoc["spec"]): PolicyDoc {
  return { apiVersion: "tandem.dev/v1alpha1", kind: "TrafficPolicy", metadata: { name }, spec };
}

const lines = (xs: object[]): TraceRequest[] => parseTrace(xs.map((x) => JSON.stringify(x)).join("\n"), "cache-trace");

const JSON_60 = { "content-type": "application/json", "cache-control": "max-age=60" };
const ok = (body: string, headers: Record<string, string> = JSON_60) => ({ status: 200, latencyMs: 5, headers, body });
const BOOM = { status: 500, latencyMs: 5 };
// The breaker (key route) opens after 3 consecutive failures and stays open for a minute.
const BREAKER = { key: "route", consecutiveFailures: 3, minimumCalls: 100, openDurationMs: 60000 };
const CACHE = { maxEntries: 64, maxBodyBytes: 1024, ttlMs: 300000 };
const open3 = (t: number) => [0, 1, 2].map((i) => ({ t: t + i * 10, path: "/boom", upstream: BOOM }));

interface Scenario {
  name: string;
  policy: PolicyDoc;
  trace: TraceRequest[];
  // the lines Envoy's model answers from the cache (index -> status, age); every other line
  // of a policy with a cache: cache null
  hits: Record<number, { status: number; age: number }>;
  // Kong serves the same hits (a rejection answered from the cache), except where noted
  kongServes: boolean;
  // what the lines Kong's model cannot serve get instead (index -> action, status)
  kongMiss: Record<number, { action: SimResult["action"]; status: number }>;
}

const scenarios: Scenario[] = [
  {
    name: "[cache, respond]: a hit with Age, misses (other path, other vary combination, no-store) get the respond fallback",
    policy: doc("cache-respond", { circuitBreaker: BREAKER, fallback: [{ cache: CACHE }, { respond: { status: 503, body: "try again shortly" } }] }),
    trace: lines([
      { t: 0, path: "/api/items?page=1", upstream: ok('{"items":[1,2]}') },
      { t: 100, path: "/api/private", upstream: ok("secret", { "cache-control": "no-store" }) },
      ...open3(1000),
      { t: 3500, path: "/api/items?page=1" },                                   // hit, Age 3
      { t: 3600, path: "/api/items?page=2" },                                   // miss: another query
      { t: 3700, path: "/api/items?page=1", headers: { accept: "text/html" } }, // miss: another vary combination
      { t: 3800, path: "/api/private" },                                        // miss: never stored
      { t: 9000, method: "HEAD", path: "/api/items?page=1" },                   // miss: HEAD has its own key
    ]),
    hits: { 5: { status: 200, age: 3 } },
    kongServes: true,
    kongMiss: { 6: { action: "fallback", status: 503 }, 7: { action: "fallback", status: 503 }, 8: { action: "fallback", status: 503 } },
  },
  {
    name: "[cache, reroute]: a hit answers; a miss is rerouted to the spare upstream",
    policy: doc("cache-reroute", { circuitBreaker: BREAKER, fallback: [{ cache: CACHE }, { reroute: { upstream: "api-spare" } }] }),
    trace: lines([
      { t: 0, path: "/a", upstream: ok('{"a":1}') },
      { t: 10, path: "/b", upstream: { status: 404, latencyMs: 2, headers: { "cache-control": "max-age=30" }, body: "no b" } },
      ...open3(100),
      { t: 2000, path: "/a" },                                  // hit
      { t: 2100, path: "/b" },                                  // hit: a 404 is stored too
      { t: 2200, path: "/c", upstream: ok("spare says c") },    // miss: rerouted, answered by the spare
    ]),
    hits: { 5: { status: 200, age: 1 }, 6: { status: 404, age: 2 } },
    kongServes: true,
    kongMiss: { 7: { action: "fallback", status: 200 } },
  },
  {
    name: "eviction: a full set drops its least recently used entry (maxEntries 2: one set, exact LRU)",
    policy: doc("cache-evict", { circuitBreaker: BREAKER, fallback: [{ cache: { ...CACHE, maxEntries: 2 } }, { respond: { status: 503 } }] }),
    trace: lines([
      { t: 0, path: "/a", upstream: ok("A") },
      { t: 10, path: "/b", upstream: ok("B") },
      { t: 20, path: "/a", upstream: ok("A2") },   // /a stored again: most recently used
      { t: 30, path: "/c", upstream: ok("C") },    // evicts /b
      ...open3(100),
      { t: 1000, path: "/a" },                     // hit
      { t: 1010, path: "/b" },                     // miss: evicted
      { t: 1020, path: "/c" },                     // hit
    ]),
    hits: { 7: { status: 200, age: 0 }, 9: { status: 200, age: 0 } },
    kongServes: true,
    kongMiss: { 8: { action: "fallback", status: 503 } },
  },
  {
    name: "LRU: a look ahead is no use (Kong's access finds /a, its new answer is not stored: /a stays least recently used)",
    policy: doc("cache-peek", { circuitBreaker: BREAKER, fallback: [{ cache: { ...CACHE, maxEntries: 2 } }, { respond: { status: 503 } }] }),
    trace: lines([
      { t: 0, path: "/a", upstream: ok("A") },
      { t: 10, path: "/b", upstream: ok("B") },
      { t: 20, path: "/a", upstream: ok("not for caches", { "cache-control": "no-store" }) },   // found, not stored: no use
      { t: 30, path: "/c", upstream: ok("C") },    // evicts /a, the least recently used
      ...open3(100),
      { t: 1000, path: "/a" },                     // miss: evicted
      { t: 1010, path: "/b" },                     // hit
      { t: 1020, path: "/c" },                     // hit
    ]),
    hits: { 8: { status: 200, age: 0 }, 9: { status: 200, age: 0 } },
    kongServes: true,
    kongMiss: { 7: { action: "fallback", status: 503 } },
  },
  {
    name: "LRU: a served hit is a use (breaker keyed by header: shard 1 open and served from the cache while shard 2 stores)",
    policy: doc("cache-served", {
      circuitBreaker: { ...BREAKER, key: "header:x-shard" },
      fallback: [{ cache: { ...CACHE, maxEntries: 2 } }, { respond: { status: 503 } }],
    }),
    trace: lines([
      { t: 0, path: "/a", headers: { "x-shard": "2" }, upstream: ok("A") },
      { t: 10, path: "/b", headers: { "x-shard": "2" }, upstream: ok("B") },
      ...[0, 1, 2].map((i) => ({ t: 100 + i * 10, path: "/boom", headers: { "x-shard": "1" }, upstream: BOOM })),
      { t: 1000, path: "/a", headers: { "x-shard": "1" } },                    // hit: /a used
      { t: 1100, path: "/c", headers: { "x-shard": "2" }, upstream: ok("C") }, // evicts /b
      { t: 2000, path: "/a", headers: { "x-shard": "1" } },                    // hit
      { t: 2010, path: "/b", headers: { "x-shard": "1" } },                    // miss: evicted
      { t: 2020, path: "/c", headers: { "x-shard": "1" } },                    // hit
    ]),
    hits: { 5: { status: 200, age: 0 }, 7: { status: 200, age: 1 }, 9: { status: 200, age: 0 } },
    kongServes: true,
    kongMiss: { 8: { action: "fallback", status: 503 } },
  },
  {
    name: "on: [upstreamFailure]: a failed call is answered from the cache, else by the respond fallback (Envoy; Kong cannot replace a response)",
    policy: doc("cache-failure", {
      circuitBreaker: { key: "route", consecutiveFailures: 100, minimumCalls: 100 },
      fallback: [{ cache: CACHE, on: ["upstreamFailure"] }, { respond: { status: 200, body: "fallback" }, on: ["upstreamFailure"] }],
    }),
    trace: lines([
      { t: 0, path: "/api", upstream: ok("[1]") },
      { t: 2000, path: "/api", upstream: { status: 503, latencyMs: 5 } },   // hit (Age 1 at t+5)
      { t: 2100, path: "/api", upstream: { error: "connect" } },            // hit: Envoy's own 503
      { t: 2200, path: "/new", upstream: { status: 500, latencyMs: 5 } },   // miss: the respond fallback
    ]),
    hits: { 1: { status: 200, age: 2 }, 2: { status: 200, age: 2 } },
    kongServes: false,
    kongMiss: { 1: { action: "forward", status: 503 }, 2: { action: "forward", status: 502 } },
  },
];

describe.each(scenarios)("cache parity: $name", ({ policy, trace, hits, kongServes, kongMiss }) => {
  it("Envoy's model serves the hits; Kong's serves a rejection's, and gives the next fallback where it cannot", async () => {
    const envoy = await simulate("core", policy, trace, () => {}, { profile: ENVOY_PROFILE });
    const kong = await simulate("core", policy, trace, () => {}, { profile: KONG_PROFILE });
    for (let i = 0; i < trace.length; i++) {
      const h = hits[i];
      expect(envoy[i].cache, `envoy line ${i + 1}`).toEqual(h ? { age: h.age } : null);
      if (h) {
        expect(envoy[i].action, `envoy line ${i + 1}`).toBe("fallback");
        expect(envoy[i].status, `envoy line ${i + 1}`).toBe(h.status);
      }
      const kh = kongServes ? h : undefined;
      expect(kong[i].cache, `kong line ${i + 1}`).toEqual(kh ? { age: kh.age } : null);
      if (kh) expect({ action: kong[i].action, status: kong[i].status }, `kong line ${i + 1}`).toEqual({ action: "fallback", status: kh.status });
      const m = kongMiss[i];
      if (m) expect({ action: kong[i].action, status: kong[i].status }, `kong line ${i + 1}`).toEqual(m);
    }
  }, 120_000);

  it.each(PATHS)("answers identically through core and $via", async ({ via, profile }) => {
    const core = await simulate("core", policy, trace, () => {}, { profile });
    const gw = await simulate(via, policy, trace, () => {});
    for (let i = 0; i < trace.length; i++) {
      expect(gw[i], `${via}, line ${i + 1} t=${trace[i].t} ${trace[i].path}`).toEqual(core[i]);
    }
  }, 600_000);
});
