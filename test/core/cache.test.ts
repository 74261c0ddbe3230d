// The cache fallback in the core (wasm/core/cache/) through core-js: config with
// defaults and field-path errors, the storage rules (RFC 9111, RFC 5861 stale-if-error),
// the key (method, host, path with query, vary headers) and placement with LRU
// eviction. What the Kong plugin and `tandem simulate --via core` run; the Envoy filter
// links the same code.
import { describe, expect, it } from "vitest";
import { CoreError, FactKind, type BreakerPlan, type HeaderPair } from "../../core-js/tandem-core";
import { loadCore } from "../support/dist";

const core = loadCore();

function configError(config: unknown): string {
  try { core.configureBreaker(JSON.stringify(config)); } catch (e) {
    expect(e).toBeInstanceOf(CoreError);
    return (e as Error).message;
  }
  return "";
}

// Request facts by need: method, host, path, headers (lowercase names).
interface Req { method?: string; host?: string; path?: string; headers?: Record<string, string> }
function facts(plan: BreakerPlan, r: Req): Array<string | undefined> {
  return plan.needs.map((n) => {
    if (n.kind === FactKind.Method) return r.method ?? "GET";
    if (n.kind === FactKind.Host) return r.host ?? "api.example.com";
    if (n.kind === FactKind.Path) return r.path ?? "/items?page=1";
    if (n.kind === FactKind.Header) return r.headers?.[n.name];
    return undefined;
  });
}
const keyOf = (plan: BreakerPlan, r: Req = {}) => core.cacheKey(plan, facts(plan, r));
const JSON_HEADERS: HeaderPair[] = [["content-type", "application/json"], ["content-length", "11"]];

function cachePlan(cache: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): BreakerPlan {
  return core.configureBreaker(JSON.stringify({ fallback: [{ cache, on: ["open", "upstreamFailure"] }, { respond: { status: 503 } }], ...extra }));
}

function storeAndFind(plan: BreakerPlan, headers: HeaderPair[], status = 200, r: Req = {}, nowMs = 1000) {
  const k = keyOf(plan, r).key!;
  const stored = core.cacheStore(plan, k, status, headers, Buffer.from('{"ok":true}'), nowMs);
  return { stored, hit: core.cacheLookup(plan, k, nowMs + 1) };
}

