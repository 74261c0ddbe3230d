// Metrics parity: the same trace yields the same series with the same values through
// the core alone, Kong (each plugin server's /metrics) and Envoy (/stats/prometheus with
// tandem render's tag extraction), as `tandem simulate --metrics` prints them
// (cli/simulate/metrics.ts). The deploy examples with their traces: a sticky canary
// (assignments by source, requests, latency buckets), a breaker (transitions, state,
// rejections), a canary guard (state, trips), game day (faults next to both) and the
// cache fallback (lookups by result; Envoy also answers failed calls from the cache,
// Kong only rejections, so each gateway is held to the core's model of it), and the
// reasons of requests tandem answered itself: `fallback` (the breaker's respond, its
// default rejection) and `fault` (a fault's abort).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { simulate, type Via } from "../../cli/simulate/run";
import { ENVOY_PROFILE, KONG_PROFILE } from "../../cli/simulate/result";
import { readPolicyText, type PolicyDoc } from "../../cli/policy-file";
import { parseTrace, readTrace, type TraceRequest } from "../../cli/simulate/trace";
import { ROOT } from "../support/dist";
import {
  ASSIGNMENTS_TOTAL, BREAKER_TRANSITIONS, CACHE_LOOKUPS, FAULTS_TOTAL, GUARD_STATE, GUARD_TRIPS, REQUESTS_TOTAL, REQUEST_DURATION,
} from "../../wasm/core/metrics/catalog";

const EXAMPLES = join(ROOT, "deploy", "examples");
const CASES: Array<[string, string[]]> = [
  ["checkout", [REQUESTS_TOTAL, ASSIGNMENTS_TOTAL, `${REQUEST_DURATION}_bucket`]],
  ["circuit-breaker", [BREAKER_TRANSITIONS]],
  ["canary-guard", [REQUESTS_TOTAL, GUARD_STATE, GUARD_TRIPS]],
  ["game-day", [FAULTS_TOTAL, REQUESTS_TOTAL]],
  ["cache-fallback", [CACHE_LOOKUPS]],
];

async function metricsOf(via: Via, policy: PolicyDoc, trace: string | TraceRequest[], profile = KONG_PROFILE): Promise<string> {
  const lines: string[] = [];
  const t = typeof trace === "string" ? readTrace(trace) : trace;
  await simulate(via, policy, t, (l) => lines.push(l), { metrics: true, profile: via === "core" ? profile : undefined });
  // the result lines are JSON; the metrics follow them
  return lines.filter((l) => !l.startsWith("{")).join("\n");
}

describe.each(CASES)("metrics parity: %s", (name, expected) => {
  it("core, Kong and Envoy print the same series and values", async () => {
    const policy = readPolicyText(join(EXAMPLES, `${name}.yaml`)) as PolicyDoc;
    const file = join(EXAMPLES, `${name}.trace.jsonl`);
    const core = await metricsOf("core", policy, file);
    const coreEnvoy = await metricsOf("core", policy, file, ENVOY_PROFILE);
    const kong = await metricsOf("kong", policy, file);
    const envoy = await metricsOf("envoy", policy, file);
    // every expected series is there (a gauge may end at 0: a guard closed again)
    for (const series of expected) expect(core, series).toMatch(new RegExp(`^${series}\\{.*\\} \\d`, "m"));
    expect(kong).toBe(core);
    expect(envoy).toBe(coreEnvoy);
  }, 240_000);
});

// Requests tandem answered itself count under reason `fallback` (the breaker's respond
// fallback, or its default rejection when there is none) and `fault` (a fault's abort),
// with the status the client got, on every path.
function answeredPolicy(fallback: boolean, onFailure = false): PolicyDoc {
  const spec: PolicyDoc["spec"] = {
    experiment: {
      name: "cart-x",
      stickiness: { sources: ["header:x-user-id"] },
      variants: [{ name: "stable", weight: 50, upstream: "api-v1" }, { name: "canary", weight: 50, upstream: "api-v2" }],
    },
    circuitBreaker: { key: "route", consecutiveFailures: 3, minimumCalls: 100, openDurationMs: 60000 },
    faults: [{ name: "teapot", match: { path: { prefix: "/fault" } }, abort: { status: 418, percent: 100 } }],
  };
  if (fallback) spec.fallback = onFailure ? [{ respond: { status: 529, body: "resting" }, on: ["open", "upstreamFailure"] }] : { respond: { status: 529, body: "resting" } };
  return { apiVersion: "tandem.dev/v1alpha1", kind: "TrafficPolicy", metadata: { name: "cart" }, spec };
}

