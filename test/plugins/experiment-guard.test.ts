// Canary guards in the Kong plugin `experiment` (real kong-js-pluginserver, Kong
// harness, virtual clock): rollback from outcomes Kong reports in the log phase, the
// RPCs it costs, state kept across plugin instance restarts.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { guardedCheckout } from "../support/policies";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { startKong, type KongGateway } from "../../sim/kong";
import { KONG_DIR, requireBuilt } from "../support/dist";

// Two upstreams; the canary answers `canaryStatus`.
let canaryStatus = 200;
const servers: Server[] = [];
const addrs: Record<string, { host: string; port: number }> = {};
let gw: KongGateway;
let now = 1_000_000;

const GUARDED = guardedCheckout({ window: { type: "count", size: 4 }, minimumCalls: 4, failureRateThreshold: 50, cooldownMs: 5000, halfOpen: { permittedCalls: 1 }, failure: { statuses: ["503"] } });

beforeAll(async () => {
  for (const name of ["api-v1", "api-v2", "svc"]) {
    const s = createServer((req, res) => {
      req.resume();
      const status = name === "api-v2" ? canaryStatus : 200;
      res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify({ backend: name }));
    });
    await new Promise<void>((ok) => s.listen(0, "127.0.0.1", ok));
    servers.push(s);
    addrs[name] = { host: "127.0.0.1", port: (s.address() as AddressInfo).port };
  }
  gw = await startKong({
    plugins: [{ name: "experiment", dir: requireBuilt(KONG_DIR("experiment")), config: GUARDED }],
    upstreams: addrs, defaultUpstream: "svc", virtualClock: true, retries: 0,
  });
  await gw.setNow(now);
});
afterAll(async () => {
  await gw?.close();
  await Promise.all(servers.map((s) => new Promise<void>((ok) => { s.closeAllConnections(); s.close(() => ok()); })));
});

async function backend(user: string): Promise<{ backend: string; status: number }> {
  const r = await fetch(`${gw.url}/`, { headers: { "x-user-id": user } });
  const j = (await r.json()) as { backend: string };
  await gw.logDone();
  return { backend: j.backend, status: r.status };
}

// Sends canary users failing requests until the guard rolls them back; how many failed.
async function failUntilOpen(users: string[]): Promise<number> {
  let failed = 0;
  while (failed < 20) {
    const r = await backend(users[failed % users.length]);
    if (r.backend !== "api-v2") return failed;
    expect(r.status).toBe(503);
    failed++;
  }
  return failed;
}

// Users the split sends to the canary (while its guard is closed).
async function canaryUsers(n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; out.length < n && i < 200; i++) if ((await backend(`c${i}`)).backend === "api-v2") out.push(`c${i}`);
  expect(out.length).toBe(n);
  return out;
}

describe("canary guard on Kong", () => {
  it("rolls the canary's users back on failures and brings them back after the cooldown", async () => {
    const users = await canaryUsers(6);       // their successes fill the window (size 4)
    canaryStatus = 503;
    expect(await failUntilOpen(users)).toBe(2);  // 2 of the last 4 failed: 50% >= 50%
    for (const u of users) expect(await backend(u)).toEqual({ backend: "api-v1", status: 200 });
    canaryStatus = 200;
    now += 5000;
    await gw.setNow(now);
    // half-open: one probe (permittedCalls 1) reaches the canary, its success closes the guard
    expect((await backend(users[0])).backend).toBe("api-v2");
    for (const u of users) expect((await backend(u)).backend).toBe("api-v2");
  });

  // Issue 18 item 3: Kong learns an outcome when the request ended, so a long-lived
  // request (an event stream) never probes a half-open guard: it reaches the canary
  // untracked (no set_serialize_value), and a plain request's probe closes the guard.
  it("half-open: an event stream reaches the canary without holding the probe; a plain request probes", async () => {
    const users = await canaryUsers(4);
    canaryStatus = 503;
    await failUntilOpen(users);
    canaryStatus = 200;
    now += 5000;
    await gw.setNow(now);
    gw.resetStats();
    const sse = async (user: string) => {
      const r = await fetch(`${gw.url}/`, { headers: { "x-user-id": user, accept: "text/event-stream" } });
      const j = (await r.json()) as { backend: string };
      await gw.logDone();
      return j.backend;
    };
    expect(await sse(users[0])).toBe("api-v2");
    expect(await sse(users[1])).toBe("api-v2");       // not limited by the one permit
    // HandleEvent, get_headers, set_header, set_upstream: untracked
    expect(gw.rpcStats().access).toEqual([4, 4]);
    gw.resetStats();
    expect((await backend(users[2])).backend).toBe("api-v2");   // the probe
    expect(gw.rpcStats().access).toEqual([5]);
    for (const u of users) expect((await backend(u)).backend).toBe("api-v2");   // closed
  });

  it("costs one set_serialize_value in access for a tracked request and 2 RPCs in log", async () => {
    const [canary] = await canaryUsers(1);
    let stable = "";
    for (let i = 0; !stable && i < 200; i++) if ((await backend(`s${i}`)).backend === "api-v1") stable = `s${i}`;
    gw.resetStats();
    await backend(canary);
    await backend(stable);
    const s = gw.rpcStats();
    // HandleEvent, get_headers, set_header, set_upstream [, set_serialize_value]
    expect(s.access).toEqual([5, 4]);
    expect(s.log).toEqual([2, 2]);                 // HandleEvent, serialize
    expect(s.response.every((n) => n === 0)).toBe(true);
  });

  it("keeps the guard's state across plugin instance restarts with the same config", async () => {
    const users = await canaryUsers(4);
    canaryStatus = 503;
    expect(await failUntilOpen(users)).toBe(2);
    const id = gw.instanceId("experiment");
    await gw.configure("experiment", GUARDED);                       // same config, new instance
    expect((await backend(users[0])).backend).toBe("api-v1");       // still open
    expect(gw.instanceId("experiment")).not.toBe(id);
    canaryStatus = 200;
    now += 5000;
    await gw.setNow(now);
  });
});
