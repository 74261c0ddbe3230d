// Canary-guard parity scenarios: a canary that breaks and recovers while users keep
// coming. Every path must roll the same users back at the same request and bring them
// back at the same request: the guard's window, thresholds, cooldown and half-open
// probes run in the core; where its state lives differs (Kong: the plugin server;
// Envoy: shared data with CAS).
import type { PolicyDoc } from "../../cli/policy-file";
import type { TraceRequest, TraceUpstream } from "../../cli/simulate/trace";
import { rng } from "../support/rng";

export interface GuardScenario {
  name: string;
  policy: PolicyDoc;
  trace: TraceRequest[];
  broken: [number, number];     // [from, to) ms: the canary fails
  gaps: number;                  // ms between requests
}

function policy(name: string, experiment: Record<string, unknown>): PolicyDoc {
  return { apiVersion: "tandem.dev/v1alpha1", kind: "TrafficPolicy", metadata: { name }, spec: { experiment } };
}

// `fail(r)`: what the canary answers while broken.
function trace(n: number, gapMs: number, broken: [number, number], users: number, seed: number,
  fail: (r: () => number) => TraceUpstream): TraceRequest[] {
  const r = rng(seed);
  const out: TraceRequest[] = [];
  for (let i = 0; i < n; i++) {
    const t = i * gapMs;
    const user = `user-${Math.floor(r() * users)}`;
    const req: TraceRequest = {
      line: i + 1, t, method: "GET", path: "/", headers: { "x-user-id": user },
      upstream: { status: 200, latencyMs: 2 },
    };
    if (t >= broken[0] && t < broken[1]) req.upstreams = { "api-v2": fail(r) };
    out.push(req);
  }
  return out;
}

export function guardScenarios(): GuardScenario[] {
  return [
    {
      // Failure rate over a count window; 5xx from the canary itself, and timeouts.
      name: "failure-rate-count-window",
      policy: policy("guard-count", {
        name: "checkout",
        stickiness: { sources: ["header:x-user-id"] },
        variants: [
          { name: "stable", weight: 70, upstream: "api-v1" },
          {
            name: "canary", weight: 30, upstream: "api-v2",
            guard: { window: { type: "count", size: 20 }, minimumCalls: 10, failureRateThreshold: 50, cooldownMs: 4000, halfOpen: { permittedCalls: 3 }, to: "stable" },
          },
        ],
      }),
      trace: trace(500, 50, [5000, 14000], 200, 7, (r) => {
        const x = r();
        if (x < 0.7) return { status: 503, latencyMs: 3 };
        if (x < 0.8) return { error: "timeout", latencyMs: 300 };   // the gateway gives up: a failure
        return { status: 200, latencyMs: 3 };
      }),
      broken: [5000, 14000],
      gaps: 50,
    },
    {
      // Slow calls and transport errors over a time window, consecutive failures on.
      name: "slow-and-errors-time-window",
      policy: policy("guard-time", {
        name: "search",
        stickiness: { sources: ["header:x-user-id"] },
        exposeHeader: true,
        variants: [
          { name: "stable", weight: 50, upstream: "api-v1" },
          {
            name: "canary", weight: 50, upstream: "api-v2",
            guard: {
              window: { type: "time", sizeMs: 2000, buckets: 4 }, minimumCalls: 5, failureRateThreshold: 40,
              slowCallDurationMs: 100, slowCallRateThreshold: 60, consecutiveFailures: 6, cooldownMs: 3000,
              halfOpen: { permittedCalls: 2, maxWaitMs: 1000 }, failure: { statuses: ["5xx", 429], errors: ["reset", "timeout"] },
            },
          },
        ],
      }),
      trace: trace(400, 40, [4000, 10000], 120, 11, (r) => {
        const x = r();
        if (x < 0.3) return { status: 200, latencyMs: 250 };        // slow
        if (x < 0.5) return { error: "reset" };
        if (x < 0.6) return { status: 429, latencyMs: 5 };
        if (x < 0.7) return { error: "connect" };                    // not listed: ignored (Kong: connect or reset counts)
        return { status: 200, latencyMs: 5 };
      }),
      broken: [4000, 10000],
      gaps: 40,
    },
  ];
}