describe("cache config", () => {
  it("fills issue 16's defaults and keeps the list order", () => {
    const p = cachePlan();
    expect(p.fallback).toMatchObject({
      kind: "respond", status: 503, onOpen: true, onUpstreamFailure: false,
      cache: {
        methods: ["GET", "HEAD"], maxEntries: 1000, maxBodyBytes: 65536, ttlMs: 300000, varyHeaders: ["accept", "accept-language"],
        statuses: [200, 203, 204, 301, 404], cacheAuthorized: false, on: ["open", "upstreamFailure"],
      },
    });
    // the key's facts join the breaker's needs
    expect(p.needs.map((n) => [n.kind, n.name])).toEqual(expect.arrayContaining([
      [FactKind.Method, ""], [FactKind.Host, ""], [FactKind.Path, ""], [FactKind.Header, "authorization"], [FactKind.Header, "accept"], [FactKind.Header, "accept-language"],
    ]));
    core.releaseBreaker(p);
  });

  it("accepts the single form with a cache alone: a miss answers as without a fallback", () => {
    const p = core.configureBreaker(JSON.stringify({ fallback: { cache: { maxEntries: 8 } } }));
    expect(p.fallback).toMatchObject({ kind: "none", onOpen: false, onUpstreamFailure: false, cache: { maxEntries: 8, on: ["open"] } });
    core.releaseBreaker(p);
  });

  it("keeps the single respond / reroute forms as they were (no cache field)", () => {
    const p = core.configureBreaker(JSON.stringify({ fallback: { reroute: { variant: "stable" } } }));
    expect(p.fallback).toEqual({ kind: "reroute", variant: "stable", upstream: null, onOpen: true, onUpstreamFailure: false });
    core.releaseBreaker(p);
  });

  const bad: Array<[string, unknown, string]> = [
    ["a body above 1 MiB per entry", { fallback: { cache: { maxBodyBytes: 1048577 } } }, "fallback.cache.maxBodyBytes: must be between 1 and 1048576, got 1048577"],
    ["more than 100,000 entries", { fallback: [{ cache: { maxEntries: 100001 } }] }, "fallback[0].cache.maxEntries: must be between 1 and 100000, got 100001"],
    ["an unknown method", { fallback: { cache: { methods: ["GET", "FETCH"] } } }, 'fallback.cache.methods[1]: must be one of GET, HEAD (the methods whose responses a cache may store, RFC 9110 9.2.3), got "FETCH"'],
    ["a method in lowercase", { fallback: { cache: { methods: ["get"] } } }, 'fallback.cache.methods[0]: must be one of GET, HEAD (the methods whose responses a cache may store, RFC 9110 9.2.3), got "get"'],
    ["POST", { fallback: { cache: { methods: ["POST"] } } }, 'fallback.cache.methods[0]: must be one of GET, HEAD (the methods whose responses a cache may store, RFC 9110 9.2.3), got "POST"'],
    ["ttlMs 0", { fallback: { cache: { ttlMs: 0 } } }, "fallback.cache.ttlMs: must be between 1 and 86400000, got 0"],
    ["no methods", { fallback: { cache: { methods: [] } } }, "fallback.cache.methods: must not be empty"],
    ["a repeated method", { fallback: { cache: { methods: ["GET", "GET"] } } }, 'fallback.cache.methods[1]: must be unique, got "GET"'],
    ["a partial status", { fallback: { cache: { statuses: [200, 206] } } }, "fallback.cache.statuses[1]: must be a heuristically cacheable status (RFC 9110 15.1): 200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501, got 206"],
    ["a bad vary header", { fallback: { cache: { varyHeaders: ["accept", "bad header"] } } }, 'fallback.cache.varyHeaders[1]: must be an HTTP header name (token characters, at most 128), got "bad header"'],
    ["a vary header twice", { fallback: { cache: { varyHeaders: ["Accept", "accept"] } } }, 'fallback.cache.varyHeaders[1]: must be unique (header names ignore case), got "accept"'],
    ["an unknown cache field", { fallback: { cache: { maxAge: 1 } } }, "fallback.cache.maxAge: unknown field (allowed: methods, maxEntries, maxBodyBytes, ttlMs, varyHeaders, statuses, cacheAuthorized)"],
    ["cache with respond in one item", { fallback: { cache: {}, respond: {} } }, "fallback: must have exactly one of respond, reroute, cache"],
    ["an empty list", { fallback: [] }, "fallback: must have 1 or 2 items: a cache, and a respond or a reroute, got 0"],
    ["three items", { fallback: [{ cache: {} }, { respond: {} }, { reroute: { variant: "a" } }] }, "fallback: must have 1 or 2 items: a cache, and a respond or a reroute, got 3"],
    ["two caches", { fallback: [{ cache: {} }, { cache: {} }] }, "fallback[1].cache: only one fallback may be a cache"],
    ["two answers", { fallback: [{ respond: {} }, { reroute: { variant: "a" } }] }, "fallback[1]: only one fallback may be a respond or a reroute"],
    ["a cache after a respond for the same cases", { fallback: [{ respond: {} }, { cache: {} }] }, "fallback[1]: is never used: the fallback before it answers every case of its on"],
    ["a bad item", { fallback: [5] }, "fallback[0]: must be an object, got 5"],
  ];
  it.each(bad)("refuses %s", (_what, config, message) => {
    expect(configError(config)).toBe(message);
  });

  it("takes a cache after a respond when their cases differ", () => {
    const p = core.configureBreaker(JSON.stringify({ fallback: [{ respond: {}, on: ["open"] }, { cache: {}, on: ["upstreamFailure"] }] }));
    expect(p.fallback).toMatchObject({ onOpen: true, cache: { on: ["upstreamFailure"] } });
    core.releaseBreaker(p);
  });

  it("accepts the bounds themselves: 1 MiB, 100,000 entries, ttlMs 1", () => {
    expect(configError({ fallback: { cache: { maxBodyBytes: 1048576, maxEntries: 100000, ttlMs: 1 } } })).toBe("");
  });
});

describe("cache key", () => {
  const p = cachePlan();
  it("is method, host, path with query and the vary headers' values", () => {
    const a = keyOf(p, { headers: { accept: "application/json" } }).key!;
    expect(keyOf(p, { headers: { accept: "application/json" } }).key!.equals(a)).toBe(true);
    expect(keyOf(p, { host: "API.Example.com", headers: { accept: "application/json" } }).key!.equals(a)).toBe(true);   // host ignores case
    expect(keyOf(p, { headers: { accept: "text/html" } }).key!.equals(a)).toBe(false);
    expect(keyOf(p, { headers: { accept: "application/json", "accept-language": "de" } }).key!.equals(a)).toBe(false);
    expect(keyOf(p, { path: "/items?page=2", headers: { accept: "application/json" } }).key!.equals(a)).toBe(false);
    expect(keyOf(p, { method: "HEAD", headers: { accept: "application/json" } }).key!.equals(a)).toBe(false);
    // an absent vary header and an empty one are different combinations
    expect(keyOf(p, { headers: { accept: "" } }).key!.equals(keyOf(p, {}).key!)).toBe(false);
    // the path as path rules see it on both gateways (/a/../items = /items), the query as sent
    expect(keyOf(p, { path: "/x/../items?page=1" }).key!.equals(keyOf(p, {}).key!)).toBe(true);
  });

  it("none for methods outside cache.methods or a request with Authorization", () => {
    expect(keyOf(p, { method: "POST" })).toEqual({ key: null, why: "method" });
    expect(keyOf(p, { headers: { authorization: "Bearer x" } })).toEqual({ key: null, why: "authorization" });
    const q = cachePlan({ cacheAuthorized: true });
    expect(keyOf(q, { headers: { authorization: "Bearer x" } }).key).not.toBeNull();
    core.releaseBreaker(q);
  });
});

