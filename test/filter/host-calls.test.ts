// The proxy-wasm host calls tandem.wasm makes in a stream's request headers (issue 17:
// no more host calls than the Kong plugin makes PDK round trips, bench/host-calls.ts
// counts whole streams), pinned by import name so a regression fails, and the header
// effects those fewer calls must keep: every client copy of tandem's own headers gone.
//   experiment  one pairs read; the variant set with one replace (Envoy's setCopy drops
//               every copy: sim/envoy/header-map.ts); no remove for a header the pairs
//               show the client did not send.
//   breaker     the request headers in one pairs read; an outcome written on the value
//               its admission read (no second proxy_get_shared_data), unless another VM
//               wrote the slot since: then read again, the outcome still counted.
import { describe, expect, it } from "vitest";
import { SharedData, StatsStore, WasmHost, type Pair } from "../../sim/envoy";
import { FILTER_WASM } from "../support/dist";
import { CHECKOUT, TAGGED } from "../support/policies";

// Keyed by x-user-id alone: too few header reads for the pairs (wasm/filter/facts.ts PAIRS_THRESHOLD).
const BY_USER = { name: "by-user", stickiness: { sources: ["header:x-user-id"] }, variants: CHECKOUT.variants };

const UP = { "source.address": "10.0.0.1:5000", "upstream.address": "10.0.0.2:8080" };
const BASE: Pair[] = [[":method", "GET"], [":path", "/shop/cart"], [":authority", "shop"], ["x-request-id", "r-1"]];
const COOKIE: Pair = ["cookie", "tandem-uid=0123456789abcdef0123456789abcdef"];

// Host calls by import name (env. dropped) while `f` runs.
function counted(h: WasmHost, f: () => void): Record<string, number> {
  const calls = new Map<string, number>();
  h.vm.hostCalls = calls;
  try { f(); } finally { h.vm.hostCalls = null; }
  return Object.fromEntries([...calls.entries()].map(([k, v]) => [k.replace(/^env\./, ""), v]));
}

async function experiment(config: object) {
  const h = await WasmHost.load({ wasm: FILTER_WASM, rootId: "experiment", configuration: JSON.stringify({ ...config, metrics: false }) });
  // a first stream pays the root's one-time work
  const s = h.newStream(UP);
  s.requestHeaders([...BASE, COOKIE], true);
  s.done();
  return h;
}

// One stream's request headers: the calls they made and the headers the upstream gets.
function requestCalls(h: WasmHost, headers: Pair[]) {
  const s = h.newStream(UP);
  let out: Pair[] = [];
  const calls = counted(h, () => { out = s.requestHeaders(headers, true).headers; });
  s.done();
  return { calls, out, named: (k: string) => out.filter(([n]) => n === k).map(([, v]) => v) };
}

describe("experiment filter: host calls of the request headers", () => {
  it("a policy read from the pairs (path scope): one pairs read and one replace, no remove for headers the client did not send", async () => {
    const h = await experiment(TAGGED);
    const r = requestCalls(h, [...BASE, COOKIE]);
    expect(r.calls).toEqual({ proxy_get_header_map_pairs: 1, proxy_replace_header_map_value: 2 });
    expect(r.named("x-tandem-variant")).toHaveLength(1);
    expect(r.named("x-tandem-experiments")).toHaveLength(1);
  });

  it("a client's copies still go: the replace drops both variant copies, the tags' replace both tag copies", async () => {
    const h = await experiment(TAGGED);
    const forged: Pair[] = [["x-tandem-variant", "canary"], ["x-tandem-experiments", "recs=B"], ["x-tandem-variant", "canary"], ["x-tandem-experiments", "pricing=low"]];
    const clean = requestCalls(h, [...BASE, COOKIE]);
    const r = requestCalls(h, [...BASE, COOKIE, ...forged]);
    expect(r.calls).toEqual({ proxy_get_header_map_pairs: 1, proxy_replace_header_map_value: 2 });
    expect(r.named("x-tandem-variant")).toEqual(clean.named("x-tandem-variant"));
    expect(r.named("x-tandem-experiments")).toEqual(clean.named("x-tandem-experiments"));
  });

  it("out of scope: no call beyond the pairs without client copies, one remove per forged header", async () => {
    const h = await experiment(TAGGED);
    const path: Pair[] = BASE.map(([k, v]) => [k, k === ":path" ? "/static/app.js" : v]);
    expect(requestCalls(h, [...path, COOKIE]).calls).toEqual({ proxy_get_header_map_pairs: 1 });
    const r = requestCalls(h, [...path, COOKIE, ["x-tandem-variant", "canary"], ["x-tandem-experiments", "recs=B"], ["x-tandem-variant", "stable"]]);
    expect(r.calls).toEqual({ proxy_get_header_map_pairs: 1, proxy_remove_header_map_value: 2 });
    expect(r.named("x-tandem-variant")).toEqual([]);
    expect(r.named("x-tandem-experiments")).toEqual([]);
  });

  it("a policy reading headers one by one: the variant replaced, tandem's tag header removed unseen", async () => {
    const h = await experiment(BY_USER);
    const r = requestCalls(h, [...BASE, ["x-user-id", "u1"], ["x-tandem-variant", "canary"], ["x-tandem-variant", "canary"]]);
    expect(r.calls.proxy_get_header_map_pairs ?? 0).toBe(0);
    expect(r.calls.proxy_get_header_map_value).toBeGreaterThan(0);
    expect(r.calls.proxy_replace_header_map_value).toBe(1);
    expect(r.calls.proxy_remove_header_map_value).toBe(1);
    expect(r.calls.proxy_add_header_map_value ?? 0).toBe(0);
    expect(r.named("x-tandem-variant")).toHaveLength(1);
  });
});

