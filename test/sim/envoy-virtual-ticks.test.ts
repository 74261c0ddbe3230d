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
