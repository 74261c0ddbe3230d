// Streams parity (issue 18 item 3): a half-open or guard probe must not hold its permit
// for a stream's life. Envoy decides a probe at the response head (status, time to
// first byte); Kong, which learns an outcome only when the request ended, never admits
// a long-lived request (Accept: text/event-stream, Upgrade) as a probe, and the next
// plain request probes. Either way the breaker and the guard close, and every path
// gives the same answers line by line as the core modelling that gateway.
//
// A trace answer's `streamMs` keeps the response open that long after its first byte
// (cli/simulate/trace.ts); the probes' streams here outlive halfOpen.maxWaitMs, which
// before re-opened the breaker on Envoy and never let it recover.
import { describe, expect, it } from "vitest";
import { simulate, type Via } from "../../cli/simulate/run";
import { ENVOY_PROFILE, KONG_PROFILE, type GatewayProfile, type SimResult } from "../../cli/simulate/result";
import type { PolicyDoc } from "../../cli/policy-file";
import type { TraceRequest, TraceUpstream } from "../../cli/simulate/trace";
import { canaryUsers } from "./canary-users";

const PATHS: Array<{ via: Exclude<Via, "core">; profile: GatewayProfile }> = [
  { via: "kong", profile: KONG_PROFILE },
  { via: "envoy", profile: ENVOY_PROFILE },
];

function doc(name: string, spec: PolicyDoc["spec"]): PolicyDoc {
  return { apiVersion: "tandem.dev/v1alpha1", kind: "TrafficPolicy", metadata: { name }, spec };
}

const SSE = { accept: "text/event-stream" };
const ok = (latencyMs = 5): TraceUpstream => ({ status: 200, latencyMs });
const fail = (): TraceUpstream => ({ status: 503, latencyMs: 5 });
// an event stream: the head after 30 ms, then 8 s of events (> maxWaitMs 2 s)
const stream: TraceUpstream = { status: 200, latencyMs: 30, streamMs: 8000, headers: { "content-type": "text/event-stream" }, body: "data: 1\n\n" };

function lines(spec: Array<{ t: number; headers?: Record<string, string>; upstream?: TraceUpstream; upstreams?: Record<string, TraceUpstream> }>): TraceRequest[] {
  return spec.map((l, i) => ({ line: i + 1, t: l.t, method: "GET", path: "/events", headers: l.headers ?? {}, upstream: l.upstream ?? ok(), ...(l.upstreams ? { upstreams: l.upstreams } : {}) }));
}

interface Scenario { name: string; policy: PolicyDoc; trace: TraceRequest[]; expect: (core: SimResult[], profile: GatewayProfile) => void }

// A probe timeout re-opens for 10 s (backoff): a probe that held its permit through its
// stream (the old behaviour on both gateways) would leave the breaker open when the
// stream ended, and the next request rejected.
const BREAKER = { key: "route", consecutiveFailures: 3, openDurationMs: 1000, openBackoff: { multiplier: 10, maxMs: 60000 }, halfOpen: { permittedCalls: 1, maxWaitMs: 2000 } };

const GUARDED = doc("stream-guard", {
  experiment: {
    name: "events", stickiness: { sources: ["header:x-user-id"] },
    variants: [
      { name: "stable", weight: 50, upstream: "events-v1" },
      // a cooldown longer than the stream's overrun past maxWaitMs (see BREAKER)
      { name: "canary", weight: 50, upstream: "events-v2", guard: { consecutiveFailures: 2, cooldownMs: 10000, halfOpen: { permittedCalls: 1, maxWaitMs: 2000 } } },
    ],
  },
});
const users = canaryUsers(GUARDED, 3);
const canary = (a: TraceUpstream) => ({ "events-v2": a });

const scenarios: Scenario[] = [
  {
    name: "a streamed half-open probe lets the breaker close",
    policy: doc("stream-probe", { circuitBreaker: BREAKER }),
    trace: lines([
      { t: 0 }, { t: 100, upstream: fail() }, { t: 200, upstream: fail() }, { t: 300, upstream: fail() },   // open
      { t: 400 },                                                        // rejected
      { t: 1400, headers: SSE, upstream: stream },                       // half-open: an event stream
      { t: 9500 }, { t: 9600 }, { t: 9700, headers: SSE, upstream: stream }, { t: 17800 },
    ]),
    expect: (core, p) => {
      expect(core[3].breaker).toBe("open");
      expect(core[4].action).toBe("reject");
      expect(core[5]).toMatchObject({ action: "forward", status: 200 });
      // Envoy: the stream was the probe, decided at its head; Kong: it passed without a
      // permit and the next plain request probed
      expect(core[5].breaker).toBe(p.probesAtHeaders ? "closed" : "half_open");
      expect(core.slice(6).every((r) => r.breaker === "closed" && r.action === "forward")).toBe(true);
    },
  },
  {
    name: "a streamed guard probe lets the canary's guard close",
    policy: GUARDED,
    trace: lines([
      { t: 0, headers: { "x-user-id": users[0] }, upstreams: canary(fail()) },
      { t: 100, headers: { "x-user-id": users[1] }, upstreams: canary(fail()) },     // guard open
      { t: 200, headers: { "x-user-id": users[2] } },                                 // rolled back
      { t: 10200, headers: { "x-user-id": users[0], ...SSE }, upstreams: canary(stream) },   // half-open
      { t: 18300, headers: { "x-user-id": users[1] } },
      { t: 18400, headers: { "x-user-id": users[2] } },
    ]),
    expect: (core, p) => {
      expect(core[1].guards).toEqual({ canary: "open" });
      expect(core[2].variant).toBe("stable");
      expect(core[3]).toMatchObject({ variant: "canary", status: 200, guards: { canary: p.probesAtHeaders ? "closed" : "half_open" } });
      expect(core.slice(4).every((r) => r.variant === "canary" && r.guards?.canary === "closed")).toBe(true);
    },
  },
];

describe.each(scenarios)("streams parity: $name", ({ policy, trace, expect: check }) => {
  it.each(PATHS)(`${trace.length} requests answer identically through core and $via`, async ({ via, profile }) => {
    const core = await simulate("core", policy, trace, () => {}, { profile });
    check(core, profile);
    const gw = await simulate(via, policy, trace, () => {});
    for (let i = 0; i < trace.length; i++) {
      expect(gw[i], `${via}, line ${i + 1} t=${trace[i].t} ${JSON.stringify(trace[i].headers)}`).toEqual(core[i]);
    }
  }, 600_000);
});