// 3 fault aborts (the breaker admits them, records nothing), 3 upstream failures (the
// breaker opens), 4 rejections; one user per line.
const ANSWERED_TRACE = parseTrace([
  ...[0, 1, 2].map((i) => ({ t: i * 10, path: "/fault", upstream: { status: 200, latencyMs: 5 } })),
  ...[0, 1, 2].map((i) => ({ t: 100 + i * 10, path: "/boom", upstream: { status: 500, latencyMs: 5 } })),
  ...[0, 1, 2, 3].map((i) => ({ t: 200 + i * 10, path: "/cart", upstream: { status: 200, latencyMs: 5 } })),
].map((x, i) => JSON.stringify({ method: "GET", headers: { "x-user-id": `user-${i}` }, ...x })).join("\n"), "answered-trace");

function sumOf(text: string, reason: string, codeClass: string): number {
  let n = 0;
  for (const l of text.split("\n")) {
    if (l.startsWith(`${REQUESTS_TOTAL}{`) && l.includes(`reason="${reason}"`) && l.includes(`code_class="${codeClass}"`)) n += Number(l.split(" ").pop());
  }
  return n;
}

describe.each([["respond fallback", true, "5xx"], ["default rejection", false, "5xx"]] as const)("metrics parity: reasons fallback and fault (%s)", (_name, fallback, rejectClass) => {
  it("core, Kong and Envoy count tandem's own answers under fallback and fault", async () => {
    const policy = answeredPolicy(fallback);
    const core = await metricsOf("core", policy, ANSWERED_TRACE);
    const coreEnvoy = await metricsOf("core", policy, ANSWERED_TRACE, ENVOY_PROFILE);
    const kong = await metricsOf("kong", policy, ANSWERED_TRACE);
    const envoy = await metricsOf("envoy", policy, ANSWERED_TRACE);
    for (const text of [core, coreEnvoy]) {
      expect(sumOf(text, "fault", "4xx"), text).toBe(3);
      expect(sumOf(text, "fallback", rejectClass), text).toBe(4);
      expect(sumOf(text, "split", "5xx"), text).toBe(3);
      expect(sumOf(text, "split", "4xx") + sumOf(text, "split", "2xx"), text).toBe(0);
    }
    expect(kong).toBe(core);
    expect(envoy).toBe(coreEnvoy);
  }, 240_000);
});

// fallback.on: [upstreamFailure]: Envoy's breaker replaces a failed call's answer with
// the respond fallback (a reply sent straight to the codec, which the experiment filter
// never sees: it reads the response code details); Kong answers rejections only.
it("metrics parity: a failed call the fallback answered counts as fallback on Envoy, as the upstream's on Kong", async () => {
  const policy = answeredPolicy(true, true);
  const core = await metricsOf("core", policy, ANSWERED_TRACE);
  const coreEnvoy = await metricsOf("core", policy, ANSWERED_TRACE, ENVOY_PROFILE);
  const kong = await metricsOf("kong", policy, ANSWERED_TRACE);
  const envoy = await metricsOf("envoy", policy, ANSWERED_TRACE);
  expect([sumOf(core, "fault", "4xx"), sumOf(core, "fallback", "5xx"), sumOf(core, "split", "5xx")], core).toEqual([3, 4, 3]);
  expect([sumOf(coreEnvoy, "fault", "4xx"), sumOf(coreEnvoy, "fallback", "5xx"), sumOf(coreEnvoy, "split", "5xx")], coreEnvoy).toEqual([3, 7, 0]);
  expect(kong).toBe(core);
  expect(envoy).toBe(coreEnvoy);
}, 240_000);
