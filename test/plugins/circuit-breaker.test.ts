// The Kong plugin `circuit-breaker` on the real kong-js-pluginserver behind the Kong
// harness, on the harness's virtual clock: the upstreams below advance it by their
// latency before answering, so Kong's latencies and the breaker's timing are exact.
import http from "node:http";
import net, { type AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startKong, type KongGateway } from "../../sim/kong";
import { KONG_DIR, loadCore, requireBuilt } from "../support/dist";
import { CHECKOUT } from "../support/policies";
import { outcomeOf } from "../../plugins/shared/outcome";
import { BreakerError } from "../../core-js/tandem-core";
import { closedPort } from "../support/closed-port";

// ---- upstreams the test scripts: status, virtual latency, reset, hang, or held open ----

type Behaviour = { status?: number; latencyMs?: number; reset?: boolean; hang?: boolean; hold?: Promise<void> };

interface Scripted {
  addrs: Record<string, { host: string; port: number }>;
  next: Behaviour[];           // consumed one per request; then `otherwise`
  otherwise: Behaviour;
  hits: Array<{ upstream: string; headers: http.IncomingHttpHeaders }>;
  close(): Promise<void>;
}

let gw: KongGateway;
let now = 0;

async function scripted(names: string[]): Promise<Scripted> {
  const servers: http.Server[] = [];
  const s: Scripted = {
    addrs: {}, next: [], otherwise: { status: 200 }, hits: [],
    close: async () => { await Promise.all(servers.map((x) => new Promise<void>((ok) => { x.closeAllConnections(); x.close(() => ok()); }))); },
  };
  for (const name of names) {
    const server = http.createServer(async (req, res) => {
      req.resume();
      s.hits.push({ upstream: name, headers: req.headers });
      const b = s.next.shift() ?? s.otherwise;
      if (b.hold) await b.hold;
      if (b.latencyMs) { now += b.latencyMs; await gw.setNow(now); }
      if (b.reset) { req.socket.destroy(); return; }
      if (b.hang) return;
      res.writeHead(b.status ?? 200, { "content-type": "text/plain" }).end(name);
    });
    await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
    servers.push(server);
    s.addrs[name] = { host: "127.0.0.1", port: (server.address() as AddressInfo).port };
  }
  return s;
}


async function at(ms: number): Promise<void> { now = ms; await gw.setNow(ms); }

async function get(headers: Record<string, string> = {}, method = "GET") {
  const res = await fetch(gw.url + "/", { method, headers });
  const body = await res.text();
  await gw.logDone();
  return { status: res.status, headers: res.headers, body };
}

function policy(circuitBreaker: Record<string, unknown> | undefined, fallback?: Record<string, unknown>) {
  return { apiVersion: "tandem.dev/v1alpha1", kind: "TrafficPolicy", metadata: { name: "t" }, spec: { ...(circuitBreaker ? { circuitBreaker } : {}), ...(fallback ? { fallback } : {}) } };
}

// The plugin server's stderr (transitions, notices) reaches Kong's log asynchronously.
async function logLine(part: string): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const hit = gw.logs("debug").map((l) => l.message).find((m) => m.includes(part));
    if (hit) return hit;
    await new Promise((r) => setTimeout(r, 20));
  }
  return "";
}

const BREAKER = {
  key: "header:x-tenant", window: { type: "count", size: 10 }, minimumCalls: 4, failureRateThreshold: 50,
  openDurationMs: 10000, halfOpen: { permittedCalls: 2, maxWaitMs: 5000 }, openBackoff: { multiplier: 2, maxMs: 60000 },
};
const FALLBACK = {
  respond: { status: 503, headers: { "X-Fallback": "tandem", "Cache-Control": "no-store" }, body: "{\"error\":\"down — später\"}", contentType: "application/json" },
};
const CONFIG = { ...BREAKER, fallback: FALLBACK };

