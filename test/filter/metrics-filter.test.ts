// tandem's metrics from the Envoy filter (wasm/filter/metrics.ts) through the Envoy
// harness's /stats/prometheus (sim/envoy/prometheus.ts) with the tag extraction and
// histogram bounds `tandem render` writes (cli/render/envoy-stats.ts): the catalog's
// series names with real labels, as on Kong (test/plugins/metrics.test.ts).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { VirtualTicks, startEnvoy, type EnvoyGateway } from "../../sim/envoy";
import { FILTER_WASM, requireBuilt } from "../support/dist";
import { parseExposition, seriesId } from "../../core-js/metrics-text";
import { tandemHistogramBuckets, tandemStatsTags } from "../../cli/render/envoy-stats";
import {
  ASSIGNMENTS_TOTAL, BREAKER_REJECTIONS, BREAKER_STATE, BREAKER_TRANSITIONS, CONFIG_REJECTIONS, REQUESTS_TOTAL, REQUEST_DURATION,
} from "../../wasm/core/metrics/catalog";

let failing = false;
let up: Server;
let now = 1_000_000;
// Root timers on the virtual clock: the experiment hands its counters to Envoy on its
// root's tick (wasm/filter/counter-buffer.ts), so a scrape reads them one period later.
const ticks = new VirtualTicks(() => now, (ms) => { now = ms; });

const EXPERIMENT = {
  name: "checkout-v2", policy: "checkout",
  stickiness: { sources: ["header:x-user-id"] },
  variants: [{ name: "stable", weight: 50 }, { name: "canary", weight: 50 }],
};
const BREAKER = { policy: "checkout", key: "header:x-tenant", maxKeys: 3, consecutiveFailures: 2, failure: { statuses: [503] } };

beforeAll(async () => {
  up = createServer((req, res) => {
    req.resume();
    now += 7;   // 7 ms of upstream time on the virtual clock
    res.writeHead(failing ? 503 : 200).end("ok");
  });
  await new Promise<void>((ok) => up.listen(0, "127.0.0.1", ok));
});
afterAll(() => new Promise<void>((ok) => up.close(() => ok())));

function envoy(filters: Array<{ rootId: string; configuration: unknown }>): Promise<EnvoyGateway> {
  return startEnvoy({
    filters: filters.map((f) => ({ wasm: requireBuilt(FILTER_WASM), rootId: f.rootId, configuration: JSON.stringify(f.configuration) })),
    clusters: { svc: { host: "127.0.0.1", port: (up.address() as AddressInfo).port } },
    routes: [{ cluster: "svc" }],
    clock: () => now,
    virtualTicks: ticks,
    workers: 1,
    admin: { port: 0 },
    statsTags: tandemStatsTags(),
    histogramBucketSettings: tandemHistogramBuckets(),
  });
}

// What Prometheus reads once the filters' flush ticks have run (one period later).
async function scrape(gw: EnvoyGateway, usedOnly = true): Promise<Map<string, number>> {
  ticks.fireArmed();
  gw.flushStats();
  const r = await fetch(`${gw.adminUrl}/stats/prometheus${usedOnly ? "?usedonly" : ""}`);
  return new Map(parseExposition(await r.text()).map((s) => [seriesId(s), s.value]));
}

async function send(gw: EnvoyGateway, headers: Record<string, string>): Promise<number> {
  const r = await fetch(gw.url + "/", { headers });
  await r.text();
  return r.status;
}

