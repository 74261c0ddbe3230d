// gRPC parity: gRPC calls fail with HTTP 200 and a grpc-status, so the breaker and the
// canary guards count failure.grpcStatuses (default 4, 13, 14) on both gateways, and
// Envoy's own trailers-only UNAVAILABLE for a dead upstream counts as the connect
// failure it is. tandem's rejections and fallbacks to a gRPC request are trailers-only
// 200s on both. Every trace runs through the core (modelling each gateway) and through
// that gateway, line by line. Through both gateways the calls go as gRPC makes them, over
// HTTP/2 from the client and to the upstream (trailers and trailers-only replies as HEADERS
// frames): Envoy's own gRPC replies are trailers-only HEADERS (sim/envoy/upstream-h2.ts);
// Kong takes them on an http2 listener, through a gRPC route on a grpc Service (grpc_pass,
// sim/kong/grpc-upstream.ts), its own errors 502/504 with grpc-status 13/4.
//
// Where the gateways see differently, the core's profile says so and the parity still
// holds: a grpc-status in real trailers (after a message) reaches Envoy's on_log but not
// Kong's log phase (plugins/shared/outcome.ts).
import { describe, expect, it } from "vitest";
import { simulate, type Via } from "../../cli/simulate/run";
import { ENVOY_PROFILE, KONG_PROFILE, type GatewayProfile, type SimResult } from "../../cli/simulate/result";
import type { PolicyDoc } from "../../cli/policy-file";
import type { TraceRequest, TraceUpstream } from "../../cli/simulate/trace";
import { rng } from "../support/rng";

const PATHS: Array<{ via: Exclude<Via, "core">; profile: GatewayProfile }> = [
  { via: "kong", profile: KONG_PROFILE },
  { via: "envoy", profile: ENVOY_PROFILE },
];

const GRPC = { "content-type": "application/grpc" };

function doc(name: string, spec: PolicyDoc["spec"]): PolicyDoc {
  return { apiVersion: "tandem.dev/v1alpha1", kind: "TrafficPolicy", metadata: { name }, spec };
}

function trace(n: number, gapMs: number, answer: (t: number, r: () => number) => TraceUpstream, seed: number, perUpstream?: string): TraceRequest[] {
  const r = rng(seed);
  const out: TraceRequest[] = [];
  for (let i = 0; i < n; i++) {
    const t = i * gapMs;
    const user = `user-${Math.floor(r() * 200)}`;
    // as parseTrace gives them: a gRPC answer is HTTP 200, trailers-only unless told
    const a = answer(t, r);
    const up: TraceUpstream = a.grpcStatus === undefined ? a : { status: 200, trailers: false, ...a };
    const req: TraceRequest = { line: i + 1, t, method: "POST", path: "/shop.Cart/Add", headers: { ...GRPC, "x-user-id": user }, upstream: { grpcStatus: 0, status: 200, latencyMs: 2, trailers: false } };
    if (perUpstream) req.upstreams = { [perUpstream]: up };
    else req.upstream = up;
    out.push(req);
  }
  return out;
}

const ok: TraceUpstream = { status: 200, grpcStatus: 0, trailers: true, latencyMs: 3 };

interface Scenario { name: string; policy: PolicyDoc; trace: TraceRequest[]; expect: (core: SimResult[]) => void }

const BREAKER = { key: "route", window: { type: "count", size: 10 }, minimumCalls: 4, failureRateThreshold: 50, openDurationMs: 1000, halfOpen: { permittedCalls: 2, maxWaitMs: 5000 } };

