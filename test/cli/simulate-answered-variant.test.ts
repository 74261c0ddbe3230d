// A request tandem answers itself (a breaker fallback, a rejection, an injected abort)
// was still assigned a variant: `simulate` names it on every path, as the gateway's
// access log shows it (the variant header the experiment set), and names no upstream.
// Before, such lines printed "variant":null, hiding which variant tripped the breaker.
import { describe, expect, it } from "vitest";
import { simulate } from "../../cli/simulate/run";
import { ENVOY_PROFILE, KONG_PROFILE } from "../../cli/simulate/result";
import type { PolicyDoc } from "../../cli/policy-file";
import type { TraceRequest, TraceUpstream } from "../../cli/simulate/trace";

const policy = (fallback: boolean): PolicyDoc => ({
  apiVersion: "tandem.dev/v1alpha1", kind: "TrafficPolicy", metadata: { name: "answered-variant" },
  spec: {
    experiment: {
      name: "checkout",
      stickiness: { sources: ["header:x-user-id"] },
      // every user on the canary, so the expected variant is known without hashing
      variants: [{ name: "stable", weight: 0, upstream: "api-v1" }, { name: "canary", weight: 100, upstream: "api-v2" }],
    },
    circuitBreaker: { key: "upstream", consecutiveFailures: 2, openDurationMs: 60000 },
    ...(fallback ? { fallback: { respond: { status: 503, body: "resting" } } } : {}),
    faults: [{ name: "teapot", match: { path: { prefix: "/teapot" } }, abort: { status: 418, percent: 100 } }],
  },
}) as PolicyDoc;

const line = (i: number, path: string, upstream: TraceUpstream): TraceRequest =>
  ({ line: i + 1, t: i * 100, method: "GET", path, headers: { "x-user-id": `user-${i}` }, upstream });
const TRACE: TraceRequest[] = [
  line(0, "/teapot", { status: 200, latencyMs: 5 }),   // aborted by the fault
  line(1, "/cart", { status: 500, latencyMs: 5 }),
  line(2, "/cart", { status: 500, latencyMs: 5 }),     // the breaker opens
  line(3, "/cart", { status: 200, latencyMs: 5 }),     // answered while open
];

const PATHS = [
  { via: "core", profile: KONG_PROFILE }, { via: "core", profile: ENVOY_PROFILE },
  { via: "kong", profile: undefined }, { via: "envoy", profile: undefined },
] as const;

describe.each(PATHS)("simulate --via $via ($profile.gateway)", ({ via, profile }) => {
  it.each([true, false])("answered requests name their variant (fallback: %s)", async (fallback) => {
    const lines = await simulate(via, policy(fallback), TRACE, () => {}, profile ? { profile } : {});
    expect(lines.map((l) => [l.action, l.status, l.variant, l.upstream])).toEqual([
      ["abort", 418, "canary", null],
      ["forward", 500, "canary", "api-v2"],
      ["forward", 500, "canary", "api-v2"],
      [fallback ? "fallback" : "reject", 503, "canary", null],
    ]);
  }, 120_000);
});
