// maxActive across worker VMs: the fault-injection filter counts a fault's delays in
// flight in shared data (wasm/filter/delay-gate.ts), so two worker VMs together delay at
// most maxActive requests, as Envoy's own fault filter counts max_active_faults for the
// whole process. The harness spreads requests round-robin over its worker VMs.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { VirtualTicks, startEnvoy, type EnvoyGateway } from "../../sim/envoy";
import { FILTER_WASM } from "../support/dist";
import { FAULT_ACTIVE_PREFIX } from "../../wasm/core/contract";

let up: Server;
let gw: EnvoyGateway;
let now = 5_000;
const ticks = new VirtualTicks(() => now, (ms) => { now = ms; });
const DELAY_MS = 1000;

beforeAll(async () => {
  up = createServer((_q, s) => s.end("ok"));
  await new Promise<void>((ok) => up.listen(0, "127.0.0.1", ok));
  gw = await startEnvoy({
    filters: [{ wasm: FILTER_WASM, rootId: "fault-injection", configuration: JSON.stringify({ faults: [{ maxActive: 2, delay: { fixedMs: DELAY_MS, percent: 100 } }] }) }],
    clusters: { svc: { host: "127.0.0.1", port: (up.address() as AddressInfo).port } },
    routes: [{ cluster: "svc" }],
    clock: () => now,
    virtualTicks: ticks,
    workers: 2,
  });
});
afterAll(async () => { await gw?.close(); await new Promise((ok) => up?.close(ok)); });

const delayed = () => gw.metrics()["wasmcustom.tandem_fault_delays_injected"] ?? 0;
const reset = () => gw.metrics()["wasmcustom.tandem_fault_delays_reset"] ?? 0;
// the count every worker VM reads: the fault's shared-data value
function inFlight(): number {
  const names = gw.sharedData.keys("").filter((k) => k.startsWith(FAULT_ACTIVE_PREFIX));
  expect(names.length).toBe(1);
  return gw.sharedData.get("", names[0])!.value.readUInt32LE(0);
}
async function until(cond: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((ok) => setTimeout(ok, 5));
  }
}

describe("fault-injection maxActive, two worker VMs", () => {
  it("at most maxActive delayed at once across the workers; the others pass at once; resumed delays give their places back", async () => {
    const before = delayed();
    let done = 0;
    const all = Array.from({ length: 4 }, (_, i) =>
      fetch(`${gw.url}/r${i}`, { headers: { "x-request-id": `req-${i}` } }).then(async (r) => { await r.text(); done++; return r.status; }));
    // every request reached the filter: passed (done) or paused (counted as delayed)
    await until(() => done + (delayed() - before) === 4);
    expect(delayed() - before).toBe(2);   // per-VM counting would delay all 4 (2 per worker)
    expect(done).toBe(2);
    expect(inFlight()).toBe(2);
    ticks.advance(now + DELAY_MS);
    expect(await Promise.all(all)).toEqual([200, 200, 200, 200]);
    await until(() => inFlight() === 0);
  });

  it("a client reset while paused gives the place back at once: the next request is delayed", async () => {
    const before = delayed();
    const gone = new AbortController();
    const a = fetch(`${gw.url}/a`, { signal: gone.signal }).catch(() => "reset");
    const b = fetch(`${gw.url}/b`).then((r) => r.text());
    await until(() => delayed() - before === 2);
    expect(inFlight()).toBe(2);
    const resetBefore = reset();
    gone.abort();
    expect(await a).toBe("reset");
    await until(() => reset() === resetBefore + 1);
    expect(inFlight()).toBe(1);
    const c = fetch(`${gw.url}/c`).then((r) => r.text());
    await until(() => delayed() - before === 3);   // the freed place went to c
    expect(inFlight()).toBe(2);
    ticks.advance(now + DELAY_MS);
    expect(await Promise.all([b, c])).toEqual(["ok", "ok"]);
    await until(() => inFlight() === 0);
  });
});