let ups: Scripted;
const DIR = () => requireBuilt(KONG_DIR("circuit-breaker"));

beforeAll(async () => {
  ups = await scripted(["svc", "api-v1", "api-v2"]);
  gw = await startKong({
    plugins: [{ name: "circuit-breaker", dir: DIR(), config: CONFIG }],
    upstreams: ups.addrs, defaultUpstream: "svc", virtualClock: true, upstreamTimeoutMs: 300, retries: 0,
    // One scripted behaviour per try, each on its own connection: with Kong's upstream
    // keep-alive a reset on a reused connection is tried again at no cost
    // (ngx_http_upstream_next, sim/kong/upstream-pool.ts) and the script's next answer
    // serves it. upstream_keepalive_pool_size = 0 is a Kong setting that turns it off.
    upstreamKeepalive: { poolSize: 0 },
  });
});
afterAll(async () => { await gw?.close(); await ups?.close(); });
beforeEach(async () => {
  ups.next = [];
  ups.otherwise = { status: 200 };
  for (const [n, a] of Object.entries(ups.addrs)) gw.setUpstream(n, a);
});

// Fresh breaker states: a changed config starts afresh.
let generation = 0;
async function reconfigure(config: Record<string, unknown>): Promise<void> {
  await gw.configure("circuit-breaker", { ...config, maxKeys: 1000 + ++generation });
  await at(1_000_000 * generation);
}

