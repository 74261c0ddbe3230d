// The Kong plugin `fault-injection` on the real kong-js-pluginserver behind the Kong
// harness (sim/kong), after the `experiment` plugin: aborts via kong.response.exit with
// the fault's headers and body, delays held in the plugin server without blocking
// other requests, variant targeting, the control header, RPC counts, bad configs.
import { createHmac } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startKong, type KongGateway } from "../../sim/kong";
import { KONG_DIR, requireBuilt } from "../support/dist";
import { startBackends, get, type Backends } from "../support/backends";

const SECRET = "0123456789abcdef-game-day";
const EXPERIMENT = { name: "checkout", stickiness: { sources: ["header:x-user-id"] }, variants: [{ name: "stable", weight: 50, upstream: "api-v1" }, { name: "canary", weight: 50, upstream: "api-v2" }] };
const FAULTS = {
  experiment: EXPERIMENT,
  faults: [
    { name: "teapot", match: { header: { "x-chaos": { exact: "abort" } } }, abort: { status: 418, percent: 100, body: "short and stout", headers: { "X-Fault": "teapot" } } },
    { name: "slow", match: { header: { "x-chaos": { exact: "slow" } } }, delay: { fixedMs: 400, percent: 100 } },
    { name: "canary-down", variant: "canary", match: { header: { "x-chaos": { exact: "canary" } } }, abort: { status: 503, percent: 100 } },
    { name: "qa", control: { secret: SECRET } },
  ],
};

let be: Backends;
let gw: KongGateway;

beforeAll(async () => {
  be = await startBackends(["api-v1", "api-v2", "svc"]);
  gw = await startKong({
    plugins: [
      { name: "experiment", dir: requireBuilt(KONG_DIR("experiment")), config: EXPERIMENT },
      { name: "fault-injection", dir: requireBuilt(KONG_DIR("fault-injection")), config: FAULTS },
    ],
    upstreams: be.addrs, defaultUpstream: "svc",
  });
});
afterAll(async () => { await gw?.close(); await be?.close(); });

const token = (m: string) => `${m}.${createHmac("sha256", SECRET).update(m).digest("hex")}`;