describe("storage rules (RFC 9111, RFC 5861)", () => {
  const cases: Array<[string, HeaderPair[], number, string]> = [
    ["a plain 200", JSON_HEADERS, 200, "stored"],
    ["Cache-Control: no-store", [...JSON_HEADERS, ["cache-control", "max-age=60, no-store"]], 200, "no-store"],
    ["Cache-Control: private (any case)", [["Cache-Control", "PRIVATE"]], 200, "private"],
    ["Cache-Control: private=\"set-cookie\"", [["cache-control", 'private="set-cookie"']], 200, "private"],
    ["Cache-Control: no-cache", [["cache-control", "no-cache"]], 200, "no-cache"],
    ["Set-Cookie", [["set-cookie", "s=1"]], 200, "set-cookie"],
    ["Vary: *", [["vary", "*"]], 200, "vary"],
    ["Vary naming a header outside varyHeaders", [["vary", "Accept, Cookie"]], 200, "vary"],
    ["Vary naming only varyHeaders", [["vary", "Accept-Language,accept"]], 200, "stored"],
    ["a status outside cache.statuses", JSON_HEADERS, 500, "status"],
    ["a 404 (in the defaults)", JSON_HEADERS, 404, "stored"],
    ["Content-Length above maxBodyBytes", [["content-length", "65537"]], 200, "too-large"],
    ["must-revalidate without max-age", [["cache-control", "must-revalidate"]], 200, "no-lifetime"],
    ["stale-if-error=0 and Age beyond max-age", [["cache-control", "max-age=10, stale-if-error=0"], ["age", "20"]], 200, "no-lifetime"],
  ];
  const p = cachePlan();
  it.each(cases)("%s: %s", (_what, headers, status, want) => {
    expect(core.cacheCheck(p, status, headers)).toBe(want);
  });

  it("serves the entry with its status, headers, body, Age, x-tandem-fallback and x-tandem-answer; never framing headers", () => {
    const q = cachePlan();
    const k = keyOf(q).key!;
    expect(core.cacheLookup(q, k, 0)).toBeNull();
    expect(core.cacheStore(q, k, 203, [["content-type", "application/json"], ["etag", '"v1"'], ["connection", "close"], ["content-length", "11"], ["age", "3"]], Buffer.from('{"ok":true}'), 10_000)).toBe("stored");
    const hit = core.cacheLookup(q, k, 12_500)!;
    expect(hit.status).toBe(203);
    expect(hit.body.toString()).toBe('{"ok":true}');
    expect(hit.headers).toEqual([["content-type", "application/json"], ["etag", '"v1"'], ["age", "5"], ["x-tandem-fallback", "cache"], ["x-tandem-answer", "fallback"]]);
    core.releaseBreaker(q);
  });

  it("serves for ttlMs after storing, then not", () => {
    const q = cachePlan({ ttlMs: 1000 });
    const k = keyOf(q).key!;
    core.cacheStore(q, k, 200, JSON_HEADERS, Buffer.from("x"), 5000);
    expect(core.cacheLookup(q, k, 5999)).not.toBeNull();
    expect(core.cacheLookup(q, k, 6000)).toBeNull();
    core.releaseBreaker(q);
  });

  it("honours stale-if-error: freshness + N seconds minus Age, within ttlMs", () => {
    const q = cachePlan();
    const k = keyOf(q).key!;
    core.cacheStore(q, k, 200, [["cache-control", "max-age=5, stale-if-error=10"], ["age", "2"]], Buffer.from("x"), 0);
    expect(core.cacheLookup(q, k, 12_999)!.headers).toContainEqual(["age", "14"]);
    expect(core.cacheLookup(q, k, 13_000)).toBeNull();
    core.releaseBreaker(q);
  });

  it("never serves a must-revalidate response stale", () => {
    const q = cachePlan();
    const k = keyOf(q).key!;
    core.cacheStore(q, k, 200, [["cache-control", "max-age=3, must-revalidate, stale-if-error=60"]], Buffer.from("x"), 0);
    expect(core.cacheLookup(q, k, 2999)).not.toBeNull();
    expect(core.cacheLookup(q, k, 3000)).toBeNull();
    core.releaseBreaker(q);
  });

  it("stores no body above maxBodyBytes (a response without Content-Length)", () => {
    const q = cachePlan({ maxBodyBytes: 4 });
    const k = keyOf(q).key!;
    expect(core.cacheStore(q, k, 200, [], Buffer.from("12345"), 0)).toBe("too-large");
    expect(core.cacheStore(q, k, 200, [], Buffer.from("1234"), 0)).toBe("stored");
    core.releaseBreaker(q);
  });

  it("never serves an entry to another vary combination", () => {
    const q = cachePlan();
    const { stored, hit } = storeAndFind(q, JSON_HEADERS, 200, { headers: { accept: "application/json" } });
    expect(stored).toBe("stored");
    expect(hit).not.toBeNull();
    expect(core.cacheLookup(q, keyOf(q, { headers: { accept: "text/html" } }).key!, 2000)).toBeNull();
    expect(core.cacheLookup(q, keyOf(q, {}).key!, 2000)).toBeNull();
    core.releaseBreaker(q);
  });
});

