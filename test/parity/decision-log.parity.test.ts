// Decision log parity: the same trace yields the same decision lines through the core
// alone, Kong (the experiment plugin server's stdout, which Kong copies to its error log
// at info) and Envoy (the experiment filter's proxy_log), as `tandem simulate
// --decisions` prints them (cli/simulate/decisions.ts). The trace has decided requests
// the log samples and some it leaves out, a rule, a fault's abort, upstream failures
// and the breaker's respond fallback once it opened.
//
// Which requests are sampled follows the request id: Kong hands the plugin the client's
// x-request-id, an Istio ingress gateway (--via envoy) replaces it with its own
// (test/parity/edge-id.ts), so at a share below 100% each gateway is held to the core's
// model of it (--profile), as the metrics parity does; at 100% the Kong and Envoy lines
// are the same but for request_id.
import { describe, expect, it } from "vitest";
import { simulate, type Via } from "../../cli/simulate/run";
import { ENVOY_PROFILE, KONG_PROFILE } from "../../cli/simulate/result";
import type { PolicyDoc } from "../../cli/policy-file";
import { parseTrace, type TraceRequest } from "../../cli/simulate/trace";
import { DECISION_LOG_PREFIX } from "../../wasm/core/metrics/catalog";

function policy(percent: number): PolicyDoc {
  return {
    apiVersion: "tandem.dev/v1alpha1", kind: "TrafficPolicy", metadata: { name: "cart" },
    spec: {
      experiment: {
        name: "cart-x",
        stickiness: { sources: ["header:x-user-id"] },
        variants: [{ name: "stable", weight: 50, upstream: "api-v1" }, { name: "canary", weight: 50, upstream: "api-v2" }],
        rules: [{ match: { header: { "x-beta": { exact: "1" } } }, variant: "canary" }],
        decisionLog: { percent },
      },
      circuitBreaker: { key: "route", consecutiveFailures: 3, minimumCalls: 100, openDurationMs: 60000 },
      fallback: { respond: { status: 529, body: "resting" } },
      faults: [{ name: "teapot", match: { path: { prefix: "/fault" } }, abort: { status: 418, percent: 100 } }],
    },
  };
}

// 12 answered requests (2 by the rule, latencies 5-16 ms), 3 fault aborts, 3 upstream
// failures (the breaker opens), 4 answered by the fallback; one user and id per line.
const TRACE: TraceRequest[] = parseTrace([
  ...Array.from({ length: 12 }, (_, i) => ({ t: i * 10, path: "/cart", upstream: { status: 200, latencyMs: 5 + i }, beta: i % 6 === 0 })),
  ...[0, 1, 2].map((i) => ({ t: 200 + i * 10, path: "/fault", upstream: { status: 200, latencyMs: 5 }, beta: false })),
  ...[0, 1, 2].map((i) => ({ t: 300 + i * 10, path: "/boom", upstream: { status: 500, latencyMs: 7 }, beta: false })),
  ...[0, 1, 2, 3].map((i) => ({ t: 400 + i * 10, path: "/cart", upstream: { status: 200, latencyMs: 5 }, beta: false })),
].map(({ beta, ...x }, i) => JSON.stringify({
  method: "GET", headers: { "x-user-id": `user-${i}`, "x-request-id": `req-${i}`, ...(beta ? { "x-beta": "1" } : {}) }, ...x,
})).join("\n"), "decision-trace");

async function decisionsOf(via: Via, p: PolicyDoc, profile = KONG_PROFILE): Promise<string[]> {
  const lines: string[] = [];
  await simulate(via, p, TRACE, (l) => lines.push(l), { decisions: true, profile: via === "core" ? profile : undefined });
  return lines.filter((l) => l.startsWith(DECISION_LOG_PREFIX));
}

const parsed = (lines: string[]) => lines.map((l) => JSON.parse(l.slice(DECISION_LOG_PREFIX.length)) as Record<string, unknown>);

describe("decision log parity", () => {
  it("a share: core, Kong and Envoy write the same lines for the same sampled requests", async () => {
    const p = policy(50);
    const core = await decisionsOf("core", p);
    const coreEnvoy = await decisionsOf("core", p, ENVOY_PROFILE);
    const kong = await decisionsOf("kong", p);
    const envoy = await decisionsOf("envoy", p);
    for (const lines of [core, coreEnvoy]) {
      // a sampled-out share: every request of the trace is decided, not every one logged
      expect(lines.length, lines.join("\n")).toBeGreaterThan(3);
      expect(lines.length, lines.join("\n")).toBeLessThan(TRACE.length - 3);
    }
    expect(kong).toEqual(core);
    expect(envoy).toEqual(coreEnvoy);
  }, 240_000);

  it("every request: the same lines on both gateways but the request id; a rule, a fault, the fallback", async () => {
    const p = policy(100);
    const core = await decisionsOf("core", p);
    const coreEnvoy = await decisionsOf("core", p, ENVOY_PROFILE);
    const kong = await decisionsOf("kong", p);
    const envoy = await decisionsOf("envoy", p);
    expect(core).toHaveLength(TRACE.length);
    expect(kong).toEqual(core);
    expect(envoy).toEqual(coreEnvoy);
    const k = parsed(kong);
    const e = parsed(envoy);
    expect(k.map((o) => o.request_id)).toEqual(TRACE.map((_, i) => `req-${i}`));
    expect(e.map((o) => o.request_id)).toEqual(TRACE.map((r) => expect.stringMatching(new RegExp(`${r.line.toString(16)}$`))));
    const noId = (os: Record<string, unknown>[]) => os.map(({ request_id: _, ...rest }) => rest);
    expect(noId(e)).toEqual(noId(k));
    // what the trace holds, line by line
    expect(k.map((o) => o.answered_by)).toEqual([...Array(12).fill("upstream"), ...Array(3).fill("fault"), ...Array(3).fill("upstream"), ...Array(4).fill("fallback")]);
    expect(k.map((o) => o.status)).toEqual([...Array(12).fill(200), ...Array(3).fill(418), ...Array(3).fill(500), ...Array(4).fill(529)]);
    expect(k.filter((o) => o.reason === "rule").map((o) => [o.variant, o.rule])).toEqual([["canary", 0], ["canary", 0]]);
    expect(k.slice(0, 12).map((o) => o.latency_ms)).toEqual(Array.from({ length: 12 }, (_, i) => 5 + i));
    expect(k.slice(12, 15).map((o) => o.latency_ms)).toEqual([null, null, null]);
    expect(k.slice(18).map((o) => [o.latency_ms, o.code_class])).toEqual(Array(4).fill([null, "5xx"]));
    expect(new Set(k.map((o) => o.source))).toEqual(new Set(["header"]));
    expect(new Set(k.map((o) => o.policy))).toEqual(new Set(["cart"]));
  }, 240_000);
});