describe("fault-injection plugin on Kong", () => {
  it("aborts with kong.response.exit: the fault's status, headers, content type and body", async () => {
    const r = await get(gw.port, "/", { "x-chaos": "abort", "x-user-id": "u1" });
    expect(r.status).toBe(418);
    expect(r.text).toBe("short and stout");
    expect(r.headers.get("x-fault")).toBe("teapot");
    expect(r.headers.get("content-type")).toBe("text/plain; charset=utf-8");
  });

  it("targets the variant the experiment chose", async () => {
    let canary = 0;
    for (let i = 0; i < 30; i++) {
      const r = await get(gw.port, "/", { "x-chaos": "canary", "x-user-id": `v${i}` });
      if (r.status === 503) canary++;
      else expect(r.json().variant).toBe("stable");
    }
    expect(canary).toBeGreaterThan(5);
    expect(canary).toBeLessThan(25);
  });

  it("delays in the plugin server without blocking: a request no fault applies to passes while 20 delayed ones wait", async () => {
    await gw.configure("fault-injection", { ...FAULTS, faults: FAULTS.faults.map((f) => (f.name === "slow" ? { ...f, delay: { fixedMs: 3000, percent: 100 } } : f)) });
    let finished = 0;
    const slow = Array.from({ length: 20 }, (_, i) => get(gw.port, "/", { "x-chaos": "slow", "x-user-id": `s${i}` }).then((r) => { finished++; return r; }));
    const fast = await get(gw.port, "/", { "x-user-id": "fast" });
    expect(fast.status).toBe(200);
    expect(finished).toBe(0);                  // passed them all while they waited
    const rs = await Promise.all(slow);
    for (const r of rs) expect(r.status).toBe(200);
    await gw.configure("fault-injection", FAULTS);
  }, 30_000);

  it("control header: a signed token injects its fault and never reaches the upstream; a forged one does nothing", async () => {
    const r = await get(gw.port, "/", { "x-tandem-fault": token("abort=502"), "x-user-id": "q" });
    expect(r.status).toBe(502);
    be.seen.length = 0;
    const forged = await get(gw.port, "/", { "x-tandem-fault": token("abort=502").replace("abort=502", "abort=503"), "x-user-id": "q" });
    expect(forged.status).toBe(200);
    expect(be.seen[0].headers["x-tandem-fault"]).toBeUndefined();
  });

  it("RPCs: 2 round trips for a request no fault applies to, for a delay and for an abort (+ exit, not awaited)", async () => {
    gw.resetStats();
    await get(gw.port, "/", { "x-user-id": "r1" });
    await get(gw.port, "/", { "x-user-id": "r1", "x-chaos": "abort" });
    await get(gw.port, "/", { "x-user-id": "r1", "x-chaos": "slow" });
    const s = gw.rpcStats();
    // per request, both plugins: experiment 4 (HandleEvent, get_headers, set_header,
    // set_upstream), then fault-injection: HandleEvent + get_headers [+ exit]
    expect(s.access).toEqual([6, 6, 6]);   // exit is sent without awaiting an answer (pdk.js)
    expect(s.accessCalls[1].slice(-1)).toEqual(["kong.response.exit"]);
    expect(s.accessCalls[0].filter((m) => m === "kong.request.get_headers")).toHaveLength(2);
  });

  it("faults switched off ask Kong for nothing (HandleEvent only); a control header is still stripped", async () => {
    const off = FAULTS.faults.filter((f) => f.name !== "qa").map((f) => ({ ...f, enabled: false }));
    await gw.configure("fault-injection", { ...FAULTS, faults: off });
    gw.resetStats();
    const r = await get(gw.port, "/", { "x-user-id": "r1", "x-chaos": "abort" });
    expect(r.status).toBe(200);
    let s = gw.rpcStats();
    // experiment 4 (HandleEvent, get_headers, set_header, set_upstream) + fault-injection's HandleEvent
    expect(s.access).toEqual([5]);
    expect(s.accessCalls[0].filter((m) => m === "kong.request.get_headers")).toHaveLength(1);
    // a disabled fault with a control header: its header is still never forwarded
    await gw.configure("fault-injection", { ...FAULTS, faults: FAULTS.faults.map((f) => ({ ...f, enabled: false })) });
    be.seen.length = 0;
    gw.resetStats();
    const c = await get(gw.port, "/", { "x-tandem-fault": token("abort=502"), "x-user-id": "q" });
    expect(c.status).toBe(200);
    expect(be.seen[0].headers["x-tandem-fault"]).toBeUndefined();
    s = gw.rpcStats();
    expect(s.accessCalls[0].filter((m) => m === "kong.request.get_headers")).toHaveLength(2);
    // switched on again (a plugin instance takes its config at its first request)
    await gw.configure("fault-injection", FAULTS);
    expect((await get(gw.port, "/", { "x-user-id": "r1", "x-chaos": "abort" })).status).toBe(418);
  });

  it("refuses a bad configuration with the core's message; the previous one stays", async () => {
    gw.clearLogs();
    await gw.configure("fault-injection", { ...FAULTS, faults: [{ delay: { fixedMs: 40000, percent: 10 } }] });
    const r = await get(gw.port, "/", { "x-chaos": "abort", "x-user-id": "u1" });
    expect(r.status).toBe(418);
    let logs = "";
    for (let i = 0; i < 50 && !logs.includes("fixedMs"); i++) {
      await new Promise((ok) => setTimeout(ok, 20));
      logs = gw.logs("debug").map((l) => l.message).join("\n");
    }
    expect(logs).toContain("tandem: configuration rejected, previous configuration stays in force: faults[0].delay.fixedMs: must be between 0 and 30000, got 40000");
  });
});

// Kong starts one plugin-server process per tandem plugin per node, and every nginx
// worker sends its calls to that one socket (plugin_servers/process.lua: one process per
// plugin server): the count of delays in flight in the process (the core's, module scope)
// is the node's, whichever worker a request came through.
describe("fault-injection maxActive on Kong with 2 nginx workers", () => {
  let kong: KongGateway;
  beforeAll(async () => {
    kong = await startKong({
      workers: 2,
      plugins: [{ name: "fault-injection", dir: requireBuilt(KONG_DIR("fault-injection")), config: { faults: [{ name: "slow", maxActive: 2, delay: { fixedMs: 3000, percent: 100 } }] } }],
      upstreams: be.addrs, defaultUpstream: "svc",
    });
  });
  afterAll(async () => { await kong?.close(); });

  it("of 4 requests at once over both workers, 2 wait and 2 pass: one count for the node", async () => {
    const t0 = Date.now();
    const took = await Promise.all(Array.from({ length: 4 }, (_, i) =>
      get(kong.port, "/", { "x-user-id": `m${i}` }).then((r) => { expect(r.status).toBe(200); return Date.now() - t0; })));
    expect(took.filter((ms) => ms >= 3000).length).toBe(2);
    expect(took.filter((ms) => ms < 2000).length).toBe(2);
  }, 30_000);
});
