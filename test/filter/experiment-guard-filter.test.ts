// Canary guards in tandem.wasm's `experiment` root id (Envoy harness): one state per
// guarded variant in shared data, shared by every worker VM through compare-and-swap;
// outcomes from on_log; a request answered before any upstream counts for nothing.
import { describe, expect, it } from "vitest";
import { guardedCheckout } from "../support/policies";
import { SharedData, StatsStore, WasmHost, type Pair } from "../../sim/envoy";
import { FILTER_WASM, loadCore } from "../support/dist";
import { answerNeeds } from "../../core-js/answer-needs";

const GUARDED = guardedCheckout({ window: { type: "count", size: 6 }, minimumCalls: 6, failureRateThreshold: 50, cooldownMs: 2000, halfOpen: { permittedCalls: 2 } });
const NAME = /^tandem:guard:[0-9a-f]{8}:0000$/;
const UPSTREAM = { "upstream.address": "10.0.0.2:8080" };   // the router picked a host

// Users the split sends to the canary, from the core with the guard-less twin policy.
function canaryUsers(n: number): string[] {
  const core = loadCore();
  const plain = core.configureExperiment(JSON.stringify({ ...GUARDED, variants: GUARDED.variants.map(({ name, weight }) => ({ name, weight })) }));
  const out: string[] = [];
  for (let i = 0; out.length < n; i++) {
    if (core.decideExperiment(plain, answerNeeds(plain.needs, { headers: { "x-user-id": `u${i}` } }), 0).variant === 1) out.push(`u${i}`);
  }
  return out;
}

async function vms(n: number, sd: SharedData, clock: () => number, stats = new StatsStore()): Promise<WasmHost[]> {
  const out: WasmHost[] = [];
  for (let i = 0; i < n; i++) out.push(await WasmHost.load({ wasm: FILTER_WASM, rootId: "experiment", configuration: JSON.stringify(GUARDED), sharedData: sd, clock, stats, index: i }));
  return out;
}

// One request for `user` on VM h: the variant the filter set; when `status` is given the
// response passes with it (through an upstream unless `props` say otherwise).
function call(h: WasmHost, user: string, status: number | null, props: Record<string, string> | undefined = UPSTREAM): string | undefined {
  const s = h.newStream(props);
  const req: Pair[] = [[":method", "GET"], [":path", "/"], [":authority", "shop"], ["x-request-id", `r-${user}`], ["x-user-id", user]];
  const r = s.requestHeaders(req, true);
  const v = r.headers.find(([k]) => k === "x-tandem-variant")?.[1];
  if (status !== null) s.responseHeaders([[":status", String(status)]], true);
  s.done();
  return v;
}

const guardState = (sd: SharedData) => {
  const names = sd.keys("").filter((k) => k.startsWith("tandem:guard:"));
  return { names, state: names.length === 1 ? ["closed", "open", "half_open"][sd.get("", names[0])!.value[16 + 1]] : undefined };
};

describe("canary guard shared by worker VMs", () => {
  it("opens from failures seen on several VMs, then every VM rolls the canary back", async () => {
    const sd = new SharedData();
    const c = { now: 10_000 };
    const hosts = await vms(3, sd, () => c.now, new StatsStore());
    const users = canaryUsers(6);
    for (let i = 0; i < 6; i++) expect(call(hosts[i % 3], users[i], i % 2 === 0 ? 503 : 200)).toBe("canary");
    const g = guardState(sd);
    expect(g.names).toHaveLength(1);
    expect(g.names[0]).toMatch(NAME);
    expect(g.state).toBe("open");                  // 3 of 6 failed on 3 VMs: one window
    for (const h of hosts) for (const u of users) expect(call(h, u, null)).toBe("stable");
    expect(hosts[0].metrics["wasmcustom.tandem_guard_rerouted"]).toBe(18);     // process-wide counter
    expect(hosts[0].metrics["wasmcustom.tandem_guard_transitions"]).toBe(1);
    // after the cooldown exactly permittedCalls probes reach the canary, across VMs,
    // while they are in flight; their successes close the guard
    c.now += 2000;
    const open = users.map((u, i) => {
      const s = hosts[i % 3].newStream(UPSTREAM);
      const r = s.requestHeaders([[":method", "GET"], [":path", "/"], [":authority", "shop"], ["x-user-id", u]], true);
      return { s, v: r.headers.find(([k]) => k === "x-tandem-variant")?.[1] };
    });
    expect(open.filter((o) => o.v === "canary")).toHaveLength(2);
    expect(guardState(sd).state).toBe("half_open");
    for (const o of open) { o.s.responseHeaders([[":status", "200"]], true); o.s.done(); }
    expect(guardState(sd).state).toBe("closed");
    for (const u of users) expect(call(hosts[0], u, 200)).toBe("canary");
    expect(hosts[0].metrics["wasmcustom.tandem_guard_transitions"]).toBe(3);   // open, half_open, closed
  });

  // Issue 18 item 3: a guard probe is decided at its response headers, so a streamed
  // canary answer (server-sent events, a WebSocket's 101) closes the guard at once.
  it("decides a guard probe at its response headers: streamed probes close the guard while they flow", async () => {
    const sd = new SharedData();
    const c = { now: 10_000 };
    const [h] = await vms(1, sd, () => c.now);
    const users = canaryUsers(6);
    for (let i = 0; i < 6; i++) call(h, users[i], i % 2 === 0 ? 503 : 200);
    expect(guardState(sd).state).toBe("open");
    c.now += 2000;
    const probes = users.slice(0, 2).map((u) => {
      const s = h.newStream(UPSTREAM);
      const r = s.requestHeaders([[":method", "GET"], [":path", "/events"], [":authority", "shop"], ["accept", "text/event-stream"], ["x-user-id", u]], true);
      expect(r.headers.find(([k]) => k === "x-tandem-variant")?.[1]).toBe("canary");
      return s;
    });
    for (const s of probes) s.responseHeaders([[":status", "200"], ["content-type", "text/event-stream"]], false);
    expect(guardState(sd).state).toBe("closed");
    c.now += 120_000;                                  // the streams outlive any probe deadline
    for (const u of users) expect(call(h, u, 200)).toBe("canary");
    for (const s of probes) s.done();
    expect(guardState(sd).state).toBe("closed");
  });

  it("counts nothing for a request answered before any upstream (a later filter's local reply)", async () => {
    const sd = new SharedData();
    const [h] = await vms(1, sd, () => 5000);
    const users = canaryUsers(8);
    for (const u of users) call(h, u, 503, {});    // no upstream.address: never reached the canary
    expect(guardState(sd).state).toBe("closed");
    for (const u of users) call(h, u, 503);        // through an upstream: counts
    expect(guardState(sd).state).toBe("open");
  });

  it("a VM configured with the same policy later shares the guard's state", async () => {
    const sd = new SharedData();
    const [a] = await vms(1, sd, () => 1);
    const users = canaryUsers(6);
    for (const u of users) call(a, u, 500);
    const [b] = await vms(1, sd, () => 2);
    expect(call(b, users[0], null)).toBe("stable");
  });
});
