// The Kong plugin `fallback-cache` with `circuit-breaker`, on the real kong-js-pluginserver
// behind the Kong harness: the cache plugin stores answers in its buffered response
// phase and hands a servable one to the breaker through kong.ctx.shared; the breaker
// serves it on a rejection. Without the cache plugin, or with its plugin server dead
// (Kong then runs the request without it), a rejection still never reaches the upstream:
// the next fallback answers.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, beforeAll, afterAll, describe, expect, it } from "vitest";
import { startKong, type KongGateway, type KongPluginSpec } from "../../sim/kong";
import { METRICS_PORT_ENV } from "../../plugins/shared/metrics";
import { CACHE_LOOKUPS } from "../../wasm/core/metrics/catalog";
import { KONG_DIR } from "../support/dist";

const BIN = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
let upstream: http.Server;
let addr: { host: string; port: number };
const hits: string[] = [];

beforeAll(async () => {
  upstream = http.createServer((req, res) => {
    req.resume();
    hits.push(`${req.method} ${req.url}`);
    if (req.url === "/ok") res.writeHead(200, { "content-type": "application/json", "cache-control": "max-age=60", link: ["</a>; rel=a", "</b>; rel=b"] }).end('{"items":[1,2]}');
    else if (req.url === "/bin") res.writeHead(200, { "content-type": "application/octet-stream", "cache-control": "max-age=60" }).end(BIN);
    else if (req.url === "/big") res.writeHead(200, { "cache-control": "max-age=60" }).end("x".repeat(2048));
    else res.writeHead(500, { "content-type": "text/plain" }).end("boom");
  });
  await new Promise<void>((ok) => upstream.listen(0, "127.0.0.1", ok));
  addr = { host: "127.0.0.1", port: (upstream.address() as AddressInfo).port };
});
afterAll(async () => { upstream.closeAllConnections(); await new Promise((ok) => upstream.close(ok)); });

// Kong's breaker config as tandem render writes it (the list under `fallbacks`); the
// fallback-cache plugin gets the same one.
const CONFIG = {
  policy: "t", key: "route", consecutiveFailures: 2, minimumCalls: 100, openDurationMs: 600000,
  fallbacks: [{ cache: { maxEntries: 8, maxBodyBytes: 1024 } }, { respond: { status: 503, body: "try later" } }],
};

let gw: KongGateway | undefined;
const T0 = 1_000_000;
afterEach(async () => { await gw?.close(); gw = undefined; });

async function start(withCache: boolean, metrics = false): Promise<KongGateway> {
  const plugins: KongPluginSpec[] = [{ name: "circuit-breaker", dir: KONG_DIR("circuit-breaker"), config: CONFIG, ...(metrics ? { env: { [METRICS_PORT_ENV]: "0" } } : {}) }];
  if (withCache) plugins.push({ name: "fallback-cache", dir: KONG_DIR("fallback-cache"), config: CONFIG });
  // The harness's virtual clock: entries' Age and freshness do not depend on the load.
  gw = await startKong({ plugins, upstreams: { svc: addr }, defaultUpstream: "svc", retries: 0, virtualClock: true });
  await gw.setNow(T0);
  return gw;
}

async function req(g: KongGateway, path: string, method = "GET") {
  const res = await fetch(g.url + path, { method });
  const body = Buffer.from(await res.arrayBuffer());
  await g.logDone();
  return { status: res.status, headers: res.headers, body };
}

// Stores /ok and /bin (with the cache plugin), then opens the breaker.
async function warmAndOpen(g: KongGateway): Promise<void> {
  expect((await req(g, "/ok")).status).toBe(200);
  expect((await req(g, "/bin")).status).toBe(200);
  expect((await req(g, "/big")).status).toBe(200);
  for (let i = 0; i < 2; i++) expect((await req(g, "/boom")).status).toBe(500);
}

