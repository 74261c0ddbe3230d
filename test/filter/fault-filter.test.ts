// tandem.wasm's `fault-injection` root id in the Envoy harness (sim/envoy): delays
// pause the stream and resume from the root's tick on the host clock (no busy wait,
// many streams at once, a stream reset while paused cleaned up and never resumed),
// aborts are local replies with the configured headers and body, a bad configuration
// is refused with the core's message.
import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { StatsStore, VirtualTicks, WasmHost, type Pair } from "../../sim/envoy";
import { FILTER_WASM } from "../support/dist";

const ROOT_ID = "fault-injection";
const SECRET = "0123456789abcdef-game-day";
const req = (id: string, extra: Pair[] = []): Pair[] => [[":method", "GET"], [":path", "/api"], [":authority", "shop"], ["x-request-id", id], ...extra];

const timers = new WeakMap<WasmHost, VirtualTicks>();

// The filter in a host whose root timers run on `clock` (sim/envoy/virtual-ticks.ts).
async function host(config: unknown, clock: { now: number }) {
  const ticks = new VirtualTicks(() => clock.now, (ms) => { clock.now = ms; });
  const env = { hasCluster: () => false, httpCall: () => ({ cancel() {} }), onTickPeriod: (vm: never, root: never) => ticks.arm(vm, root) };
  const h = await WasmHost.load({ wasm: FILTER_WASM, rootId: ROOT_ID, configuration: JSON.stringify(config), clock: () => clock.now, stats: new StatsStore(), env });
  timers.set(h, ticks);
  return h;
}

// Advances the host clock to `to`, firing the root's timer whenever it is due.
function advance(h: WasmHost, _clock: { now: number }, to: number) {
  timers.get(h)!.advance(to);
}

