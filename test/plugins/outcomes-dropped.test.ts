// Outcomes Kong drops: a log handler refused at a full timer queue never reaches the
// plugin server (sim/kong: lua_max_pending_timers per worker). The circuit-breaker
// plugin counts the admissions whose log never came within the deadline
// (plugins/shared/outcome-ledger.ts) as tandem_outcomes_dropped_total, and the breaker
// does not wedge on a lost half-open probe (the core re-opens after halfOpen.maxWaitMs).
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { guardedCheckout } from "../support/policies";
import { startKong, type KongGateway } from "../../sim/kong";
import { KONG_DIR, requireBuilt } from "../support/dist";
import { DEFAULT_OUTCOME_DEADLINE_MS } from "../../plugins/shared/outcome-ledger";
import { METRICS_PORT_ENV } from "../../plugins/shared/metrics";

const BREAKER = {
  policy: "shop", key: "route", window: { type: "count", size: 10 }, minimumCalls: 4, failureRateThreshold: 50,
  openDurationMs: 10000, halfOpen: { permittedCalls: 1, maxWaitMs: 5000 }, openBackoff: { multiplier: 2, maxMs: 60000 },
};

let status = 200;
let upstream: http.Server;
let gw: KongGateway;
let now = 0;
let generation = 0;

beforeAll(async () => {
  upstream = http.createServer((req, res) => { req.resume(); res.writeHead(status).end("up"); });
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", () => r()));
  gw = await startKong({
    plugins: [{ name: "circuit-breaker", dir: requireBuilt(KONG_DIR("circuit-breaker")), config: BREAKER, env: { [METRICS_PORT_ENV]: "0" } }],
    upstreams: { svc: { host: "127.0.0.1", port: (upstream.address() as AddressInfo).port } },
    defaultUpstream: "svc", virtualClock: true, retries: 0, workers: 2,
  });
});
afterAll(async () => {
  await gw?.close();
  await new Promise<void>((r) => { upstream?.closeAllConnections(); upstream?.close(() => r()); });
});

async function at(ms: number) { now = ms; await gw.setNow(ms); }

// One request on its own connection (workers take turns), its log phase done (or dropped).
async function get(): Promise<number> {
  const s = await new Promise<number>((resolve, reject) => {
    http.get(gw.url + "/", { agent: false }, (res) => { res.resume(); res.on("end", () => resolve(res.statusCode ?? 0)); }).on("error", reject);
  });
  await gw.logDone();
  return s;
}

async function dropped(): Promise<number> {
  const text = await (await fetch(await gw.pluginServer("circuit-breaker").metricsUrl())).text();
  const line = text.split("\n").find((l) => l.startsWith('tandem_outcomes_dropped_total{policy="shop",plugin="circuit-breaker"}'));
  return line === undefined ? 0 : Number(line.split(" ").pop());
}

async function logLine(part: string): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if (gw.logs("debug").some((l) => l.message.includes(part))) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

// Fresh breaker state and a clock far from the last test's.
async function fresh() {
  await gw.configure("circuit-breaker", { ...BREAKER, maxKeys: 1000 + ++generation });
  await at(10_000_000 * generation);
  status = 200;
}

describe("tandem_outcomes_dropped_total on Kong", () => {
  it("counts exactly the log phases Kong dropped at a full timer queue, once their deadline passed", async () => {
    await fresh();
    const before = await dropped();
    const timersBefore = gw.logTimers().droppedPending;
    for (let i = 0; i < 5; i++) expect(await get()).toBe(200);
    const release = gw.occupyTimers(gw.timerLimits().maxPendingTimers); // every worker's queue full
    for (let i = 0; i < 7; i++) expect(await get()).toBe(200);
    release();
    for (let i = 0; i < 3; i++) expect(await get()).toBe(200);
    const lost = gw.logTimers().droppedPending - timersBefore;
    expect(lost).toBe(7);
    expect(gw.workerTimers().map((w) => w.droppedPending > 0)).toEqual([true, true]); // both workers dropped some
    // not yet: a request may still be running until the deadline
    await at(now + DEFAULT_OUTCOME_DEADLINE_MS - 1000);
    expect(await dropped()).toBe(before);
    await at(now + 1001);
    expect(await dropped()).toBe(before + lost);
    // and it stays: later traffic whose logs arrive adds nothing
    for (let i = 0; i < 4; i++) expect(await get()).toBe(200);
    await at(now + DEFAULT_OUTCOME_DEADLINE_MS + 1);
    expect(await dropped()).toBe(before + lost);
  });

  it("a half-open probe whose log Kong dropped does not wedge the breaker: it re-opens after maxWaitMs, then recovers", async () => {
    await fresh();
    const before = await dropped();
    status = 500;
    for (let i = 0; i < 4; i++) expect(await get()).toBe(500);
    expect(await logLine("closed -> open (failure_rate)")).toBe(true);
    const openedAt = now;
    await at(openedAt + 10_000); // half-open
    status = 200;
    const release = gw.occupyTimers(gw.timerLimits().maxPendingTimers);
    expect(await get()).toBe(200); // the one probe: proxied, its outcome lost
    release();
    const probeAt = now;
    expect(await get()).toBe(503); // permits out, no result: rejected
    await at(probeAt + 4_999);
    expect(await get()).toBe(503);
    await at(probeAt + 5_000); // maxWaitMs without a result: open again (backoff: 20 s)
    expect(await get()).toBe(503);
    expect(await logLine("half_open -> open (probe_timeout)")).toBe(true);
    await at(probeAt + 5_000 + 20_000); // half-open; this probe's outcome arrives
    expect(await get()).toBe(200);
    expect(await logLine("half_open -> closed (probes_passed)")).toBe(true);
    expect(await get()).toBe(200);
    await at(now + DEFAULT_OUTCOME_DEADLINE_MS + 1);
    expect(await dropped()).toBe(before + 1);
  });
});

