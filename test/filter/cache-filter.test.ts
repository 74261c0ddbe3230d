// The cache fallback (spec.fallback[].cache) in tandem.wasm's `circuit-breaker` root id, on
// the Envoy harness: responses stored from their frames in shared data (prefixed names,
// CAS on the set indexes), served when the breaker rejects or the upstream fails, the next
// fallback on a miss, the core's storage rules, bounds and LRU eviction, and entries one
// worker VM stored served by another.
import { describe, expect, it } from "vitest";
import { SharedData, WasmHost, type Pair, type Stream } from "../../sim/envoy";
import { ResponseFlag } from "../../sim/envoy/abi-status";
import { FILTER_WASM } from "../support/dist";

const ROOT_ID = "circuit-breaker";
const JSON_OK: Pair[] = [[":status", "200"], ["content-type", "application/json"], ["cache-control", "max-age=60"], ["x-envoy-upstream-service-time", "3"]];

const req = (path: string, extra: Pair[] = [], method = "GET"): Pair[] =>
  [[":method", method], [":path", path], [":authority", "shop"], ["x-request-id", "r"], ...extra];

function clock(start = 1_000_000) {
  const c = { now: start, fn: () => c.now };
  return c;
}

async function vm(configuration: object, sharedData: SharedData, c: { fn: () => number }, index = 0) {
  return WasmHost.load({ wasm: FILTER_WASM, rootId: ROOT_ID, configuration: JSON.stringify(configuration), sharedData, clock: c.fn, index });
}

// One call that reaches the upstream: its answer in frames (the last one ends the body).
function upstream(h: WasmHost, path: string, head: Pair[], frames: string[], extra: Pair[] = []) {
  const s = h.newStream();
  const r = s.requestHeaders(req(path, extra), true);
  expect(r.localReply, "admitted").toBeUndefined();
  const rh = s.responseHeaders(head, frames.length === 0);
  const passed: string[] = [];
  for (let i = 0; i < frames.length; i++) {
    const b = s.responseBody(frames[i], i === frames.length - 1);
    expect(b.action).toBe("continue");
    passed.push(b.body.toString("latin1"));
  }
  s.done();
  return { rh, passed };
}

// A call the breaker rejects: what the client gets.
function rejected(h: WasmHost, path: string, extra: Pair[] = []) {
  const s = h.newStream();
  const r = s.requestHeaders(req(path, extra), true);
  s.done();
  expect(r.action).toBe("stop");
  return r.localReply!;
}

const names = (sd: SharedData) => sd.keys("").filter((k) => k.startsWith("tandem:fc:"));
const CACHE = { maxEntries: 16, maxBodyBytes: 64, ttlMs: 300000 };
const LIST = (cache: object = CACHE) => ({
  consecutiveFailures: 1, openDurationMs: 600000,
  fallback: [{ cache }, { respond: { status: 503, body: "no cached answer" } }],
});

// Opens the breaker of key "shop": failed calls until one is rejected.
function open(h: WasmHost) {
  for (let i = 0; i < 200; i++) {
    const s = h.newStream();
    const r = s.requestHeaders(req("/boom"), true);
    if (r.localReply) { s.done(); return; }
    s.responseHeaders([[":status", "500"]], false);
    s.responseBody("x", true);
    s.done();
  }
  throw new Error("the breaker never opened");
}

