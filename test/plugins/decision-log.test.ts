// The decision log in the Kong experiment plugin (plugins/experiment/decision-log.ts):
// each sampled request's line on the plugin server's stdout, which Kong copies to its
// error log at info (sim/kong: plugin_servers/process.lua grab_logs), and its RPC cost.
// Real kong-js-pluginserver behind the Kong harness, virtual clock.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { startKong, type KongGateway, type LogEntry } from "../../sim/kong";
import { KONG_DIR, loadCore, requireBuilt } from "../support/dist";
import { DECISION_LOG_PREFIX } from "../../wasm/core/metrics/catalog";

const servers: Server[] = [];
const addrs: Record<string, { host: string; port: number }> = {};
const EXPERIMENT = {
  name: "checkout-v2", policy: "checkout",
  stickiness: { sources: ["header:x-user-id"] },
  variants: [{ name: "stable", weight: 50, upstream: "api-v1" }, { name: "canary", weight: 50, upstream: "api-v2" }],
  decisionLog: { percent: 50 },
};

beforeAll(async () => {
  for (const name of ["api-v1", "api-v2", "svc"]) {
    const s = createServer((req, res) => { req.resume(); res.writeHead(200).end(name); });
    await new Promise<void>((ok) => s.listen(0, "127.0.0.1", ok));
    servers.push(s);
    addrs[name] = { host: "127.0.0.1", port: (s.address() as AddressInfo).port };
  }
});
afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise<void>((ok) => { s.closeAllConnections(); s.close(() => ok()); })));
});

const core = loadCore();
const plan = core.configureExperiment(JSON.stringify(EXPERIMENT));

async function send(gw: KongGateway, headers: Record<string, string>): Promise<void> {
  const r = await fetch(`${gw.url}/`, { headers });
  await r.text();
  await gw.logDone();
}

describe("Kong: decision log", () => {
  let gw: KongGateway;
  const errorLog: LogEntry[] = [];
  beforeAll(async () => {
    gw = await startKong({
      plugins: [{ name: "experiment", dir: requireBuilt(KONG_DIR("experiment")), config: EXPERIMENT }],
      upstreams: addrs, defaultUpstream: "svc", virtualClock: true, retries: 0,
      logLevel: "info", onErrorLog: (e) => errorLog.push(e),
    });
    await gw.setNow(1_000_000);
  });
  afterAll(() => gw?.close());

  it("a line for exactly the ids the core samples; unsampled: no RPC more, sampled: set_serialize_value + serialize (metrics off)", async () => {
    await send(gw, { "x-user-id": "u1", "x-request-id": "warm-up" });
    const ids = Array.from({ length: 30 }, (_, i) => `id-${i}`);
    const counts: Array<{ id: string; sampled: boolean; access: number; calls: string[]; log: number }> = [];
    for (const id of ids) {
      gw.resetStats();
      await send(gw, { "x-user-id": "u1", "x-request-id": id });
      const st = gw.rpcStats();
      counts.push({ id, sampled: core.logSampled(plan, id), access: st.access[0], calls: st.accessCalls[0], log: st.log[0] });
    }
    // the lines come through a pipe, apart from the log phase's RPCs
    for (let i = 0; i < 200 && errorLog.filter((e) => e.message.includes(DECISION_LOG_PREFIX)).length < counts.filter((c) => c.sampled).length + 1; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    await new Promise((r) => setTimeout(r, 100));
    const lines = errorLog.filter((e) => e.message.includes(DECISION_LOG_PREFIX));
    // Kong's grab_logs: "[<server>:<pid>] " then the line, at info, from the plugin server
    for (const e of lines) {
      expect(e.level).toBe("info");
      expect(e.source).toBe("pluginserver");
      expect(e.message).toMatch(/^\[[^\]]+:\d+\] tandem: decision \{/);
    }
    const logged = lines.map((e) => JSON.parse(e.message.slice(e.message.indexOf("{"))).request_id as string).filter((id) => id !== "warm-up");
    expect(logged).toEqual(counts.filter((c) => c.sampled).map((c) => c.id));
    expect(logged.length).toBeGreaterThan(5);
    expect(logged.length).toBeLessThan(25);
    const unsampled = counts.filter((c) => !c.sampled);
    const sampled = counts.filter((c) => c.sampled);
    // unsampled: what the plugin makes with the decision log off (docs/architecture.md:
    // HandleEvent, get_headers, set_header, set_upstream; log: HandleEvent alone)
    expect(new Set(unsampled.map((c) => c.access))).toEqual(new Set([4]));
    expect(unsampled.every((c) => !c.calls.includes("kong.log.set_serialize_value"))).toBe(true);
    expect(new Set(unsampled.map((c) => c.log))).toEqual(new Set([1]));
    // sampled: + set_serialize_value in access, + serialize in log
    expect(new Set(sampled.map((c) => c.access))).toEqual(new Set([5]));
    expect(sampled.every((c) => c.calls.filter((x) => x === "kong.log.set_serialize_value").length === 1)).toBe(true);
    expect(new Set(sampled.map((c) => c.log))).toEqual(new Set([2]));
    // eslint-disable-next-line no-console
    console.log(`Kong RPCs per request, metrics off: unsampled access ${unsampled[0].access} log ${unsampled[0].log}; sampled access ${sampled[0].access} log ${sampled[0].log}`);
  });

  it("Kong's default log_level (notice) keeps none of them", () => {
    expect(gw.logs("notice").some((e) => e.message.includes(DECISION_LOG_PREFIX))).toBe(false);
    expect(gw.logs("info").some((e) => e.message.includes(DECISION_LOG_PREFIX))).toBe(true);
  });

  it("a request without x-request-id: Kong's request id, fetched with one get_var, sampled by it", async () => {
    gw.resetStats();
    await send(gw, { "x-user-id": "u1" });
    const st = gw.rpcStats();
    expect(st.accessCalls[0]).toContain("kong.nginx.get_var");
  });
});

describe("Kong: decision log with metrics on", () => {
  it("adds no RPC to sampled or unsampled requests: the carry and the serialize are the metrics' own", async () => {
    const gw = await startKong({
      plugins: [{ name: "experiment", dir: requireBuilt(KONG_DIR("experiment")), config: EXPERIMENT, env: { TANDEM_METRICS_PORT: "0" } }],
      upstreams: addrs, defaultUpstream: "svc", virtualClock: true, retries: 0,
    });
    try {
      await gw.setNow(1_000_000);
      const seen = new Map<boolean, Set<string>>([[true, new Set()], [false, new Set()]]);
      for (let i = 0; i < 20; i++) {
        const id = `m-${i}`;
        gw.resetStats();
        await send(gw, { "x-user-id": "u1", "x-request-id": id });
        const st = gw.rpcStats();
        seen.get(core.logSampled(plan, id))!.add(`${st.access[0]}/${st.log[0]}`);
      }
      expect(seen.get(true)!.size).toBeGreaterThan(0);
      expect(seen.get(false)!.size).toBeGreaterThan(0);
      // metrics alone: access 5 (set_serialize_value), log 2 (serialize)
      expect([...seen.get(true)!]).toEqual(["5/2"]);
      expect([...seen.get(false)!]).toEqual(["5/2"]);
    } finally {
      await gw.close();
    }
  });
});
