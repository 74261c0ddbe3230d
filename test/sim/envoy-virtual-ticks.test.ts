// sim/envoy: root-context timers on the gateway's virtual clock (EnvoyOptions.virtualTicks),
// so `tandem simulate --via envoy` replays fault delays exactly: a paused stream resumes
// when virtual time reaches its tick, never on wall time.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { VirtualTicks, startEnvoy, type EnvoyGateway } from "../../sim/envoy";
import { FILTER_WASM } from "../support/dist";

let up: Server;
let gw: EnvoyGateway;
let now = 1000;
const ticks = new VirtualTicks(() => now, (ms) => { now = ms; });

beforeAll(async () => {
  up = createServer((_q, s) => s.end("ok"));
  await new Promise<void>((ok) => up.listen(0, "127.0.0.1", ok));
  gw = await startEnvoy({
    filters: [{ wasm: FILTER_WASM, rootId: "fault-injection", configuration: JSON.stringify({ faults: [{ delay: { fixedMs: 250, percent: 100 } }] }) }],
    clusters: { svc: { host: "127.0.0.1", port: (up.address() as AddressInfo).port } },
    routes: [{ cluster: "svc" }],
    clock: () => now,
    virtualTicks: ticks,
    workers: 1,
  });
});
afterAll(async () => { await gw?.close(); await new Promise((ok) => up?.close(ok)); });

describe("envoy harness: virtual root timers", () => {
  it("a delayed request waits for virtual time, not wall time, and resumes on its tick", async () => {
    let done = false;
    const res = fetch(gw.url + "/").then(async (r) => { done = true; return { status: r.status, body: await r.text() }; });
    await new Promise((ok) => setTimeout(ok, 400));   // more wall time than the delay
    expect(done).toBe(false);
    expect(ticks.nextAt()).toBe(1250);
    ticks.advance(1249);
    await new Promise((ok) => setTimeout(ok, 50));
    expect(done).toBe(false);
    ticks.advance(1250);
    expect(await res).toEqual({ status: 200, body: "ok" });
    expect(ticks.nextAt()).toBe(Infinity);
  });
});

describe("envoy harness: several roots' timers on one virtual clock", () => {
  // experiment (metrics on: a flush timer one period after its first count) before a
  // fault that delays every request 1,500 ms: two roots, two timers.
  const METRICS_EXPERIMENT = { name: "e", policy: "p", stickiness: { sources: ["header:x-user-id"] }, variants: [{ name: "a", weight: 100 }] };
  let gw2: EnvoyGateway;
  let t = 10_000;
  const ticks2 = new VirtualTicks(() => t, (ms) => { t = ms; });
  const assigned = () => Object.entries(gw2.metrics()).filter(([k]) => k.startsWith("wasmcustom.tandem_assignments_total")).reduce((a, [, v]) => a + v, 0);

  beforeAll(async () => {
    gw2 = await startEnvoy({
      filters: [
        { wasm: FILTER_WASM, rootId: "experiment", configuration: JSON.stringify(METRICS_EXPERIMENT) },
        { wasm: FILTER_WASM, rootId: "fault-injection", configuration: JSON.stringify({ faults: [{ delay: { fixedMs: 1500, percent: 100 } }] }) },
      ],
      clusters: { svc: { host: "127.0.0.1", port: (up.address() as AddressInfo).port } },
      routes: [{ cluster: "svc" }],
      clock: () => t,
      virtualTicks: ticks2,
      workers: 1,
    });
  });
  afterAll(async () => { await gw2?.close(); });

  it("nextAt(of) picks one root's timer; advancing to it fires the others due on the way, in time order", async () => {
    const res = fetch(gw2.url + "/", { headers: { "x-user-id": "u1" } }).then((r) => r.text());
    while (ticks2.nextAt((r) => r.rootId === "fault-injection") === Infinity) await new Promise((ok) => setTimeout(ok, 5));
    expect(ticks2.nextAt((r) => r.rootId === "fault-injection")).toBe(11_500);
    expect(ticks2.nextAt()).toBe(11_000);          // the experiment's flush comes first
    expect(assigned()).toBe(0);
    ticks2.advance(11_500);
    expect(assigned()).toBe(1);                    // flushed at 11,000 on the way
    expect(await res).toBe("ok");
  });

  it("fireArmed moves the clock until every armed timer has fired once", async () => {
    await new Promise((ok) => setTimeout(ok, 20));  // the stream's on_log has run
    const due = ticks2.nextAt();
    expect(due).toBe(12_000);                      // the flush timer runs on with its period
    ticks2.fireArmed();
    expect(t).toBe(12_000);
    ticks2.fireArmed();                            // the idle tick stops the timer
    expect(ticks2.nextAt()).toBe(Infinity);
    const at = t;
    ticks2.fireArmed();                            // nothing armed: the clock stays
    expect(t).toBe(at);
  });
});