describe("Envoy: experiment metrics", () => {
  let gw: EnvoyGateway;
  beforeAll(async () => { gw = await envoy([{ rootId: "experiment", configuration: EXPERIMENT }]); });
  afterAll(() => gw?.close());

  it("exports the catalog's series with real labels: requests, assignments, latency (µs bounds)", async () => {
    failing = false;
    for (let i = 0; i < 20; i++) await send(gw, { "x-user-id": `u${i}` });
    failing = true;
    await send(gw, { "x-user-id": "u0" });
    failing = false;
    const m = await scrape(gw);
    const by = (v: string, cls: string) => m.get(`${REQUESTS_TOTAL}{code_class="${cls}",experiment="checkout-v2",policy="checkout",reason="split",variant="${v}"}`) ?? 0;
    expect(by("stable", "2xx") + by("canary", "2xx")).toBe(20);
    expect(by("stable", "5xx") + by("canary", "5xx")).toBe(1);
    const assigned = ["stable", "canary"].map((v) => m.get(`${ASSIGNMENTS_TOTAL}{experiment="checkout-v2",policy="checkout",source="header",variant="${v}"}`) ?? 0);
    expect(assigned[0] + assigned[1]).toBe(21);
    const count = ["stable", "canary"].map((v) => m.get(`${REQUEST_DURATION}_count{experiment="checkout-v2",policy="checkout",variant="${v}"}`) ?? 0);
    expect(count[0] + count[1]).toBe(21);
    // 7 ms each: above the 5 ms bound (5000 µs), within 10 ms (10000 µs)
    const le = (b: string) => ["stable", "canary"].reduce((a, v) => a + (m.get(`${REQUEST_DURATION}_bucket{experiment="checkout-v2",le="${b}",policy="checkout",variant="${v}"}`) ?? 0), 0);
    expect([le("5000"), le("10000"), le("+Inf")]).toEqual([0, 21, 21]);
    // only tandem_ series, no stat name with a label left in it
    for (const id of m.keys()) expect(id).toMatch(/^tandem_[a-z_]+(\{|$)/);
  });

  it("without ?usedonly, also the zero series of every label value the policy defines", async () => {
    const all = await scrape(gw, false);
    expect(all.get(`${REQUESTS_TOTAL}{code_class="1xx",experiment="checkout-v2",policy="checkout",reason="ramp",variant="canary"}`)).toBe(0);
  });

  it("counts a configuration the core refused", async () => {
    expect(gw.reconfigure("experiment", JSON.stringify({ ...EXPERIMENT, policy: "bad name" }))).toBe(false);
    expect((await scrape(gw)).get(`${CONFIG_REJECTIONS}{plugin="experiment"}`)).toBe(1);
  });
});

describe("Envoy: experiment counters are flushed on the root's tick", () => {
  const requests = (m: Record<string, number>) =>
    Object.entries(m).filter(([k]) => k.startsWith(`wasmcustom.${REQUESTS_TOTAL}`)).reduce((a, [, v]) => a + v, 0);
  const assignments = (m: Record<string, number>) =>
    Object.entries(m).filter(([k]) => k.startsWith(`wasmcustom.${ASSIGNMENTS_TOTAL}`)).reduce((a, [, v]) => a + v, 0);

  it("no host call per request for counters; one proxy_increment_metric per moved counter per tick; an idle tick stops the timer", async () => {
    const gw = await envoy([{ rootId: "experiment", configuration: EXPERIMENT }]);
    try {
      failing = false;
      const calls = new Map<string, number>();
      gw.vms[0].hostCalls = calls;
      for (let i = 0; i < 10; i++) await send(gw, { "x-user-id": `u${i}` });
      expect(calls.get("env.proxy_increment_metric") ?? 0).toBe(0);
      // the counts wait in the VM: Envoy has none yet, a timer is armed one period out
      expect(requests(gw.metrics())).toBe(0);
      expect(ticks.nextAt()).toBeLessThan(Infinity);
      ticks.advance(ticks.nextAt());
      const m = gw.metrics();
      expect([requests(m), assignments(m)]).toEqual([10, 10]);
      // 10 requests of 2 variants: at most 2 request series + 2 assignment series moved
      const flushed = calls.get("env.proxy_increment_metric") ?? 0;
      expect(flushed).toBeGreaterThanOrEqual(2);
      expect(flushed).toBeLessThanOrEqual(4);
      // the next tick finds nothing and stops the timer: an idle root has none
      ticks.advance(ticks.nextAt());
      expect(ticks.nextAt()).toBe(Infinity);
      expect(calls.get("env.proxy_increment_metric")).toBe(flushed);
      gw.vms[0].hostCalls = null;
    } finally {
      await gw.close();
    }
  });

  it("a root context Envoy shuts down (configuration replaced) hands over its counts in on_done, before any tick", async () => {
    const gw = await envoy([{ rootId: "experiment", configuration: EXPERIMENT }]);
    try {
      failing = false;
      for (let i = 0; i < 5; i++) await send(gw, { "x-user-id": `u${i}` });
      expect(requests(gw.metrics())).toBe(0);
      expect(gw.reconfigure("experiment", JSON.stringify({ ...EXPERIMENT, name: "checkout-v3" }))).toBe(true);
      expect([requests(gw.metrics()), assignments(gw.metrics())]).toEqual([5, 5]);
    } finally {
      await gw.close();
    }
  });
});

// One gateway with root id `rootId`: the proxy_get_property calls while `drive` runs, and
// every series scraped after it (only the histogram's sum depends on timing; the virtual
// clock makes it exact too).
async function propertyReadsAndSeries(rootId: string, configuration: unknown, drive: (gw: Awaited<ReturnType<typeof envoy>>) => Promise<void>) {
  const gw = await envoy([{ rootId, configuration }]);
  try {
    const calls = new Map<string, number>();
    gw.vms[0].hostCalls = calls;
    await drive(gw);
    gw.vms[0].hostCalls = null;
    const m = await scrape(gw);
    return { properties: calls.get("env.proxy_get_property") ?? 0, series: [...m.entries()].sort() };
  } finally {
    await gw.close();
  }
}

// `hasFaults: false` (tandem render writes it for a policy without spec.faults): the
// filter reads no fault mark in on_log, one proxy_get_property less per decided stream,
// and records the same series with the same values (docs/performance.md "Metrics").
describe("Envoy: experiment metrics without a fault-injection part", () => {
  it("one proxy_get_property per proxied stream instead of two, the same series and values", async () => {
    const run = (configuration: unknown) => propertyReadsAndSeries("experiment", configuration, async (gw) => {
      failing = false;
      for (let i = 0; i < 6; i++) await send(gw, { "x-user-id": `u${i}` });
      failing = true;
      for (let i = 0; i < 2; i++) await send(gw, { "x-user-id": `u${i}` });
      failing = false;
    });
    const reading = await run(EXPERIMENT);
    const skipping = await run({ ...EXPERIMENT, hasFaults: false });
    // 8 streams: upstream.address and the fault mark each; then upstream.address alone
    expect(reading.properties).toBe(16);
    expect(skipping.properties).toBe(8);
    expect(skipping.series).toEqual(reading.series);
    expect(skipping.series.length).toBeGreaterThan(4);
  });
});

// The same for the circuit-breaker filter: its outcome record reads no fault mark.
describe("Envoy: circuit-breaker without a fault-injection part", () => {
  it("reads no fault mark per recorded stream, and records the same series", async () => {
    const run = (configuration: unknown) => propertyReadsAndSeries("circuit-breaker", configuration, async (gw) => {
      failing = false;
      for (const t of ["a", "b", "c"]) for (let i = 0; i < 2; i++) await send(gw, { "x-tenant": t });
    });
    const reading = await run(BREAKER);
    const skipping = await run({ ...(BREAKER as Record<string, unknown>), hasFaults: false });
    // 6 answered streams, each recorded once: the fault mark each, then nothing (200s
    // read no response flags)
    expect(reading.properties).toBe(6);
    expect(skipping.properties).toBe(0);
    expect(skipping.series).toEqual(reading.series);
  });
});

describe("Envoy: circuit-breaker metrics", () => {
  it("records transitions, state and rejections per key, at most maxKeys key labels", async () => {
    const gw = await envoy([{ rootId: "circuit-breaker", configuration: BREAKER }]);
    try {
      failing = true;
      for (const t of ["a", "b", "c", "d", "e"]) for (let i = 0; i < 2; i++) await send(gw, { "x-tenant": t });
      failing = false;
      expect(await send(gw, { "x-tenant": "e" })).toBe(503);
      const m = await scrape(gw);
      expect(m.get(`${BREAKER_TRANSITIONS}{from="closed",key="other",policy="checkout",to="open"}`)).toBe(2);
      expect(m.get(`${BREAKER_REJECTIONS}{key="other",policy="checkout"}`)).toBe(1);
      expect([...m.keys()].filter((k) => k.startsWith(BREAKER_STATE + "{")).length).toBe(4);
    } finally {
      failing = false;
      await gw.close();
    }
  });
});
