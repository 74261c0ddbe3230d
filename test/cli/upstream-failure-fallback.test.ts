// `fallback.on: [upstreamFailure]` through the three paths of `tandem simulate`: on Envoy
// the circuit-breaker filter's reply replaces the upstream's failure and Envoy's own
// 503/504 (refused, reset, timed out) for idempotent methods; on Kong the gateway's
// 502/504 goes through. Each gateway's lines equal `--via core` modelling it.
import { describe, expect, it } from "vitest";
import { simulate } from "../../cli/simulate/run";
import { ENVOY_PROFILE, KONG_PROFILE } from "../../cli/simulate/result";
import type { PolicyDoc } from "../../cli/policy-file";
import type { TraceRequest, TraceUpstream } from "../../cli/simulate/trace";

const POLICY: PolicyDoc = {
  apiVersion: "tandem.dev/v1alpha1", kind: "TrafficPolicy", metadata: { name: "fallback-on-failure" },
  spec: {
    experiment: {
      name: "checkout",
      stickiness: { sources: ["cookie:uid"], cookie: { name: "uid" } },
      variants: [{ name: "stable", weight: 50, upstream: "api-v1" }, { name: "canary", weight: 50, upstream: "api-v2" }],
    },
    circuitBreaker: { key: "upstream", consecutiveFailures: 1000, failure: { statuses: ["5xx"], errors: ["connect", "reset", "timeout"] } },
    fallback: { respond: { status: 200, body: "cached" }, on: ["open", "upstreamFailure"] },
  },
} as PolicyDoc;

// New users (no cookie: the experiment issues one) meeting each kind of failure, by method.
const FAILURES: TraceUpstream[] = [{ error: "connect" }, { error: "reset" }, { error: "timeout", latencyMs: 250 }, { status: 500, latencyMs: 5 }, { status: 200, latencyMs: 5 }];
const TRACE: TraceRequest[] = [];
for (const method of ["GET", "POST"]) {
  for (const upstream of FAILURES) {
    TRACE.push({ line: TRACE.length + 1, t: TRACE.length * 1000, method, path: "/cart", headers: { "x-request-id": `rid-${TRACE.length}` }, upstream });
  }
}

describe("simulate: fallback.on upstreamFailure on every path", () => {
  it("envoy answers idempotent calls' failures with the fallback (no Set-Cookie: the experiment filter never sees it), as --via core --profile envoy", async () => {
    const core = await simulate("core", POLICY, TRACE, () => {}, { profile: ENVOY_PROFILE });
    const envoy = await simulate("envoy", POLICY, TRACE, () => {});
    expect(envoy).toEqual(core);
    const summary = envoy.map((r) => [r.action, r.status, r.setCookie === null ? "no cookie" : "cookie"]);
    expect(summary).toEqual([
      ["fallback", 200, "no cookie"], ["fallback", 200, "no cookie"], ["fallback", 200, "no cookie"], ["fallback", 200, "no cookie"], ["forward", 200, "cookie"],
      ["forward", 503, "cookie"], ["forward", 503, "cookie"], ["forward", 504, "cookie"], ["forward", 500, "cookie"], ["forward", 200, "cookie"],
    ]);
  }, 120_000);

  it("kong lets the gateway's own answer through, as --via core", async () => {
    const core = await simulate("core", POLICY, TRACE, () => {}, { profile: KONG_PROFILE });
    const kong = await simulate("kong", POLICY, TRACE, () => {});
    expect(kong).toEqual(core);
    expect(kong.map((r) => [r.action, r.status])).toEqual([
      ["forward", 502], ["forward", 502], ["forward", 504], ["forward", 500], ["forward", 200],
      ["forward", 502], ["forward", 502], ["forward", 504], ["forward", 500], ["forward", 200],
    ]);
  }, 120_000);
});
