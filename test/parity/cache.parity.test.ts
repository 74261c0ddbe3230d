// Cache fallback parity (spec.fallback[].cache, issue 16): the same traces through the
// core and through each gateway, line by line. Envoy's circuit-breaker filter stores and
// serves entries (wasm/filter/cache-fallback.ts); Kong has no cache yet (the opt-in
// `fallback-cache` plugin is to come), so on Kong a `cache` is always a miss and the next
// fallback answers: the core models each (GatewayProfile.servesCache), and each model
// must match its gateway. The cases: a hit, a miss, another vary combination, no-store,
// eviction (LRU), the list order [cache, respond] and [cache, reroute], and a failed
// call answered from the cache (on: [upstreamFailure], Envoy only).
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
    kongMiss: { 5: { action: "fallback", status: 503 } },
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
    kongMiss: { 5: { action: "fallback", status: 200 }, 6: { action: "fallback", status: 200 } },
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
    kongMiss: { 7: { action: "fallback", status: 503 }, 9: { action: "fallback", status: 503 } },
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
    kongMiss: { 1: { action: "forward", status: 503 }, 2: { action: "forward", status: 502 } },
  },
];

describe.each(scenarios)("cache parity: $name", ({ policy, trace, hits, kongMiss }) => {
  it("Envoy's model serves the hits; Kong's (no cache yet) gives the next fallback there", async () => {
    const envoy = await simulate("core", policy, trace, () => {}, { profile: ENVOY_PROFILE });
    const kong = await simulate("core", policy, trace, () => {}, { profile: KONG_PROFILE });
    for (let i = 0; i < trace.length; i++) {
      const h = hits[i];
      expect(envoy[i].cache, `envoy line ${i + 1}`).toEqual(h ? { age: h.age } : null);
      if (h) {
        expect(envoy[i].action, `envoy line ${i + 1}`).toBe("fallback");
        expect(envoy[i].status, `envoy line ${i + 1}`).toBe(h.status);
      }
      expect(kong[i].cache, `kong line ${i + 1}`).toBeNull();
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