// The canary guard is the same state machine: a lost half-open probe (its log dropped)
// must not keep the canary's users away for good.
describe("a canary guard whose half-open probe outcome Kong dropped", () => {
  const GUARDED = guardedCheckout({ window: { type: "count", size: 4 }, minimumCalls: 4, failureRateThreshold: 50, cooldownMs: 5000, halfOpen: { permittedCalls: 1, maxWaitMs: 3000 }, failure: { statuses: ["503"] } });
  let canaryStatus = 200;
  const servers: http.Server[] = [];
  let eg: KongGateway;
  let t = 50_000_000;

  beforeAll(async () => {
    const addrs: Record<string, { host: string; port: number }> = {};
    for (const name of ["api-v1", "api-v2", "svc"]) {
      const s = http.createServer((req, res) => {
        req.resume();
        res.writeHead(name === "api-v2" ? canaryStatus : 200, { "content-type": "application/json" }).end(JSON.stringify({ backend: name }));
      });
      await new Promise<void>((ok) => s.listen(0, "127.0.0.1", ok));
      servers.push(s);
      addrs[name] = { host: "127.0.0.1", port: (s.address() as AddressInfo).port };
    }
    eg = await startKong({
      plugins: [{ name: "experiment", dir: requireBuilt(KONG_DIR("experiment")), config: GUARDED, env: { [METRICS_PORT_ENV]: "0" } }],
      upstreams: addrs, defaultUpstream: "svc", virtualClock: true, retries: 0, workers: 2,
    });
    await eg.setNow(t);
  });
  afterAll(async () => {
    await eg?.close();
    await Promise.all(servers.map((s) => new Promise<void>((ok) => { s.closeAllConnections(); s.close(() => ok()); })));
  });

  async function backend(user: string): Promise<string> {
    const r = await fetch(`${eg.url}/`, { headers: { "x-user-id": user } });
    const j = (await r.json()) as { backend: string };
    await eg.logDone();
    return j.backend;
  }
  async function droppedExperiment(): Promise<number> {
    const text = await (await fetch(await eg.pluginServer("experiment").metricsUrl())).text();
    const line = text.split("\n").find((l) => l.startsWith('tandem_outcomes_dropped_total{policy="other",plugin="experiment"}'));
    return line === undefined ? 0 : Number(line.split(" ").pop());
  }

  it("re-opens after maxWaitMs and lets the canary's users back once a later probe passes", async () => {
    const users: string[] = [];
    for (let i = 0; users.length < 4 && i < 200; i++) if ((await backend(`c${i}`)) === "api-v2") users.push(`c${i}`);
    expect(users).toHaveLength(4);
    canaryStatus = 503;
    for (let i = 0; i < 8 && (await backend(users[i % 4])) === "api-v2"; i++);
    expect(await backend(users[0])).toBe("api-v1"); // rolled back
    canaryStatus = 200;
    t += 5000; // cooldown over: half-open
    await eg.setNow(t);
    const release = eg.occupyTimers(eg.timerLimits().maxPendingTimers);
    expect(await backend(users[0])).toBe("api-v2"); // the probe; its outcome is lost
    release();
    for (const u of users) expect(await backend(u)).toBe("api-v1"); // probe out, no result yet
    // not wedged: within a minute of virtual time the guard probes again and closes
    let back = false;
    for (let step = 0; step < 30 && !back; step++) {
      t += 2000;
      await eg.setNow(t);
      back = (await backend(users[1])) === "api-v2";
    }
    expect(back).toBe(true);
    for (const u of users) expect(await backend(u)).toBe("api-v2");
    await eg.setNow(t + DEFAULT_OUTCOME_DEADLINE_MS + 1);
    expect(await droppedExperiment()).toBe(1);
  });
});
