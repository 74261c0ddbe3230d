// Gateway retries parity (issue 18 item 5): a client request is one outcome for the breaker,
// the canary guards and the latency histogram, whatever the gateway retried: the last
// try's status and error, latency from the first try's start to the last try's first byte
// (wasm/core/breaker/tries.ts). Trace answers list what each try gets ("tries"); Kong's
// harness retries as nginx does (the Service's retries = spec.retries.attempts), Envoy's
// as the router does from the retry_policy `tandem render` writes; `--via core` replays
// the same decisions (cli/simulate/retries.ts) for the gateway it models. Every scenario
// runs line by line through the core and each gateway, and the metrics compare as text.
import { describe, expect, it } from "vitest";
import { simulate, type Via } from "../../cli/simulate/run";
import { ENVOY_PROFILE, KONG_PROFILE, type GatewayProfile, type SimResult } from "../../cli/simulate/result";
import type { PolicyDoc } from "../../cli/policy-file";
import type { TraceRequest, TraceUpstream } from "../../cli/simulate/trace";
import { REQUEST_DURATION } from "../../wasm/core/metrics/catalog";
import { rng } from "../support/rng";

const PATHS: Array<{ via: Exclude<Via, "core">; profile: GatewayProfile }> = [
  { via: "kong", profile: KONG_PROFILE },
  { via: "envoy", profile: ENVOY_PROFILE },
];

function doc(name: string, spec: PolicyDoc["spec"]): PolicyDoc {
  return { apiVersion: "tandem.dev/v1alpha1", kind: "TrafficPolicy", metadata: { name }, spec };
}

const ok: TraceUpstream = { status: 200, latencyMs: 3 };
const refused: TraceUpstream = { error: "connect", latencyMs: 0 };
const tries = (...t: TraceUpstream[]): TraceUpstream => ({ tries: t });

function trace(n: number, gapMs: number, answer: (t: number, r: () => number) => TraceUpstream, seed: number, perUpstream?: string): TraceRequest[] {
  const r = rng(seed);
  const out: TraceRequest[] = [];
  for (let i = 0; i < n; i++) {
    const t = i * gapMs;
    const req: TraceRequest = { line: i + 1, t, method: "GET", path: "/api", headers: { "x-user-id": `user-${Math.floor(r() * 200)}` }, upstream: ok };
    const a = answer(t, r);
    if (perUpstream) req.upstreams = { [perUpstream]: a };
    else req.upstream = a;
    out.push(req);
  }
  return out;
}

const BREAKER = { key: "route", window: { type: "count", size: 10 }, minimumCalls: 4, failureRateThreshold: 50, openDurationMs: 1000, halfOpen: { permittedCalls: 2, maxWaitMs: 5000 } };
// Retries both gateways make alike: refused connections (Kong retries them whatever retryOn says).
const RETRY_REFUSED = { attempts: 2, retryOn: ["connect-failure"] };

interface Scenario { name: string; policy: PolicyDoc; trace: TraceRequest[]; expect: (core: SimResult[], profile: GatewayProfile) => void }

const scenarios: Scenario[] = [
  {
    name: "refused tries a retry gets past count for nothing; a request all of whose tries are refused is one failure",
    policy: doc("retry-breaker", { retries: RETRY_REFUSED, circuitBreaker: BREAKER }),
    trace: trace(100, 50, (t, r) => {
      if (t >= 1500 && t < 3000) return tries(refused);                                   // three refused tries: one failure
      const x = r();
      return x < 0.3 ? tries(refused, ok) : x < 0.5 ? tries(refused, refused, ok) : ok;    // retried away: a success
    }, 1),
    expect: (core) => {
      // half the early requests had a refused first try, yet the breaker stayed closed
      expect(core.slice(0, 30).every((r) => r.breaker === "closed" && r.status === 200)).toBe(true);
      expect(new Set(core.map((r) => r.breaker))).toEqual(new Set(["closed", "open", "half_open"]));
    },
  },
  {
    // Without spec.retries neither harness retries (`tandem simulate` makes one try, as a
    // policy without the section asks of Kong in the harness): a refused first try counts.
    name: "without spec.retries each refused first try counts: the same trace opens the breaker early",
    policy: doc("no-retry-breaker", { circuitBreaker: BREAKER }),
    trace: trace(40, 50, (_t, r) => (r() < 0.7 ? tries(refused, ok) : ok), 2),
    expect: (core) => {
      expect(core.slice(0, 20).some((r) => r.breaker === "open")).toBe(true);
    },
  },
  {
    name: "a canary whose tries are all refused trips its guard; one a retry rescues does not",
    policy: doc("retry-guard", {
      retries: RETRY_REFUSED,
      experiment: {
        name: "api",
        stickiness: { sources: ["header:x-user-id"] },
        variants: [
          { name: "stable", weight: 60, upstream: "api-v1" },
          { name: "canary", weight: 40, upstream: "api-v2", guard: { window: { type: "count", size: 10 }, minimumCalls: 5, failureRateThreshold: 50, cooldownMs: 2000, halfOpen: { permittedCalls: 2 }, to: "stable" } },
        ],
      },
    }),
    trace: trace(160, 40, (t) => (t < 2000 ? tries(refused, ok) : t < 4000 ? tries(refused) : ok), 3, "api-v2"),
    expect: (core) => {
      expect(core.slice(0, 45).every((r) => r.guards?.canary === "closed")).toBe(true);
      expect(new Set(core.map((r) => r.guards?.canary))).toEqual(new Set(["closed", "open", "half_open"]));
    },
  },
];

