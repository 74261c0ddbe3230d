// Fault injection's promise: the same trace injects the same faults into the same
// requests through the core alone, Kong (the fault-injection plugin in its own plugin
// server, delays on a timer) and Envoy (the fault-injection root id, delays resumed
// from the root's tick on virtual time), line by line: variant, status, action, the
// `fault` field and the client's wait. Every fault kind: delay, abort, delay then
// abort, by request and by user, a variant target, a match, a schedule, a disabled
// fault, the signed control header (and forged ones), and aborts next to a breaker
// (gateway scope: the breaker does not count them).
import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { simulate, type Via } from "../../cli/simulate/run";
import { ENVOY_PROFILE, KONG_PROFILE, type GatewayProfile } from "../../cli/simulate/result";
import type { PolicyDoc } from "../../cli/policy-file";
import type { TraceRequest } from "../../cli/simulate/trace";
import { rng } from "../support/rng";

const SECRET = "0123456789abcdef-game-day";
const token = (m: string) => `${m}.${createHmac("sha256", SECRET).update(m).digest("hex")}`;
const T0 = Date.parse("2026-12-06T10:00:00Z");

const PATHS: Array<{ via: Exclude<Via, "core">; profile: GatewayProfile }> = [
  { via: "kong", profile: KONG_PROFILE },
  { via: "envoy", profile: ENVOY_PROFILE },
];

function policy(name: string, spec: Record<string, unknown>): PolicyDoc {
  return { apiVersion: "tandem.dev/v1alpha1", kind: "TrafficPolicy", metadata: { name }, spec } as PolicyDoc;
}

const EXPERIMENT = {
  name: "checkout", stickiness: { sources: ["header:x-user-id"] },
  variants: [{ name: "stable", weight: 60, upstream: "api-v1" }, { name: "canary", weight: 40, upstream: "api-v2" }],
};

function trace(n: number, seed: number, extra: (i: number, r: () => number) => Record<string, string>): TraceRequest[] {
  const r = rng(seed);
  return Array.from({ length: n }, (_, i) => ({
    line: i + 1, t: T0 + i * 100, method: "GET", path: r() < 0.5 ? "/api/cart" : "/web",
    headers: { "x-user-id": `user-${Math.floor(r() * 12)}`, "x-request-id": `req-${seed}-${i}`, ...extra(i, r) },
    upstream: { status: 200, latencyMs: 5 },
  }));
}