const scenarios: Scenario[] = [
  {
    // The reproduction: a refused gRPC upstream. Envoy answers every call with its
    // own 200 + grpc-status 14; the flags make it the connect failure it is.
    name: "a dead gRPC upstream opens the breaker, which closes once it is back",
    policy: doc("grpc-dead", { circuitBreaker: BREAKER }),
    trace: trace(120, 50, (t) => (t >= 1000 && t < 3000 ? { error: "connect" } : ok), 1),
    expect: (core) => {
      expect(new Set(core.map((r) => r.breaker))).toEqual(new Set(["closed", "open", "half_open"]));
      // tandem's rejection of a gRPC call is a trailers-only 200 (grpc-status 14)
      expect(core.filter((r) => r.action === "reject").every((r) => r.status === 200)).toBe(true);
    },
  },
  {
    // Application errors: trailers-only INTERNAL / UNAVAILABLE (what gRPC servers send for
    // an error before any message), some NOT_FOUND (not a failure), answered by a fallback.
    name: "gRPC application errors open the breaker; NOT_FOUND does not count; the fallback answers gRPC",
    policy: doc("grpc-app", {
      circuitBreaker: BREAKER,
      fallback: { respond: { status: 503, body: "cart: try again later", headers: { "x-fallback": "tandem" }, grpcStatus: 14 } },
    }),
    trace: trace(160, 40, (t, r) => {
      if (t >= 1600 && t < 3600) { const x = r(); return x < 0.4 ? { grpcStatus: 13, latencyMs: 2 } : x < 0.8 ? { grpcStatus: 14, latencyMs: 2 } : ok; }
      return r() < 0.3 ? { grpcStatus: 5, latencyMs: 2 } : ok;
    }, 2),
    expect: (core) => {
      const before = core.slice(0, 40);
      expect(before.every((r) => r.breaker === "closed")).toBe(true);    // NOT_FOUND is a success
      expect(new Set(core.map((r) => r.breaker))).toEqual(new Set(["closed", "open", "half_open"]));
      expect(core.filter((r) => r.action === "fallback").length).toBeGreaterThan(5);
      expect(core.filter((r) => r.action === "fallback").every((r) => r.status === 200)).toBe(true);
    },
  },
  {
    // Errors in real trailers, after a message: Envoy counts them, Kong's log phase
    // cannot see them (the profiles differ, each gateway agrees with its own).
    name: "errors in trailers after a message: seen by Envoy, not by Kong",
    policy: doc("grpc-trailers", { circuitBreaker: BREAKER }),
    trace: trace(80, 50, (t) => (t >= 1000 && t < 2500 ? { grpcStatus: 13, trailers: true, latencyMs: 2 } : ok), 3),
    expect: () => {},
  },
  {
    // A canary guard: the canary's upstream answers UNAVAILABLE, its users go back to stable.
    name: "a failing gRPC canary trips its guard",
    policy: doc("grpc-guard", {
      experiment: {
        name: "cart",
        stickiness: { sources: ["header:x-user-id"] },
        variants: [
          { name: "stable", weight: 60, upstream: "cart-v1" },
          { name: "canary", weight: 40, upstream: "cart-v2", guard: { window: { type: "count", size: 10 }, minimumCalls: 5, failureRateThreshold: 50, cooldownMs: 2000, halfOpen: { permittedCalls: 2 }, to: "stable" } },
        ],
      },
    }),
    trace: trace(200, 40, (t, r) => (t >= 2000 && t < 5000 && r() < 0.8 ? { grpcStatus: 14, latencyMs: 2 } : ok), 4, "cart-v2"),
    expect: (core) => {
      expect(new Set(core.map((r) => r.guards?.canary))).toEqual(new Set(["closed", "open", "half_open"]));
    },
  },
];

describe.each(scenarios)("gRPC parity: $name", ({ policy, trace: t, expect: check }) => {
  it("the core's own expectations hold (Kong's and Envoy's models)", async () => {
    for (const profile of [KONG_PROFILE, ENVOY_PROFILE]) {
      if (policy.metadata.name === "grpc-trailers") continue;
      check(await simulate("core", policy, t, () => {}, { profile }));
    }
  }, 120_000);

  it.each(PATHS)(`answers identically through core and $via`, async ({ via, profile }) => {
    const core = await simulate("core", policy, t, () => {}, { profile });
    const gw = await simulate(via, policy, t, () => {});
    for (let i = 0; i < t.length; i++) {
      const where = `line ${i + 1} t=${t[i].t} ${JSON.stringify(t[i].upstreams ?? t[i].upstream)}`;
      expect(gw[i], `${via}, ${where}`).toEqual(core[i]);
    }
  }, 600_000);
});

describe("gRPC errors in trailers: what each gateway can see", () => {
  it("Envoy's model opens the breaker on them, Kong's cannot", async () => {
    const s = scenarios[2];
    const envoy = await simulate("core", s.policy, s.trace, () => {}, { profile: ENVOY_PROFILE });
    const kong = await simulate("core", s.policy, s.trace, () => {}, { profile: KONG_PROFILE });
    expect(envoy.some((r) => r.breaker === "open")).toBe(true);
    expect(kong.every((r) => r.breaker === "closed")).toBe(true);
  }, 120_000);
});