describe("Kong fallback-cache + circuit-breaker", () => {
  it("a rejection is answered from the cache: status, headers, exact bytes, Age, x-tandem-fallback; no upstream call", async () => {
    const g = await start(true);
    await warmAndOpen(g);
    const before = hits.length;
    g.resetStats();
    await g.setNow(T0 + 2500);
    const a = await req(g, "/ok");
    expect(a.status).toBe(200);
    expect(a.body.toString()).toBe('{"items":[1,2]}');
    expect(a.headers.get("x-tandem-fallback")).toBe("cache");
    expect(a.headers.get("age")).toBe("2");   // whole seconds since it was stored
    expect(a.headers.get("content-type")).toBe("application/json");
    expect(a.headers.get("link")).toBe("</a>; rel=a, </b>; rel=b");
    const b = await req(g, "/bin");
    expect(b.headers.get("x-tandem-fallback")).toBe("cache");
    expect(b.body.equals(BIN)).toBe(true);
    // Not stored: above maxBodyBytes; never stored: another path, another method.
    for (const [path, method] of [["/big", "GET"], ["/other", "GET"], ["/ok", "POST"]]) {
      const r = await req(g, path, method);
      expect({ path, method, status: r.status, body: r.body.toString(), cache: r.headers.get("x-tandem-fallback") }).toEqual({ path, method, status: 503, body: "try later", cache: null });
    }
    expect(hits.length).toBe(before);
    // The breaker's rejection asks the carry once (one ctx.shared.get), then exits.
    const calls = g.rpcStats().accessCalls;
    expect(calls[0].filter((m) => m === "kong.ctx.shared.get")).toHaveLength(1);
    expect(calls[0]).toContain("kong.response.exit");
  }, 60_000);

  it("tandem_cache_lookups_total on the breaker's server: hit and miss at 0 once configured, then one per rejection the cache covers", async () => {
    const g = await start(true, true);
    const scrape = async () => {
      const text = await (await fetch(await g.pluginServer("circuit-breaker").metricsUrl())).text();
      return Object.fromEntries(["hit", "miss"].map((r) => [r, Number(new RegExp(`^${CACHE_LOOKUPS}\\{policy="t",result="${r}"\\} (\\d+)`, "m").exec(text)?.[1] ?? NaN)]));
    };
    expect((await req(g, "/ok")).status).toBe(200);
    expect(await scrape()).toEqual({ hit: 0, miss: 0 });
    for (let i = 0; i < 2; i++) await req(g, "/boom");
    await req(g, "/ok");            // hit
    await req(g, "/other");         // miss: never stored
    await req(g, "/ok", "POST");    // miss: a method the cache does not take
    expect(await scrape()).toEqual({ hit: 1, miss: 2 });
  }, 60_000);

  it("without the fallback-cache plugin, a rejection gets the next fallback and never reaches the upstream", async () => {
    const g = await start(false);
    await warmAndOpen(g);
    const before = hits.length;
    const r = await req(g, "/ok");
    expect({ status: r.status, body: r.body.toString(), cache: r.headers.get("x-tandem-fallback") }).toEqual({ status: 503, body: "try later", cache: null });
    expect(hits.length).toBe(before);
  }, 60_000);

  it("with the fallback-cache plugin server dead (Kong runs the request without it), still the next fallback, no upstream call", async () => {
    const g = await start(true);
    await warmAndOpen(g);
    const before = hits.length;
    g.pluginServer("fallback-cache").kill();
    g.clearLogs();
    const r = await req(g, "/ok");
    // Kong logged the failed call to the dead server and went on without the plugin.
    expect(g.logs("err").some((l) => l.plugin === "fallback-cache" || /fallback-cache/.test(l.message))).toBe(true);
    expect({ status: r.status, body: r.body.toString(), cache: r.headers.get("x-tandem-fallback") }).toEqual({ status: 503, body: "try later", cache: null });
    expect(hits.length).toBe(before);
  }, 60_000);
});