describe("fault-injection filter", () => {
  it("refuses a bad configuration with the core's message and keeps the previous one", async () => {
    const clock = { now: 0 };
    await expect(host({ faults: [{ delay: { fixedMs: 40000, percent: 1 } }] }, clock)).rejects.toThrow(/configure/);
    const h = await host({ faults: [{ abort: { status: 503, percent: 100 } }] }, clock);
    expect(h.configure(JSON.stringify({ faults: [{ abort: { status: 700, percent: 100 } }] }))).toBe(false);
    expect(h.logs.some((l) => l.message.includes("tandem: fault-injection configuration rejected: faults[0].abort.status: must be between 200 and 599, got 700"))).toBe(true);
    const r = h.newStream().requestHeaders(req("a"), true);
    expect(r.localReply?.status).toBe(503);
  });

  it("abort: a local reply with the fault's status, headers, content type and body", async () => {
    const h = await host({ faults: [{ abort: { status: 418, percent: 100, body: "injected", headers: { "X-Fault": "teapot" } } }] }, { now: 0 });
    const r = h.newStream().requestHeaders(req("a"), true);
    expect(r.action).toBe("stop");
    expect(r.localReply).toMatchObject({ status: 418, body: "injected" });
    const hs = Object.fromEntries(r.localReply!.headers);
    expect(hs["x-fault"]).toBe("teapot");
    expect(hs["content-type"]).toBe("text/plain; charset=utf-8");
    expect(h.metrics["wasmcustom.tandem_fault_aborts_injected"]).toBe(1);
  });

  it("delay: the stream stops and resumes from the tick when due, not before; no timer while none waits", async () => {
    const clock = { now: 1000 };
    const h = await host({ faults: [{ delay: { fixedMs: 250, percent: 100 } }] }, clock);
    expect(h.root.tickPeriodMs).toBe(0);
    const s = h.newStream();
    expect(s.requestHeaders(req("a"), true).action).toBe("stop");
    expect(h.root.tickPeriodMs).toBe(250);
    advance(h, clock, 1249);
    expect(s.resumed.request).toBe(false);
    advance(h, clock, 1250);
    expect(s.resumed.request).toBe(true);
    expect(h.root.tickPeriodMs).toBe(0);
    s.done();
  });

  it("delay then abort: the local reply is sent when the delay ends", async () => {
    const clock = { now: 0 };
    const h = await host({ faults: [{ delay: { fixedMs: 100, percent: 100 }, abort: { status: 503, percent: 100 } }] }, clock);
    const s = h.newStream();
    expect(s.requestHeaders(req("a"), true).action).toBe("stop");
    expect(s.info.responseCode).toBeFalsy();
    advance(h, clock, 100);
    expect(s.info.responseCode).toBe(503);
    expect(s.resumed.request).toBe(false);
  });

  it("10,000 delayed streams at once, each resumed on its due tick; resets while paused are cleaned up and never resumed", async () => {
    const clock = { now: 0 };
    const h = await host({ faults: [{ name: "short", match: { header: { "x-slow": { exact: "1" } } }, delay: { fixedMs: 50, percent: 100 } }, { name: "long", delay: { fixedMs: 2000, percent: 100 } }] }, clock);
    const streams = [];
    for (let i = 0; i < 10000; i++) {
      clock.now = i % 1000;   // arrivals spread over a second
      const s = h.newStream();
      expect(s.requestHeaders(req(`r${i}`, i % 2 ? [["x-slow", "1"]] : []), true).action).toBe("stop");
      streams.push({ s, due: clock.now + (i % 2 ? 50 : 2000), i });
    }
    // the client goes away on every tenth stream before it resumes
    for (const x of streams) if (x.i % 10 === 0) x.s.done();
    const byDue = new Map<number, typeof streams>();
    for (const x of streams) if (x.i % 10 !== 0) byDue.set(x.due, [...(byDue.get(x.due) ?? []), x]);
    for (let t = 0; t <= 3100; t++) {
      advance(h, clock, t);
      for (const x of byDue.get(t + 1) ?? []) expect(x.s.resumed.request).toBe(false);   // not before its time
      for (const x of byDue.get(t) ?? []) expect(x.s.resumed.request).toBe(true);        // on its tick
    }
    for (const x of streams) expect(x.s.resumed.request).toBe(x.i % 10 !== 0);
    expect(h.metrics["wasmcustom.tandem_fault_delays_injected"]).toBe(10000);
    expect(h.metrics["wasmcustom.tandem_fault_delays_reset"]).toBe(1000);
    expect(h.root.tickPeriodMs).toBe(0);
  });

  it("maxActive bounds the delays in flight; a reset while paused frees its place at once", async () => {
    const clock = { now: 0 };
    const h = await host({ faults: [{ maxActive: 2, delay: { fixedMs: 100, percent: 100 } }] }, clock);
    const a = h.newStream(); const b = h.newStream(); const c = h.newStream();
    expect(a.requestHeaders(req("a"), true).action).toBe("stop");
    expect(b.requestHeaders(req("b"), true).action).toBe("stop");
    expect(c.requestHeaders(req("c"), true).action).toBe("continue");
    a.done();
    const d = h.newStream();
    expect(d.requestHeaders(req("d"), true).action).toBe("stop");
  });

  it("control header: a signed token delays this request; a forged one does nothing; the header never goes upstream", async () => {
    const clock = { now: 0 };
    const h = await host({ faults: [{ control: { secret: SECRET } }] }, clock);
    const token = (m: string) => `${m}.${createHmac("sha256", SECRET).update(m).digest("hex")}`;
    const ok = h.newStream().requestHeaders(req("a", [["x-tandem-fault", token("delay=300")]]), true);
    expect(ok.action).toBe("stop");
    expect(ok.headers.some(([k]) => k === "x-tandem-fault")).toBe(false);
    expect(h.root.tickPeriodMs).toBe(300);
    const forged = h.newStream().requestHeaders(req("b", [["x-tandem-fault", token("delay=300").replace("delay=300", "delay=301")]]), true);
    expect(forged.action).toBe("continue");
    expect(forged.headers.some(([k]) => k === "x-tandem-fault")).toBe(false);
  });
  it("reads the host clock only for a schedule or a delay's due time: a request no fault applies to costs no clock call", async () => {
    const clock = { now: 5000 };
    const count = (h: WasmHost, pairs: Pair[]) => {
      const calls = new Map<string, number>();
      h.vm.hostCalls = calls;
      const r = h.newStream().requestHeaders(pairs, true);
      h.vm.hostCalls = null;
      return { r, clock: calls.get("env.proxy_get_current_time_nanoseconds") ?? 0 };
    };
    const plain = await host({ faults: [{ match: { header: { "x-chaos": { exact: "slow" } } }, delay: { fixedMs: 100, percent: 100 } }] }, clock);
    expect(count(plain, req("a")).clock).toBe(0);
    const slow = count(plain, req("b", [["x-chaos", "slow"]]));
    expect(slow.r.action).toBe("stop");
    expect(slow.clock).toBe(1);                          // the due time
    expect(plain.root.tickPeriodMs).toBe(100);           // due 100 ms from the clock read
    const scheduled = await host({ faults: [{ start: "1970-01-01T00:00:00Z", end: "1970-01-01T00:00:10Z", abort: { status: 503, percent: 100 } }] }, clock);
    const inWindow = count(scheduled, req("c"));
    expect(inWindow.clock).toBe(1);                      // the schedule needs it
    expect(inWindow.r.localReply?.status).toBe(503);
    clock.now = 20_000;
    expect(count(scheduled, req("d")).r.action).toBe("continue");
  });
});