describe("cache fallback on Envoy: stored from the response frames, served on rejection", () => {
  it("serves a stored answer (status, headers, body, Age, x-tandem-fallback) when the breaker rejects; a miss gets the next fallback", async () => {
    const c = clock();
    const sd = new SharedData();
    const h = await vm(LIST(), sd, c);
    const { passed } = upstream(h, "/api?q=1", JSON_OK, ['{"items":', "[1,2]}", ""]);
    expect(passed.join("")).toBe('{"items":[1,2]}');   // frames pass at once, untouched
    const stored = names(sd);
    expect(stored.some((n) => /^tandem:fc:[0-9a-f]{8}:i[0-9a-f]{5}$/.test(n))).toBe(true);
    expect(stored.some((n) => /^tandem:fc:[0-9a-f]{8}:e[0-9a-f]{5}$/.test(n))).toBe(true);
    open(h);
    c.now += 4_500;
    const hit = rejected(h, "/api?q=1");
    expect(hit.status).toBe(200);
    expect(hit.body).toBe('{"items":[1,2]}');
    expect(hit.details).toBe("tandem_fallback_cache");
    const hdr = Object.fromEntries(hit.headers);
    expect(hdr["x-tandem-fallback"]).toBe("cache");
    expect(hdr.age).toBe("4");
    expect(hdr["content-type"]).toBe("application/json");
    expect(hdr["cache-control"]).toBe("max-age=60");
    expect(hdr["retry-after"]).toBeUndefined();
    expect(hdr["x-envoy-upstream-service-time"]).toBeUndefined();   // the gateway's, not the answer's
    // another query, another path: misses -> the respond fallback
    for (const p of ["/api?q=2", "/other"]) {
      const miss = rejected(h, p);
      expect(miss.status).toBe(503);
      expect(miss.body).toBe("no cached answer");
    }
    // another vary combination (accept) misses; the same one hits
    expect(rejected(h, "/api?q=1", [["accept", "text/html"]]).status).toBe(503);
    // served while fresh: max-age 60 s is the upstream's freshness; ttlMs (5 min) bounds storage
    c.now += 200_000;
    expect(rejected(h, "/api?q=1").body).toBe('{"items":[1,2]}');
    c.now += 100_000;   // 304.5 s after storing: past ttlMs
    expect(rejected(h, "/api?q=1").status).toBe(503);
  });

  it("stores nothing the core's rules refuse: no-store, private, Set-Cookie, Authorization, a 500, POST", async () => {
    const c = clock();
    const sd = new SharedData();
    const h = await vm(LIST(), sd, c);
    upstream(h, "/ns", [[":status", "200"], ["cache-control", "no-store"]], ["a"]);
    upstream(h, "/pv", [[":status", "200"], ["cache-control", "private, max-age=60"]], ["a"]);
    upstream(h, "/ck", [[":status", "200"], ["set-cookie", "s=1"]], ["a"]);
    upstream(h, "/au", JSON_OK, ["a"], [["authorization", "Bearer t"]]);
    upstream(h, "/vary", [...JSON_OK, ["vary", "cookie"]], ["a"]);
    const post = h.newStream();
    post.requestHeaders(req("/post", [], "POST"), true);
    post.responseHeaders(JSON_OK, false);
    post.responseBody("a", true);
    post.done();
    expect(names(sd)).toEqual([]);
    open(h);   // the 500 was not stored either
    expect(names(sd)).toEqual([]);
    for (const p of ["/ns", "/pv", "/ck", "/vary", "/boom"]) expect(rejected(h, p).status, p).toBe(503);
  });

  it("a body above maxBodyBytes streams through untouched and is not stored; one at the limit is", async () => {
    const c = clock();
    const sd = new SharedData();
    const h = await vm(LIST({ ...CACHE, maxBodyBytes: 8 }), sd, c);
    const big = upstream(h, "/big", [[":status", "200"]], ["aaaa", "bbbbbb", "cc"]);
    expect(big.passed).toEqual(["aaaa", "bbbbbb", "cc"]);
    expect(names(sd)).toEqual([]);
    // announced too large: refused at the head
    upstream(h, "/cl", [[":status", "200"], ["content-length", "9"]], ["aaaaaaaaa"]);
    expect(names(sd)).toEqual([]);
    upstream(h, "/fits", [[":status", "200"]], ["aaaa", "bbbb", ""]);
    open(h);
    expect(rejected(h, "/fits").body).toBe("aaaabbbb");
    expect(rejected(h, "/big").status).toBe(503);
  });

  it("on: [upstreamFailure]: a failed call is answered from the cache, else by the next fallback", async () => {
    const c = clock();
    const sd = new SharedData();
    const cfg = {
      consecutiveFailures: 100,
      fallback: [{ cache: CACHE, on: ["upstreamFailure"] }, { respond: { status: 200, body: "fallback" }, on: ["upstreamFailure"] }],
    };
    const h = await vm(cfg, sd, c);
    upstream(h, "/api", JSON_OK, ["[1]", ""]);
    // Envoy's own 503 for a refused upstream (flags UF): the cached answer replaces it
    const s = h.newStream({ "response.flags": String(ResponseFlag.UpstreamConnectionFailure) });
    s.requestHeaders(req("/api"), true);
    const r = s.responseHeaders([[":status", "503"], ["content-length", "91"]], false);
    s.done();
    expect(r.localReply?.status).toBe(200);
    expect(r.localReply?.body).toBe("[1]");
    expect(Object.fromEntries(r.localReply!.headers)["x-tandem-fallback"]).toBe("cache");
    // no entry: the respond fallback
    const m = h.newStream();
    m.requestHeaders(req("/none"), true);
    expect(m.responseHeaders([[":status", "502"]], false).localReply?.body).toBe("fallback");
    m.done();
    expect(h.metrics["wasmcustom.tandem_breaker_upstream_fallback"]).toBe(2);
  });

  it("entries one worker VM stored are served by another (shared data)", async () => {
    const c = clock();
    const sd = new SharedData();
    const a = await vm(LIST(), sd, c, 0);
    const b = await vm(LIST(), sd, c, 1);
    upstream(a, "/api", JSON_OK, ["[42]", ""]);
    open(b);
    expect(rejected(b, "/api").body).toBe("[42]");
  });

  it("bounded: a full set evicts its least recently used entry; names stay within maxEntries", async () => {
    const c = clock();
    const sd = new SharedData();
    // maxEntries 2: one set of two ways, so LRU is exact
    const h = await vm({ ...LIST({ ...CACHE, maxEntries: 2 }), consecutiveFailures: 100 }, sd, c);
    upstream(h, "/a", JSON_OK, ["A", ""]);
    upstream(h, "/b", JSON_OK, ["B", ""]);
    upstream(h, "/a", JSON_OK, ["A2", ""]);   // stored again: /a is now the most recently used
    upstream(h, "/c", JSON_OK, ["C", ""]);    // evicts /b (least recently used), not /a (oldest)
    const entries = names(sd).filter((n) => n.includes(":e"));
    expect(entries.length).toBe(2);
    expect(names(sd).filter((n) => n.includes(":i")).length).toBe(1);
    const forced = await vm({ ...LIST({ ...CACHE, maxEntries: 2 }), consecutiveFailures: 100 }, sd, c, 1);
    // the same configuration text: the same names (another worker VM); open the breaker
    open(forced);
    expect(rejected(forced, "/b").status).toBe(503);
    expect(rejected(forced, "/a").body).toBe("A2");
    expect(rejected(forced, "/c").body).toBe("C");
  });
});