describe("circuit-breaker filter: host calls per stream", () => {
  // as `tandem render` writes a breaker-only policy: no fault mark to read
  const CONFIG = { window: { type: "count", size: 100 }, minimumCalls: 20, failureRateThreshold: 50, hasFaults: false };
  const REQ: Pair[] = [...BASE, ["x-tandem-variant", "stable"]];

  async function breakers(n: number, sd: SharedData) {
    const stats = new StatsStore();
    const out: WasmHost[] = [];
    for (let i = 0; i < n; i++) out.push(await WasmHost.load({ wasm: FILTER_WASM, rootId: "circuit-breaker", configuration: JSON.stringify(CONFIG), sharedData: sd, stats, index: i }));
    return out;
  }
  const stream = (h: WasmHost) => {
    const s = h.newStream(UP);
    return {
      request: () => counted(h, () => { expect(s.requestHeaders(REQ, true).action).toBe("continue"); }),
      finish: (status = "204") => counted(h, () => { s.responseHeaders([[":status", status]], false); s.done(); }),
    };
  };
  const calls = (sd: SharedData) => sd.keys("").filter((k) => k.startsWith("tandem:cb:")).map((k) => sd.get("", k)!.value.readUInt32LE(16 + 68));

  it("request: one pairs read, the clock, one shared-data read; outcome: one write, no read", async () => {
    const sd = new SharedData();
    const [h] = await breakers(1, sd);
    const first = stream(h);
    first.request();
    first.finish();
    const s = stream(h);
    expect(s.request()).toEqual({ proxy_get_header_map_pairs: 1, proxy_get_current_time_nanoseconds: 1, proxy_get_shared_data: 1 });
    expect(s.finish()).toEqual({ proxy_get_current_time_nanoseconds: 1, proxy_get_header_map_value: 1, proxy_set_shared_data: 1 });
    expect(calls(sd)).toEqual([2]);
  });

  it("another VM wrote the slot between admission and outcome: read again, both outcomes counted, one CAS retry", async () => {
    const sd = new SharedData();
    const [a, b] = await breakers(2, sd);
    const warm = stream(a);
    warm.request();
    warm.finish();
    const s = stream(a);
    s.request();
    const other = stream(b);
    other.request();
    other.finish();
    const done = s.finish();
    expect(done.proxy_get_shared_data).toBe(1);
    expect(done.proxy_set_shared_data).toBe(2);
    expect(calls(sd)).toEqual([3]);
    expect(a.metrics["wasmcustom.tandem_breaker_cas_retries"]).toBe(1);
  });

  it("two streams of one VM interleaved: the second outcome reads again, nothing lost", async () => {
    const sd = new SharedData();
    const [h] = await breakers(1, sd);
    const x = stream(h);
    const y = stream(h);
    x.request();
    y.request();
    x.finish();
    const late = y.finish();
    expect(late.proxy_get_shared_data).toBe(1);
    expect(calls(sd)).toEqual([2]);
  });
});
