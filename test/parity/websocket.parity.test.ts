// WebSocket parity (issue 18 items 3 and 6): a handshake answered 101 whose tunnel then
// lives for seconds, through core, Kong and Envoy, line by line and metric by metric.
// The gateways' simulators carry the real upgrade (sim/envoy/upgrade.ts, sim/kong
// respondUpgraded): the 101 through Envoy's filters / Kong's header_filter, the tunnel,
// the outcome when it closes. A trace answer {"status": 101, "streamMs": N} is such a
// handshake (cli/simulate/trace.ts).
//
// What must hold: a WebSocket reaching a half-open breaker or guard never holds a probe
// for its tunnel's life. Envoy decides the probe at the 101 (a success by the default
// status rules) and gives the permit back at once; Kong never admits an Upgrade request
// as a probe (it passes without a permit) and the next plain request probes. Either way
// the breaker and the guard close, and a handshake the upstream refuses (503) counts as
// the failure it is; one the breaker rejects gets the breaker's 503 on the upgrade
// connection.
import { describe, expect, it } from "vitest";
import { simulate, type Via } from "../../cli/simulate/run";
import { ENVOY_PROFILE, KONG_PROFILE, type GatewayProfile, type SimResult } from "../../cli/simulate/result";
import type { PolicyDoc } from "../../cli/policy-file";
import type { TraceRequest, TraceUpstream } from "../../cli/simulate/trace";
import { canaryUsers } from "./canary-users";
import { BREAKER_TRANSITIONS, GUARD_TRIPS, REQUESTS_TOTAL, REQUEST_DURATION } from "../../wasm/core/metrics/catalog";

const PATHS: Array<{ via: Exclude<Via, "core">; profile: GatewayProfile }> = [
  { via: "kong", profile: KONG_PROFILE },
  { via: "envoy", profile: ENVOY_PROFILE },
];

function doc(name: string, spec: PolicyDoc["spec"]): PolicyDoc {
  return { apiVersion: "tandem.dev/v1alpha1", kind: "TrafficPolicy", metadata: { name }, spec };
}

