// `tandem simulate --via envoy|kong` replays gRPC trace lines as gRPC clients make them:
// HTTP/2 from the client, and over HTTP/2 to the upstream (Envoy: the clusters'
// use_downstream_protocol_config, as `tandem render` writes them; Kong: an http2 listener and
// a gRPC route on a grpc Service, grpc_pass); other lines stay HTTP/1.1. The answers are what
// the core's model of each gateway says, line by line (issue 18 item 6).
import { describe, expect, it } from "vitest";
import { openDriver, simulate } from "../../cli/simulate/run";
import { ENVOY_PROFILE, KONG_PROFILE } from "../../cli/simulate/result";
import type { GatewayDriver } from "../../cli/simulate/via-gateway";
import type { PolicyDoc } from "../../cli/policy-file";
import type { TraceRequest } from "../../cli/simulate/trace";

const policy: PolicyDoc = {
  apiVersion: "tandem.dev/v1alpha1", kind: "TrafficPolicy", metadata: { name: "grpc-h2" },
  spec: { circuitBreaker: { key: "route", window: { type: "count", size: 10 }, minimumCalls: 3, failureRateThreshold: 50, openDurationMs: 1000 } },
};

const GRPC = { "content-type": "application/grpc" };
const line = (n: number, t: number, headers: Record<string, string>, upstream: TraceRequest["upstream"]): TraceRequest =>
  ({ line: n, t, method: "POST", path: "/shop.Cart/Add", headers, upstream });

const trace: TraceRequest[] = [
  line(1, 0, GRPC, { status: 200, grpcStatus: 0, trailers: true, latencyMs: 2 }),
  line(2, 10, {}, { status: 200, latencyMs: 2 }),
  line(3, 20, GRPC, { status: 200, grpcStatus: 14, trailers: false, latencyMs: 2 }),
  line(4, 30, GRPC, { status: 200, grpcStatus: 13, trailers: true, latencyMs: 2 }),
  line(5, 40, GRPC, { error: "reset", latencyMs: 2 }),
  line(6, 50, GRPC, { status: 200, grpcStatus: 0, trailers: true, latencyMs: 2 }),
];

// Envoy's model sees the errors in trailers and opens the breaker; Kong's log phase does not
// see them (the reset still counts).
const PATHS = [
  { via: "envoy" as const, profile: ENVOY_PROFILE, breakerOpens: true },
  { via: "kong" as const, profile: KONG_PROFILE, breakerOpens: false },
];

describe.each(PATHS)("simulate --via $via: gRPC lines over HTTP/2", ({ via, profile, breakerOpens }) => {
  it("reach the upstream over h2 (plain lines over HTTP/1.1)", async () => {
    // a breaker that never opens here: every line reaches the upstream
    const quiet: PolicyDoc = { ...policy, spec: { circuitBreaker: { ...(policy.spec.circuitBreaker as object), minimumCalls: 100 } } };
    const d = (await openDriver(via, quiet)) as GatewayDriver;
    try {
      for (const r of trace) await d.run(r);
      // the upstream's view: one request per line (no retries configured), in order
      expect(d.ups.versions).toEqual(["2.0", "1.1", "2.0", "2.0", "2.0", "2.0"]);
    } finally {
      await d.close();
    }
  }, 120_000);

  it("answer as the core's model of the gateway says, line by line", async () => {
    const core = await simulate("core", policy, trace, () => {}, { profile });
    const gw = await simulate(via, policy, trace, () => {});
    expect(gw).toEqual(core);
    expect(core[5].breaker).toBe(breakerOpens ? "open" : "closed");
    if (breakerOpens) expect(core[5].status).toBe(200); // tandem's rejection of a gRPC call: trailers-only 200
  }, 120_000);
});
