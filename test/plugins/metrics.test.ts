// Kong plugin servers' metrics (plugins/shared/metrics.ts): the catalog's series on
// GET /metrics when TANDEM_METRICS_PORT is set, what each plugin records and what it
// costs in RPCs. Real kong-js-pluginserver behind the Kong harness, virtual clock.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { startKong, type KongGateway } from "../../sim/kong";
import { KONG_DIR, requireBuilt } from "../support/dist";
import { parseExposition, seriesId, type Sample } from "../../core-js/metrics-text";
import { metricsPort } from "../../plugins/shared/metrics";
import {
  ASSIGNMENTS_TOTAL, BREAKER_REJECTIONS, BREAKER_STATE, BREAKER_TRANSITIONS, CONFIG_REJECTIONS, REQUESTS_TOTAL, REQUEST_DURATION,
} from "../../wasm/core/metrics/catalog";

const servers: Server[] = [];
const addrs: Record<string, { host: string; port: number }> = {};
let failing = false;
const ON = { TANDEM_METRICS_PORT: "0" };

const EXPERIMENT = {
  name: "checkout-v2", policy: "checkout",
  stickiness: { sources: ["header:x-user-id"] },
  variants: [{ name: "stable", weight: 50, upstream: "api-v1" }, { name: "canary", weight: 50, upstream: "api-v2" }],
};
const BREAKER = { policy: "checkout", key: "header:x-tenant", maxKeys: 3, consecutiveFailures: 2, failure: { statuses: ["503"] } };

beforeAll(async () => {
  for (const name of ["api-v1", "api-v2", "svc"]) {
    const s = createServer((req, res) => {
      req.resume();
      res.writeHead(failing ? 503 : 200).end(name);
    });
    await new Promise<void>((ok) => s.listen(0, "127.0.0.1", ok));
    servers.push(s);
    addrs[name] = { host: "127.0.0.1", port: (s.address() as AddressInfo).port };
  }
});
afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise<void>((ok) => { s.closeAllConnections(); s.close(() => ok()); })));
});

async function scrape(gw: KongGateway, plugin: string): Promise<Map<string, number>> {
  const url = await gw.pluginServer(plugin).metricsUrl();
  expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
  const r = await fetch(url);
  expect(r.headers.get("content-type")).toContain("text/plain");
  return new Map(parseExposition(await r.text()).map((s: Sample) => [seriesId(s), s.value]));
}

async function send(gw: KongGateway, headers: Record<string, string>): Promise<number> {
  const r = await fetch(`${gw.url}/`, { headers });
  await r.text();
  await gw.logDone();
  return r.status;
}

describe("Kong: experiment metrics", () => {
  let gw: KongGateway;
  beforeAll(async () => {
    gw = await startKong({
      plugins: [{ name: "experiment", dir: requireBuilt(KONG_DIR("experiment")), config: EXPERIMENT, env: ON }],
      upstreams: addrs, defaultUpstream: "svc", virtualClock: true, retries: 0,
    });
    await gw.setNow(1_000_000);
  });
  afterAll(() => gw?.close());

  it("counts requests by variant, reason and status class, assignments by source, and upstream latency", async () => {
    failing = false;
    const users = Array.from({ length: 20 }, (_, i) => `u${i}`);
    for (const u of users) await send(gw, { "x-user-id": u });
    failing = true;
    await send(gw, { "x-user-id": "u0" });
    failing = false;
    const m = await scrape(gw, "experiment");
    const by = (v: string, cls: string) => m.get(`${REQUESTS_TOTAL}{code_class="${cls}",experiment="checkout-v2",policy="checkout",reason="split",variant="${v}"}`) ?? 0;
    expect(by("stable", "2xx") + by("canary", "2xx")).toBe(20);
    expect(by("stable", "5xx") + by("canary", "5xx")).toBe(1);
    expect(by("stable", "2xx")).toBeGreaterThan(0);
    expect(by("canary", "2xx")).toBeGreaterThan(0);
    const assigned = ["stable", "canary"].map((v) => m.get(`${ASSIGNMENTS_TOTAL}{experiment="checkout-v2",policy="checkout",source="header",variant="${v}"}`) ?? 0);
    expect(assigned[0] + assigned[1]).toBe(21);
    const count = ["stable", "canary"].map((v) => m.get(`${REQUEST_DURATION}_count{experiment="checkout-v2",policy="checkout",variant="${v}"}`) ?? 0);
    expect(count[0] + count[1]).toBe(21);
    // The virtual clock stands still: every latency is 0 s, inside the first bucket.
    const first = ["stable", "canary"].map((v) => m.get(`${REQUEST_DURATION}_bucket{experiment="checkout-v2",le="0.005",policy="checkout",variant="${v}"}`) ?? 0);
    expect(first).toEqual(count);
  });

  it("costs one set_serialize_value in access and one serialize in log, only with metrics on", async () => {
    gw.resetStats();
    await send(gw, { "x-user-id": "u1" });
    const st = gw.rpcStats();
    expect(st.accessCalls[0]).toContain("kong.log.set_serialize_value");
    expect(st.log).toEqual([2]);
  });
});

