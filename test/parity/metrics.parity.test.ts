// Metrics parity: the same trace yields the same series with the same values through
// the core alone, Kong (each plugin server's /metrics) and Envoy (/stats/prometheus with
// tandem render's tag extraction), as `tandem simulate --metrics` prints them
// (cli/simulate/metrics.ts). The deploy examples with their traces: a sticky canary
// (assignments by source, requests, latency buckets), a breaker (transitions, state,
// rejections), a canary guard (state, trips), game day (faults next to both) and the
// cache fallback (lookups by result; Envoy also answers failed calls from the cache,
// Kong only rejections, so each gateway is held to the core's model of it).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { simulate, type Via } from "../../cli/simulate/run";
import { ENVOY_PROFILE, KONG_PROFILE } from "../../cli/simulate/result";
import { readPolicyText, type PolicyDoc } from "../../cli/policy-file";
import { readTrace } from "../../cli/simulate/trace";
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

async function metricsOf(via: Via, policy: PolicyDoc, file: string, profile = KONG_PROFILE): Promise<string> {
  const lines: string[] = [];
  await simulate(via, policy, readTrace(file), (l) => lines.push(l), { metrics: true, profile: via === "core" ? profile : undefined });
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