const WS = { connection: "Upgrade", upgrade: "websocket", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13" };
const ok = (latencyMs = 5): TraceUpstream => ({ status: 200, latencyMs });
const fail = (): TraceUpstream => ({ status: 503, latencyMs: 5 });
// a handshake accepted after 20 ms whose tunnel then lives 8 s (> halfOpen.maxWaitMs 2 s)
const tunnel: TraceUpstream = { status: 101, latencyMs: 20, streamMs: 8000 };

function lines(spec: Array<{ t: number; headers?: Record<string, string>; upstream?: TraceUpstream; upstreams?: Record<string, TraceUpstream> }>): TraceRequest[] {
  return spec.map((l, i) => ({ line: i + 1, t: l.t, method: "GET", path: "/chat", headers: l.headers ?? {}, upstream: l.upstream ?? ok(), ...(l.upstreams ? { upstreams: l.upstreams } : {}) }));
}

// A probe timeout re-opens for 10 s: a handshake holding its permit through its tunnel
// would leave the breaker open when the tunnel closed.
const BREAKER = { key: "route", consecutiveFailures: 3, openDurationMs: 1000, openBackoff: { multiplier: 10, maxMs: 60000 }, halfOpen: { permittedCalls: 1, maxWaitMs: 2000 } };

const BROKEN = doc("ws-breaker", {
  experiment: { name: "chat", stickiness: { sources: ["header:x-user-id"] }, variants: [{ name: "stable", weight: 100 }] },
  circuitBreaker: BREAKER,
});
const GUARDED = doc("ws-guard", {
  experiment: {
    name: "chat", stickiness: { sources: ["header:x-user-id"] },
    variants: [
      { name: "stable", weight: 50, upstream: "chat-v1" },
      { name: "canary", weight: 50, upstream: "chat-v2", guard: { consecutiveFailures: 2, cooldownMs: 10000, halfOpen: { permittedCalls: 1, maxWaitMs: 2000 } } },
    ],
  },
});
const users = canaryUsers(GUARDED, 3);
const canary = (a: TraceUpstream) => ({ "chat-v2": a });
const u0 = { "x-user-id": "u-plain" };

interface Scenario { name: string; policy: PolicyDoc; trace: TraceRequest[]; series: string[]; expect: (core: SimResult[], profile: GatewayProfile) => void }

const scenarios: Scenario[] = [
  {
    name: "a WebSocket through a half-open breaker holds no probe; the breaker closes",
    policy: BROKEN,
    trace: lines([
      { t: 0, headers: u0 },
      { t: 100, headers: { ...u0, ...WS }, upstream: fail() },             // the handshake refused: a failure
      { t: 200, headers: u0, upstream: fail() }, { t: 300, headers: u0, upstream: fail() },   // open
      { t: 400, headers: { ...u0, ...WS }, upstream: tunnel },            // rejected: 503 on the upgrade connection
      { t: 1400, headers: { ...u0, ...WS }, upstream: tunnel },           // half-open: a WebSocket
      { t: 9500, headers: u0 }, { t: 9600, headers: u0 },
      { t: 9700, headers: { ...u0, ...WS }, upstream: tunnel }, { t: 17800, headers: u0 },
    ]),
    series: [BREAKER_TRANSITIONS, REQUESTS_TOTAL, `${REQUEST_DURATION}_bucket`],
    expect: (core, p) => {
      expect(core[1]).toMatchObject({ status: 503, breaker: "closed" });
      expect(core[3].breaker).toBe("open");
      expect(core[4]).toMatchObject({ action: "reject", status: 503 });
      expect(core[5]).toMatchObject({ action: "forward", status: 101 });
      // Envoy: the WebSocket was the probe, decided at its 101; Kong: it passed without a
      // permit and the next plain request probed
      expect(core[5].breaker).toBe(p.probesAtHeaders ? "closed" : "half_open");
      expect(core[6]).toMatchObject({ action: "forward", status: 200, breaker: "closed" });
      expect(core.slice(6).every((r) => r.breaker === "closed" && r.action === "forward")).toBe(true);
      expect(core[8].status).toBe(101);
    },
  },
  {
    name: "a WebSocket guard probe lets the canary's guard close",
    policy: GUARDED,
    trace: lines([
      { t: 0, headers: { "x-user-id": users[0], ...WS }, upstreams: canary(fail()) },
      { t: 100, headers: { "x-user-id": users[1] }, upstreams: canary(fail()) },      // guard open
      { t: 200, headers: { "x-user-id": users[2], ...WS }, upstream: tunnel },         // rolled back: stable's tunnel
      { t: 10200, headers: { "x-user-id": users[0], ...WS }, upstreams: canary(tunnel) },   // half-open
      { t: 18300, headers: { "x-user-id": users[1] } },
      { t: 18400, headers: { "x-user-id": users[2], ...WS }, upstreams: canary(tunnel) },
    ]),
    series: [GUARD_TRIPS, REQUESTS_TOTAL],
    expect: (core, p) => {
      expect(core[1].guards).toEqual({ canary: "open" });
      expect(core[2]).toMatchObject({ variant: "stable", status: 101 });
      expect(core[3]).toMatchObject({ variant: "canary", status: 101, guards: { canary: p.probesAtHeaders ? "closed" : "half_open" } });
      expect(core.slice(4).every((r) => r.variant === "canary" && r.guards?.canary === "closed")).toBe(true);
    },
  },
];

async function run(via: Via, policy: PolicyDoc, trace: TraceRequest[], profile?: GatewayProfile): Promise<{ results: SimResult[]; metrics: string }> {
  const out: string[] = [];
  const results = await simulate(via, policy, trace, (l) => out.push(l), { metrics: true, ...(profile ? { profile } : {}) });
  return { results, metrics: out.filter((l) => !l.startsWith("{")).join("\n") };
}

describe.each(scenarios)("websocket parity: $name", ({ policy, trace, series, expect: check }) => {
  it.each(PATHS)(`${trace.length} requests and their metrics identical through core and $via`, async ({ via, profile }) => {
    const core = await run("core", policy, trace, profile);
    check(core.results, profile);
    for (const s of series) expect(core.metrics, s).toMatch(new RegExp(`^${s}\\{.*\\} \\d`, "m"));
    const gw = await run(via, policy, trace);
    for (let i = 0; i < trace.length; i++) {
      expect(gw.results[i], `${via}, line ${i + 1} t=${trace[i].t} ${JSON.stringify(trace[i].headers)}`).toEqual(core.results[i]);
    }
    expect(gw.metrics).toBe(core.metrics);
  }, 600_000);
});