describe("placement: bounded, least recently used evicted, sizes counted", () => {
  it("filled five times over: at most maxEntries entries within the documented bytes, and the module's memory stops growing", () => {
    // What a Kong plugin server holds (the core's local store); the Envoy filter's shared
    // data is measured in test/filter/cache-filter.test.ts.
    const maxEntries = 64, maxBodyBytes = 4096;
    const q = cachePlan({ maxEntries, maxBodyBytes });
    const body = Buffer.alloc(maxBodyBytes, 0x61);
    const fill = (round: number) => {
      for (let i = 0; i < maxEntries; i++) {
        const k = keyOf(q, { path: `/items/${round}/${i}` }).key!;
        expect(core.cacheStore(q, k, 200, [["content-type", "application/json"]], body, round * 1000 + i)).not.toBe("too-large");
      }
    };
    fill(0);
    const after1 = core.memoryBytes();
    for (let round = 1; round < 5; round++) fill(round);
    const st = core.cacheStats(q)!;
    expect(st.entries).toBeLessThanOrEqual(maxEntries);
    expect(st.evictions).toBeGreaterThanOrEqual(4 * maxEntries - maxEntries);
    // docs/policy.md "Bounded": maxEntries x (body + kept headers + key + 40 bytes), the
    // headers as a proxy-wasm pairs list (4 bytes, then 10 a header plus its name and value)
    const keyBytes = keyOf(q, { path: "/items/4/63" }).key!.length;
    const headerBytes = 4 + 10 + "content-type".length + "application/json".length;
    expect(st.entryBytes).toBeLessThanOrEqual(maxEntries * (maxBodyBytes + headerBytes + keyBytes + 40));
    expect(core.memoryBytes()).toBe(after1);
    core.releaseBreaker(q);
  });

  it("keeps at most maxEntries; a full set evicts its least recently used entry", () => {
    const q = cachePlan({ maxEntries: 4 });   // one set of 4 ways: exact LRU
    const k = (i: number) => keyOf(q, { path: `/items/${i}` }).key!;
    for (let i = 0; i < 4; i++) expect(core.cacheStore(q, k(i), 200, JSON_HEADERS, Buffer.from(`{"i":${i}}`), i)).toBe("stored");
    expect(core.cacheLookup(q, k(0), 10)).not.toBeNull();   // 0 used again: 1 is now the oldest
    expect(core.cacheStore(q, k(4), 200, JSON_HEADERS, Buffer.from("{}"), 11)).toBe("evicted");
    expect(core.cacheLookup(q, k(1), 12)).toBeNull();
    for (const i of [0, 2, 3, 4]) expect(core.cacheLookup(q, k(i), 12)).not.toBeNull();
    // a newer response for a key replaces its entry, no eviction
    expect(core.cacheStore(q, k(2), 200, JSON_HEADERS, Buffer.from('{"v":2}'), 13)).toBe("stored");
    expect(core.cacheLookup(q, k(2), 14)!.body.toString()).toBe('{"v":2}');
    const st = core.cacheStats(q)!;
    expect(st).toMatchObject({ entries: 4, stores: 6, evictions: 1 });
    expect(st.indexBytes).toBe(4 + 4 * 16);
    expect(st.entryBytes).toBeGreaterThan(4 * 40);
    core.releaseBreaker(q);
  });
});