describe("Kong: series declared at zero when a configuration is built", () => {
  // Envoy defines every series a configuration can write at configure
  // (wasm/filter/experiment-filter.ts ExperimentStats); a Kong series first seen at its
  // first increment makes Prometheus' rate() miss that sample.
  let gw: KongGateway;
  beforeAll(async () => {
    gw = await startKong({
      plugins: [{ name: "experiment", dir: requireBuilt(KONG_DIR("experiment")), config: EXPERIMENT, env: ON }],
      upstreams: addrs, defaultUpstream: "svc", virtualClock: true, retries: 0,
    });
    await gw.setNow(1_000_000);
  });
  afterAll(() => gw?.close());

  it("shows the other variant, every reason and status class, and an empty histogram after one request", async () => {
    failing = false;
    expect(await send(gw, { "x-user-id": "u0" })).toBe(200);
    const m = await scrape(gw, "experiment");
    const req = (v: string, reason: string, cls: string) => m.get(`${REQUESTS_TOTAL}{code_class="${cls}",experiment="checkout-v2",policy="checkout",reason="${reason}",variant="${v}"}`);
    const served = ["stable", "canary"].filter((v) => req(v, "split", "2xx") === 1);
    expect(served).toHaveLength(1);
    const other = served[0] === "stable" ? "canary" : "stable";
    expect(req(other, "split", "2xx")).toBe(0);
    expect(req(served[0], "split", "5xx")).toBe(0);
    expect(req(other, "guard", "5xx")).toBe(0);
    expect(m.get(`${REQUEST_DURATION}_count{experiment="checkout-v2",policy="checkout",variant="${other}"}`)).toBe(0);
    // the policy's key source and "issued" (a new id), as Envoy defines them; no other source
    expect(m.get(`${ASSIGNMENTS_TOTAL}{experiment="checkout-v2",policy="checkout",source="issued",variant="${other}"}`)).toBe(0);
    expect(m.get(`${ASSIGNMENTS_TOTAL}{experiment="checkout-v2",policy="checkout",source="header",variant="${other}"}`)).toBe(0);
    expect(m.has(`${ASSIGNMENTS_TOTAL}{experiment="checkout-v2",policy="checkout",source="cookie",variant="${other}"}`)).toBe(false);
    expect(m.get(`${CONFIG_REJECTIONS}{plugin="experiment"}`)).toBe(0);
  });
});

describe("Kong: metrics off", () => {
  it("adds no RPC and serves nothing when TANDEM_METRICS_PORT is unset", async () => {
    const gw = await startKong({
      plugins: [{ name: "experiment", dir: requireBuilt(KONG_DIR("experiment")), config: EXPERIMENT }],
      upstreams: addrs, defaultUpstream: "svc", virtualClock: true, retries: 0,
    });
    try {
      await send(gw, { "x-user-id": "u1" });
      const st = gw.rpcStats();
      expect(st.accessCalls[0]).not.toContain("kong.log.set_serialize_value");
      expect(st.log).toEqual([1]);
      await expect(gw.pluginServer("experiment").metricsUrl(300)).rejects.toThrow("no metrics address");
    } finally {
      await gw.close();
    }
  });

  it("refuses a bad TANDEM_METRICS_PORT with one line", () => {
    expect(metricsPort(undefined)).toBeNull();
    expect(metricsPort("9542")).toBe(9542);
    expect(metricsPort("0")).toBe(0);
    expect(metricsPort("http")).toBe('tandem: TANDEM_METRICS_PORT must be a port number (0-65535), got "http": metrics off');
    expect(metricsPort("70000")).toMatch(/got "70000": metrics off$/);
  });
});

describe("Kong: circuit-breaker metrics", () => {
  it("records transitions, state and rejections per key, at most maxKeys key labels", async () => {
    const gw = await startKong({
      plugins: [{ name: "circuit-breaker", dir: requireBuilt(KONG_DIR("circuit-breaker")), config: BREAKER, env: ON }],
      upstreams: addrs, defaultUpstream: "svc", virtualClock: true, retries: 0,
    });
    try {
      await gw.setNow(1_000_000);
      failing = true;
      for (const t of ["a", "b", "c", "d", "e"]) for (let i = 0; i < 2; i++) await send(gw, { "x-tenant": t });
      failing = false;
      // (the breaker itself keeps maxKeys keys too: a and b were evicted, e is open)
      expect(await send(gw, { "x-tenant": "e" })).toBe(503);
      const m = await scrape(gw, "circuit-breaker");
      for (const k of ["a", "b", "c"]) {
        expect(m.get(`${BREAKER_STATE}{key="${k}",policy="checkout"}`)).toBe(1);
        expect(m.get(`${BREAKER_TRANSITIONS}{from="closed",key="${k}",policy="checkout",to="open"}`)).toBe(1);
      }
      // d and e are beyond maxKeys (3): one "other" series for both
      expect(m.get(`${BREAKER_TRANSITIONS}{from="closed",key="other",policy="checkout",to="open"}`)).toBe(2);
      expect(m.get(`${BREAKER_REJECTIONS}{key="other",policy="checkout"}`)).toBe(1);
      expect([...m.keys()].filter((k) => k.startsWith(BREAKER_STATE + "{")).length).toBe(4);
    } finally {
      failing = false;
      await gw.close();
    }
  });
});

describe("Kong: config rejections", () => {
  it("counts a configuration the core refused", async () => {
    const gw = await startKong({
      plugins: [{ name: "experiment", dir: requireBuilt(KONG_DIR("experiment")), config: { ...EXPERIMENT, policy: "bad name" }, env: ON }],
      upstreams: addrs, defaultUpstream: "svc", virtualClock: true, retries: 0,
    });
    try {
      expect(await send(gw, { "x-user-id": "u1" })).toBe(500);
      const m = await scrape(gw, "experiment");
      expect(m.get(`${CONFIG_REJECTIONS}{plugin="experiment"}`)).toBeGreaterThanOrEqual(1);
    } finally {
      await gw.close();
    }
  });
});