describe("circuit-breaker plugin on Kong", () => {
  it("opens after minimumCalls with the failure rate at the threshold, then answers with the fallback", async () => {
    await reconfigure(CONFIG);
    const t0 = now;
    const tenant = { "x-tenant": "acme" };
    ups.next = [{ status: 200, latencyMs: 5 }, { status: 500, latencyMs: 5 }, { status: 200, latencyMs: 5 }];
    for (let i = 0; i < 3; i++) expect((await get(tenant)).body).toBe("svc");
    // 3 calls: below minimumCalls even at 1 failure in 3
    ups.next = [{ status: 503, latencyMs: 5 }];
    expect((await get(tenant)).status).toBe(503);           // 4th call: 2 failures of 4 = 50% -> open
    const openedAt = now;
    expect(openedAt).toBe(t0 + 20);
    expect(await logLine(`tandem: circuit-breaker "acme" closed -> open (failure_rate)`)).not.toBe("");

    await at(openedAt + 2500);
    const hits = ups.hits.length;
    const r = await get(tenant);
    expect(ups.hits.length).toBe(hits);                     // not proxied
    expect(r.status).toBe(503);
    expect(r.body).toBe("{\"error\":\"down — später\"}");
    expect(r.headers.get("content-type")).toBe("application/json");
    expect(r.headers.get("x-fallback")).toBe("tandem");
    expect(r.headers.get("cache-control")).toBe("no-store");
    expect(r.headers.get("retry-after")).toBe("8");          // ceil(7.5 s) of open time left
    await at(openedAt + 9001);
    expect((await get(tenant)).headers.get("retry-after")).toBe("1");

    // another tenant has its own state
    expect((await get({ "x-tenant": "globex" })).body).toBe("svc");
  });

  it("half-open: admits exactly permittedCalls probes, closes when all passed", async () => {
    await reconfigure(CONFIG);
    const tenant = { "x-tenant": "probe" };
    ups.otherwise = { status: 500 };
    for (let i = 0; i < 4; i++) await get(tenant);
    const openedAt = now;
    await at(openedAt + 10000);
    // two probes held at the upstream, a third call meanwhile is rejected
    let release!: () => void;
    const hold = new Promise<void>((r) => (release = r));
    ups.next = [{ status: 200, hold }, { status: 200, hold }];
    ups.otherwise = { status: 200 };
    const probes = [fetch(gw.url + "/", { headers: tenant }), fetch(gw.url + "/", { headers: tenant })];
    while (ups.hits.filter((h) => h.headers["x-tenant"] === "probe").length < 6) await new Promise((r) => setTimeout(r, 5));
    const third = await get(tenant);
    expect(third.status).toBe(503);
    expect(third.headers.get("retry-after")).toBe("1");      // half-open, permits out: retry soon
    release();
    for (const p of probes) expect((await p).status).toBe(200);
    await gw.logDone();
    expect(await logLine(`"probe" half_open -> closed (probes_passed)`)).not.toBe("");
    expect((await get(tenant)).body).toBe("svc");
  });

  it("half-open: a failed probe re-opens with backoff; recovery closes and clears the window", async () => {
    await reconfigure(CONFIG);
    const tenant = { "x-tenant": "flaky" };
    ups.otherwise = { status: 502 };
    for (let i = 0; i < 4; i++) await get(tenant);
    let t = now;
    await at(t + 10000);
    expect((await get(tenant)).status).toBe(502);           // probe 1 of 2 fails: 1/2 = 50% -> open again
    expect(await logLine(`"flaky" half_open -> open (probe_failures)`)).not.toBe("");
    t = now;
    await at(t + 10000);                                     // backoff: 20 s now
    expect((await get(tenant)).headers.get("retry-after")).toBe("10");
    await at(t + 20000);
    ups.otherwise = { status: 200 };
    await get(tenant);
    await get(tenant);
    expect(await logLine(`"flaky" half_open -> closed (probes_passed)`)).not.toBe("");
    // the window starts empty: 3 failures are below minimumCalls again
    ups.otherwise = { status: 500 };
    for (let i = 0; i < 3; i++) expect((await get(tenant)).status).toBe(500);
    expect((await get(tenant)).status).toBe(500);           // 4th: opens
    expect((await get(tenant)).status).toBe(503);           // the fallback; backoff reset to 10 s
    expect((await get(tenant)).headers.get("retry-after")).toBe("10");
  });

  it("classifies connect failures, resets and timeouts from Kong's tries (502 / 504)", async () => {
    await reconfigure({ ...BREAKER, consecutiveFailures: 2, minimumCalls: 100, failure: { errors: ["timeout"] } });
    const tenant = { "x-tenant": "net" };
    gw.setUpstream("svc", { host: "127.0.0.1", port: await closedPort() });
    expect((await get(tenant)).status).toBe(502);           // refused: connect, not counted (errors: [timeout])
    gw.setUpstream("svc", ups.addrs.svc);
    ups.next = [{ reset: true }];
    expect((await get(tenant)).status).toBe(502);           // reset: not counted either
    ups.next = [{ hang: true, latencyMs: 40 }, { hang: true, latencyMs: 40 }];
    expect((await get(tenant)).status).toBe(504);
    expect((await get(tenant)).status).toBe(504);           // 2 consecutive timeouts -> open
    expect(await logLine(`"net" closed -> open (consecutive_failures)`)).not.toBe("");
    expect((await get(tenant)).body).toBe("circuit breaker open");

    // nginx reports refused and reset alike: either listed counts both
    await reconfigure({ ...BREAKER, consecutiveFailures: 2, minimumCalls: 100, failure: { errors: ["connect"] } });
    ups.next = [{ reset: true }, { reset: true }];
    await get({ "x-tenant": "r" });
    await get({ "x-tenant": "r" });
    expect(await logLine(`"r" closed -> open (consecutive_failures)`)).not.toBe("");
  });

  it("counts slow calls from Kong's upstream latency (virtual time)", async () => {
    await reconfigure({ ...BREAKER, slowCallDurationMs: 100, slowCallRateThreshold: 75 });
    ups.otherwise = { status: 200, latencyMs: 100 };
    for (let i = 0; i < 4; i++) expect((await get({ "x-tenant": "slow" })).status).toBe(200);
    expect(await logLine(`"slow" closed -> open (slow_call_rate)`)).not.toBe("");
  });

  it("dry_run computes and reports but never rejects", async () => {
    await reconfigure({ ...CONFIG, mode: "dry_run" });
    ups.otherwise = { status: 500 };
    for (let i = 0; i < 8; i++) expect((await get({ "x-tenant": "dry" })).status).toBe(500);
    expect(await logLine(`"dry" closed -> open (failure_rate)`)).not.toBe("");
  });

  it("forced_open answers every call without Retry-After; forced_closed never", async () => {
    await reconfigure({ ...CONFIG, mode: "forced_open" });
    const r = await get({ "x-tenant": "f" });
    expect(r.status).toBe(503);
    expect(r.headers.get("retry-after")).toBeNull();
    await reconfigure({ ...CONFIG, mode: "forced_closed" });
    ups.otherwise = { status: 500 };
    for (let i = 0; i < 6; i++) expect((await get({ "x-tenant": "f" })).status).toBe(500);
  });

  it("without a fallback answers 503 'circuit breaker open' with Retry-After", async () => {
    await reconfigure(BREAKER);
    ups.otherwise = { status: 500 };
    for (let i = 0; i < 4; i++) await get({ "x-tenant": "nofb" });
    const r = await get({ "x-tenant": "nofb" });
    expect(r.status).toBe(503);
    expect(r.body).toBe("circuit breaker open");
    expect(r.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(r.headers.get("retry-after")).toBe("10");
  });

  it("makes at most 4 RPC round trips in access and 2 in log", async () => {
    await reconfigure(CONFIG);
    gw.resetStats();
    ups.otherwise = { status: 500 };
    for (let i = 0; i < 5; i++) await get({ "x-tenant": "rpc" });   // 4 admitted, then rejected
    await gw.logDone();
    const s = gw.rpcStats();
    // HandleEvent, get_headers, set_serialize_value; rejected: HandleEvent, get_headers
    // and exit, which pdk.js sends without waiting for an answer (no round trip)
    expect(s.access).toEqual([3, 3, 3, 3, 2]);
    expect(s.log).toEqual([2, 2, 2, 2, 2]);      // HandleEvent, serialize
    expect(s.response.every((n) => n === 0)).toBe(true);
    // key: route reads the headers too: Access-Control-Request-Method tells a CORS preflight
    await reconfigure({ ...CONFIG, key: "route" });
    gw.resetStats();
    ups.otherwise = { status: 200 };
    await get();
    await gw.logDone();
    expect(gw.rpcStats().access).toEqual([3]);
  });

  it("lets a CORS preflight pass untouched while open, for one get_method; it counts for nothing", async () => {
    await reconfigure({ ...CONFIG, key: "route" });
    ups.otherwise = { status: 500 };
    const preflight = { origin: "https://shop.example", "access-control-request-method": "POST" };
    // preflights answered 500 by the upstream: counted, they would open the breaker
    for (let i = 0; i < 6; i++) expect((await get(preflight, "OPTIONS")).status).toBe(500);
    ups.otherwise = { status: 200 };
    expect((await get()).status).toBe(200);              // still closed
    ups.otherwise = { status: 500 };
    for (let i = 0; i < 4; i++) await get();             // 4 failures: open
    expect((await get()).status).toBe(503);
    gw.resetStats();
    ups.otherwise = { status: 204 };
    const r = await get(preflight, "OPTIONS");
    expect(r.status).toBe(204);                          // passed while open
    expect(r.headers.get("retry-after")).toBeNull();
    const notPreflight = await get({ "access-control-request-method": "POST" });   // a GET: the breaker's
    expect(notPreflight.status).toBe(503);
    const s = gw.rpcStats();
    // HandleEvent, get_headers, get_method (nothing carried to log); the GET: + exit (no round trip)
    expect(s.access).toEqual([3, 3]);
    expect(s.accessCalls[0]).toEqual(["kong.request.get_headers", "kong.request.get_method"]);
  });

  // Issue 18 item 3: Kong learns an outcome in `log`, when the request ended, so a
  // long-lived request (Accept: text/event-stream, Upgrade) is never a half-open probe:
  // it passes without a permit; a plain request probes and closes the breaker.
  it("half-open: an event stream passes without holding a probe; a plain request probes and closes", async () => {
    const cfg = { ...CONFIG, key: "route", halfOpen: { permittedCalls: 1, maxWaitMs: 5000 } };
    await reconfigure(cfg);
    ups.otherwise = { status: 500 };
    for (let i = 0; i < 4; i++) await get();
    await at(now + 10000);
    ups.otherwise = { status: 200 };
    gw.resetStats();
    const sse = { accept: "text/event-stream" };
    expect((await get(sse)).body).toBe("svc");                // half-open: passes, no probe taken
    expect((await get(sse)).body).toBe("svc");
    // HandleEvent + get_headers (every key reads them: CORS preflights, long-lived
    // requests), and an untracked call sets no serialize value
    expect(gw.rpcStats().access).toEqual([2, 2]);
    expect(gw.rpcStats().log).toEqual([2, 2]);                 // log ran, nothing was recorded
    expect(await logLine(`"" open -> half_open (open_elapsed)`)).not.toBe("");
    const probe = await get();                                 // the one permit
    expect(probe.body).toBe("svc");
    expect(await logLine(`"" half_open -> closed (probes_passed)`)).not.toBe("");
    // closed again: HandleEvent, get_headers, set_serialize_value (tracked)
    gw.resetStats();
    await get();
    await gw.logDone();
    expect(gw.rpcStats().access).toEqual([3]);
  });

  it("keeps its states across plugin instance restarts", async () => {
    await reconfigure(CONFIG);
    ups.otherwise = { status: 500 };
    for (let i = 0; i < 4; i++) await get({ "x-tenant": "keep" });
    const id = gw.instanceId("circuit-breaker");
    await gw.configure("circuit-breaker", { ...CONFIG, maxKeys: 1000 + generation });   // same config, new __seq__
    expect((await get({ "x-tenant": "keep" })).status).toBe(503);
    expect(gw.instanceId("circuit-breaker")).not.toBe(id);
  });

  it("refuses a bad first configuration with tandem validate's message; keeps the last good one after", async () => {
    const core = loadCore();
    const bad = { ...BREAKER, failureRateThreshold: 120 };
    const msg = core.validatePolicy(JSON.stringify(policy(bad, FALLBACK)));
    expect(msg).toBe("circuitBreaker.failureRateThreshold: must be between 0 and 100, got 120");
    const badFb = { respond: { status: 503, headers: { "Content-Length": "3" } } };
    const msgFb = core.validatePolicy(JSON.stringify(policy(BREAKER, badFb)));
    expect(msgFb).toBe("fallback.respond.headers.Content-Length: is set by the gateway");
    for (const [config, m] of [[{ ...bad, fallback: FALLBACK }, msg], [{ ...BREAKER, fallback: badFb }, msgFb]] as const) {
      const k = await startKong({ plugins: [{ name: "circuit-breaker", dir: DIR(), config }], upstreams: ups.addrs, defaultUpstream: "svc" });
      try {
        expect((await fetch(k.url + "/")).status).toBe(500);
        expect(k.logs().map((l) => l.message).join("\n")).toContain(m!);
      } finally {
        await k.close();
      }
    }
    // an update that fails keeps the previous configuration and its states in force
    await reconfigure(CONFIG);
    ups.otherwise = { status: 500 };
    for (let i = 0; i < 4; i++) await get({ "x-tenant": "kept" });
    gw.clearLogs();
    await gw.configure("circuit-breaker", { ...bad, fallback: FALLBACK });
    const r = await get({ "x-tenant": "kept" });
    expect(r.status).toBe(503);
    expect(r.body).toContain("später");
    expect(await logLine(`tandem: configuration rejected, previous configuration stays in force: ${msg}`)).not.toBe("");
  });

  it("on Kong the fallback does not replace a failed upstream's answer (upstreamFailure), and says so", async () => {
    gw.clearLogs();
    await reconfigure({ ...BREAKER, fallback: { ...FALLBACK, on: ["open", "upstreamFailure"] } });
    ups.next = [{ status: 500 }];
    const r = await get({ "x-tenant": "uf" });            // the instance starts with the first request
    expect(r.status).toBe(500);
    expect(r.body).toBe("svc");
    expect(await logLine("fallback.on upstreamFailure is not applied on Kong")).not.toBe("");
  });
});

describe("outcome from kong.log.serialize()", () => {
  const tried = [{ balancer_start: 1, ip: "10.0.0.1", port: 80 }];
  const outcomeOf_ = (s: Record<string, unknown>) => outcomeOf(s, loadCore());
  it("reads Kong's own 502/504 after a failed last try (Kong records no state for it) as transport errors", () => {
    expect(outcomeOf_({ tries: tried, upstream_status: "502", source: "kong", latencies: { proxy: 0 } }))
      .toEqual({ status: 0, error: BreakerError.connectOrReset, latencyMs: 0, grpcStatus: null });
    expect(outcomeOf_({ tries: tried, upstream_status: "504", source: "kong", latencies: { proxy: 60000 } }))
      .toEqual({ status: 0, error: BreakerError.timeout, latencyMs: 60000, grpcStatus: null });
    // a retried request: earlier tries carry state/code, the last answered
    expect(outcomeOf_({ tries: [{ ...tried[0], state: "failed", code: 502 }, tried[0]], upstream_status: "502, 200", source: "upstream", latencies: { proxy: 12 } }))
      .toEqual({ status: 200, error: BreakerError.none, latencyMs: 12, grpcStatus: null });
  });
  it("under retries: the last try's status, latency from the first try's start to the last try's first byte (the core's definition)", () => {
    // Kong's serialize(): a refused first try at t=1000, a timed-out second (nginx gave up
    // after 300 ms), the third answered 200 after 40 ms (its balancer took 2 ms)
    const tries = [
      { balancer_start: 1000, balancer_latency: 0, state: "failed", code: 502 },
      { balancer_start: 1001, balancer_latency: 0, state: "failed", code: 504 },
      { balancer_start: 1301, balancer_latency: 2 },
    ];
    expect(outcomeOf_({ tries, upstream_status: "502, 504, 200", source: "upstream", latencies: { proxy: 40 } }))
      .toEqual({ status: 200, error: BreakerError.none, latencyMs: 343, grpcStatus: null });
    // the same when the last try failed too: Kong's own 502, the span to its giving up
    expect(outcomeOf_({ tries: tries.slice(0, 2).map((t, i) => (i === 1 ? { balancer_start: t.balancer_start } : t)), upstream_status: "502, 504", source: "kong", latencies: { proxy: 300 } }))
      .toEqual({ status: 0, error: BreakerError.timeout, latencyMs: 301, grpcStatus: null });
    // the core's arithmetic alone: a clock that stepped back adds nothing
    expect(loadCore().requestLatencyMs(500, 400, 7)).toBe(7);
    expect(loadCore().requestLatencyMs(400, 500, 7)).toBe(107);
  });
  it("reads a trailers-only gRPC reply's grpc-status from the response headers (no extra RPC); Kong's own answers have none", () => {
    const grpc = (v: unknown, source = "upstream") => outcomeOf_({ tries: tried, upstream_status: "200", source, latencies: { proxy: 4 }, response: { status: 200, headers: { "grpc-status": v } } });
    expect(grpc("14")).toEqual({ status: 200, error: BreakerError.none, latencyMs: 4, grpcStatus: 14 });
    expect(grpc(["0", "13"])).toEqual({ status: 200, error: BreakerError.none, latencyMs: 4, grpcStatus: 0 });   // the first copy
    expect(grpc(undefined).grpcStatus).toBeNull();       // real trailers never reach serialize()
    expect(grpc("abc").grpcStatus).toBeNull();
    expect(outcomeOf_({ tries: tried, upstream_status: "502", source: "kong", latencies: { proxy: 0 }, response: { status: 502, headers: { "grpc-status": "13" } } }))
      .toEqual({ status: 0, error: BreakerError.connectOrReset, latencyMs: 0, grpcStatus: null });
  });

  it("takes an upstream's own 502 as its status, and ignores calls that never reached one", () => {
    expect(outcomeOf_({ tries: tried, upstream_status: "502", source: "upstream", latencies: { proxy: 3 } }))
      .toEqual({ status: 502, error: BreakerError.none, latencyMs: 3, grpcStatus: null });
    expect(outcomeOf_({ tries: {}, upstream_status: "", source: "kong", latencies: { proxy: -1 } }))
      .toEqual({ status: 0, error: BreakerError.none, latencyMs: 0, grpcStatus: null });
  });
});

describe("circuit-breaker after the experiment on Kong", () => {
  let k: KongGateway;
  let u: Scripted;
  beforeAll(async () => {
    u = await scripted(["svc", "api-v1", "api-v2"]);
    k = await startKong({
      plugins: [
        { name: "experiment", dir: requireBuilt(KONG_DIR("experiment")), config: { ...CHECKOUT, variants: [{ name: "stable", weight: 50, upstream: "api-v1" }, { name: "canary", weight: 50, upstream: "api-v2" }] } },
        {
          name: "circuit-breaker", dir: DIR(),
          config: { key: "upstream", minimumCalls: 2, window: { size: 4 }, openDurationMs: 10000, fallback: { reroute: { variant: "stable" } }, variantUpstreams: { stable: "api-v1", canary: "api-v2" } },
        },
      ],
      upstreams: u.addrs, defaultUpstream: "svc", virtualClock: true, upstreamTimeoutMs: 300, retries: 0,
    });
  });
  afterAll(async () => { await k?.close(); await u?.close(); });

  async function send(user: string) {
    const r = await fetch(k.url + "/", { headers: { "x-user-id": user } });
    await r.text();
    await k.logDone();
    return { status: r.status, hit: u.hits[u.hits.length - 1] };
  }

  it("keys on the variant the experiment chose and reroutes rejected calls to the stable variant", async () => {
    await k.setNow(1000);
    // find a canary user and a stable user
    const users = { canary: "", stable: "" };
    for (let i = 0; (users.canary === "" || users.stable === "") && i < 100; i++) {
      const h = (await send(`u${i}`)).hit;
      users[h.headers["x-tandem-variant"] as "canary" | "stable"] ||= `u${i}`;
    }
    u.otherwise = { status: 500 };
    u.hits.length = 0;
    await send(users.canary);
    await send(users.canary);                                // canary: 2 of 2 failed -> open
    u.otherwise = { status: 200 };
    const r = await send(users.canary);
    expect(r.status).toBe(200);
    expect(r.hit.upstream).toBe("api-v1");                   // rerouted by set_upstream
    expect(r.hit.headers["x-tandem-variant"]).toBe("stable");
    const s = await send(users.stable);                      // the stable key is closed
    expect(s.hit.upstream).toBe("api-v1");
    k.resetStats();
    await send(users.canary);
    const st = k.rpcStats();
    // experiment 4 (HandleEvent, get_headers, set_header, set_upstream) + breaker 4
    // (HandleEvent, get_headers, set_upstream, set_header)
    expect(st.access).toEqual([8]);
    // breaker 2 (HandleEvent, serialize) + experiment 1 (HandleEvent: no canary guard)
    expect(st.log).toEqual([3]);
  });
});