const SCENARIOS = [
  {
    name: "every kind: delay, abort, both; by request and by user; variant, match, schedule, disabled",
    policy: policy("faults-all", {
      experiment: EXPERIMENT,
      faults: [
        { name: "off", enabled: false, abort: { status: 500, percent: 100 } },
        { name: "window", start: "2026-12-06T10:00:03Z", end: "2026-12-06T10:00:04Z", abort: { status: 504, percent: 100, body: "scheduled" } },
        { name: "api", match: { path: { prefix: "/api" } }, delay: { fixedMs: 30, percent: 40 }, abort: { status: 502, percent: 25, headers: { "x-fault": "api" } } },
        { name: "canary-cohort", variant: "canary", by: "user", delay: { fixedMs: 20, percent: 50 } },
      ],
    }),
    trace: trace(60, 3, () => ({})),
  },
  {
    name: "control header: signed tokens inject what they name, forged ones nothing, never upstream",
    policy: policy("faults-control", { experiment: EXPERIMENT, faults: [{ name: "qa", control: { secret: SECRET } }] }),
    trace: trace(24, 5, (i): Record<string, string> => {
      const m = i % 4 === 0 ? "delay=40" : i % 4 === 1 ? "abort=503" : "abort=418";
      const t = token(m);
      return i % 4 === 3 ? { "x-tandem-fault": t.replace(m, "abort=500") } : i % 4 === 2 ? {} : { "x-tandem-fault": t };
    }),
  },
  {
    name: "aborts next to a circuit breaker: gateway scope, the breaker ignores them",
    policy: policy("faults-breaker", {
      experiment: EXPERIMENT,
      circuitBreaker: { key: "upstream", window: { type: "count", size: 10 }, minimumCalls: 5, failureRateThreshold: 50 },
      faults: [{ name: "half", abort: { status: 503, percent: 60 } }],
    }),
    trace: trace(40, 9, () => ({})),
  },
  {
    name: "scope upstream: injected aborts trip the breaker (then it rejects: no fault reached)",
    policy: policy("faults-up-breaker", {
      experiment: EXPERIMENT,
      circuitBreaker: { key: "upstream", window: { type: "count", size: 10 }, minimumCalls: 5, failureRateThreshold: 50, openDurationMs: 2000 },
      faults: [{ name: "down", scope: "upstream", start: "2026-12-06T10:00:01Z", end: "2026-12-06T10:00:03Z", abort: { status: 503, percent: 80 } }],
    }),
    trace: trace(60, 11, () => ({})),
  },
  {
    name: "scope upstream: injected aborts and delays on the canary roll its guard back",
    policy: policy("faults-up-guard", {
      experiment: {
        ...EXPERIMENT,
        variants: [EXPERIMENT.variants[0], { ...EXPERIMENT.variants[1], guard: { window: { type: "count", size: 8 }, minimumCalls: 4, failureRateThreshold: 50, slowCallDurationMs: 25, slowCallRateThreshold: 50, cooldownMs: 2000, to: "stable" } }],
      },
      faults: [
        { name: "canary-down", variant: "canary", scope: "upstream", end: "2026-12-06T10:00:02Z", abort: { status: 502, percent: 70 } },
        { name: "canary-slow", variant: "canary", scope: "upstream", start: "2026-12-06T10:00:04Z", by: "user", delay: { fixedMs: 40, percent: 100 } },
      ],
    }),
    trace: trace(70, 13, () => ({})),
  },
];

describe.each(SCENARIOS)("fault parity: $name", ({ policy: p, trace: t }) => {
  it("the core injects faults on this trace", async () => {
    const core = await simulate("core", p, t, () => {}, { profile: KONG_PROFILE });
    const kinds = new Set(core.map((r) => r.fault?.kind ?? "none"));
    expect(kinds.has("none")).toBe(true);
    expect(kinds.size).toBeGreaterThan(1);
    for (const r of core) if (r.fault?.kind === "abort") expect(r.action).toBe("abort");
  });

  it.each(PATHS)(`${t.length} requests answer identically through core and $via`, async ({ via, profile }) => {
    const core = await simulate("core", p, t, () => {}, { profile });
    const gw = await simulate(via, p, t, () => {});
    for (let i = 0; i < t.length; i++) {
      expect(gw[i], `${via}, line ${i + 1} ${JSON.stringify(t[i].headers)} ${t[i].path}`).toEqual(core[i]);
    }
  }, 300_000);
});

// Every fault off: render writes the Kong plugin disabled (the plan's `enabled: false`),
// which Kong never runs, and `simulate --via kong` runs it so (cli/simulate/via-kong.ts);
// Envoy keeps its filter. The lines must stay the core's on both.
describe("fault parity: every fault off (a disabled Kong plugin entity)", () => {
  const p = policy("faults-off", {
    experiment: EXPERIMENT,
    faults: [
      { name: "off", enabled: false, abort: { status: 500, percent: 100 } },
      { name: "slow-off", enabled: false, variant: "canary", delay: { fixedMs: 30, percent: 100 } },
    ],
  });
  const t = trace(30, 17, () => ({}));
  it.each(PATHS)(`${t.length} requests answer identically through core and $via, none faulted`, async ({ via, profile }) => {
    const core = await simulate("core", p, t, () => {}, { profile });
    expect(core.map((r) => r.fault ?? null)).toEqual(t.map(() => null));
    const gw = await simulate(via, p, t, () => {});
    for (let i = 0; i < t.length; i++) expect(gw[i], `${via}, line ${i + 1}`).toEqual(core[i]);
  }, 300_000);
});