describe("cache fallback on Envoy: memory stays bounded", () => {
  it("filled five times over: at most maxEntries entries of <= maxBodyBytes + their key and headers, plus the set indexes; the VM's memory does not grow", async () => {
    const c = clock();
    const sd = new SharedData();
    const maxEntries = 32;
    const maxBodyBytes = 256;
    const h = await vm({ consecutiveFailures: 10000, minimumCalls: 100000, fallback: [{ cache: { maxEntries, maxBodyBytes, ttlMs: 300000 } }] }, sd, c);
    const body = "x".repeat(maxBodyBytes);
    const fill = (from: number) => {
      for (let i = from; i < from + maxEntries * 5; i++) {
        c.now += 1;
        upstream(h, `/item/${i}`, [...JSON_OK, ["content-length", String(maxBodyBytes)]], [body.slice(0, 100), body.slice(100), ""]);
      }
    };
    fill(0);
    const pagesAfterFirst = h.memoryPages();
    fill(1000);
    const entries = names(sd).filter((n) => n.includes(":e"));
    const indexes = names(sd).filter((n) => n.includes(":i"));
    const bytes = (ns: string[]) => ns.reduce((t, n) => t + sd.get("", n)!.value.length, 0);
    const sets = Math.ceil(maxEntries / 8);
    expect(entries.length).toBe(maxEntries);        // every slot used, none beyond
    expect(indexes.length).toBe(sets);
    expect(bytes(indexes)).toBe(sets * (4 + 8 * 16)); // wasm/core/cache/sets.ts: a u32 counter + 16 bytes a way
    // an entry: 40-byte head + key (method, host, path, 2 vary headers: < 64 bytes here) +
    // kept headers (content-type, cache-control: < 96 bytes as pairs) + the body
    const perEntry = 40 + 64 + 96 + maxBodyBytes;
    expect(bytes(entries)).toBeLessThanOrEqual(maxEntries * perEntry);
    expect(bytes(entries)).toBeGreaterThan(maxEntries * maxBodyBytes);   // full: the bound is what it holds
    expect(h.memoryPages()).toBe(pagesAfterFirst);
  });
});