describe.each(scenarios)("retries parity: $name", ({ policy, trace: t, expect: check }) => {
  it("the core's own expectations hold (Kong's and Envoy's models)", async () => {
    for (const profile of [KONG_PROFILE, ENVOY_PROFILE]) check(await simulate("core", policy, t, () => {}, { profile }), profile);
  }, 120_000);

  it.each(PATHS)("answers identically through core and $via", async ({ via, profile }) => {
    const core = await simulate("core", policy, t, () => {}, { profile });
    const gw = await simulate(via, policy, t, () => {});
    for (let i = 0; i < t.length; i++) {
      const where = `line ${i + 1} t=${t[i].t} ${JSON.stringify(t[i].upstreams ?? t[i].upstream)}`;
      expect(gw[i], `${via}, ${where}`).toEqual(core[i]);
    }
  }, 600_000);
});

// Where the gateways retry differently, each agrees with its own model: Envoy retries
// what retry_on lists (5xx here), Kong never retries an upstream's own 5xx.
describe("retries parity: retryOn 5xx hides a 503 burst from Envoy's breaker, not from Kong's", () => {
  const policy = doc("retry-5xx", { retries: { attempts: 2, retryOn: ["5xx"] }, circuitBreaker: BREAKER });
  const t = trace(40, 50, (time) => (time >= 500 && time < 1500 ? tries({ status: 503, latencyMs: 2 }, ok) : ok), 4);
  it("the models differ as the gateways do", async () => {
    const envoy = await simulate("core", policy, t, () => {}, { profile: ENVOY_PROFILE });
    const kong = await simulate("core", policy, t, () => {}, { profile: KONG_PROFILE });
    expect(envoy.every((r) => r.breaker === "closed" && r.status === 200)).toBe(true);
    expect(kong.some((r) => r.breaker === "open")).toBe(true);
  }, 120_000);
  it.each(PATHS)("each gateway agrees with its model: $via", async ({ via, profile }) => {
    const core = await simulate("core", policy, t, () => {}, { profile });
    const gw = await simulate(via, policy, t, () => {});
    for (let i = 0; i < t.length; i++) expect(gw[i], `${via}, line ${i + 1}`).toEqual(core[i]);
  }, 600_000);
});

// The latency histogram: a try that timed out (100 ms, the per-try timeout) and a retry
// answering after 20 ms is one sample of 120 ms (Envoy adds its backoff: 12 ms in a replay),
// in the same bucket on every path; Kong's own figure would have been the last try's 20 ms.
describe("retries parity: one latency sample per request, spanning every try", () => {
  const policy = doc("retry-latency", {
    retries: { attempts: 1, perTryTimeoutMs: 100, retryOn: ["connect-failure", "reset"] },
    experiment: { name: "api", stickiness: { sources: ["header:x-user-id"] }, variants: [{ name: "stable", weight: 100 }] },
  });
  const slow = tries({ error: "timeout", latencyMs: 100 }, { status: 200, latencyMs: 20 });
  const t = trace(6, 1000, (_t, r) => (r() < 0.5 ? slow : { status: 200, latencyMs: 20 }), 5);
  async function metricsOf(via: Via, profile?: GatewayProfile): Promise<string> {
    const lines: string[] = [];
    await simulate(via, policy, t, (l) => lines.push(l), { metrics: true, profile });
    return lines.filter((l) => !l.startsWith("{")).join("\n");
  }
  it.each(PATHS)("core and $via print the same histogram", async ({ via, profile }) => {
    const core = await metricsOf("core", profile);
    const retried = t.filter((x) => x.upstream.tries !== undefined).length;
    expect(retried).toBeGreaterThan(0);
    expect(retried).toBeLessThan(t.length);
    // the retried requests' samples sit in (0.1, 0.25], the others in (0.01, 0.025]
    const bucket = (le: string) => Number(new RegExp(`^${REQUEST_DURATION}_bucket\\{[^}]*le="${le}"[^}]*\\} (\\d+)`, "m").exec(core)?.[1]);
    expect(bucket("0.025")).toBe(t.length - retried);
    expect(bucket("0.1")).toBe(t.length - retried);
    expect(bucket("0.25")).toBe(t.length);
    expect(await metricsOf(via)).toBe(core);
  }, 600_000);
});
