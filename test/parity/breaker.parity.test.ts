// The breaker's promise: the same trace gives the same answers, request by request,
// through the core alone and through each gateway: variant, upstream, action, status,
// the breaker's state after the request, Set-Cookie.
//
// Paths run here: `--via kong` (the real kong-js-pluginserver behind the Kong harness),
// each compared line by line with `--via core` modelling that gateway (its
// GatewayProfile, cli/simulate/result.ts: the gateway's own error statuses, the
// transport errors it can tell apart, whether it can answer a failed upstream with the
// fallback). A gateway joins by one entry in PATHS, e.g.
//   { via: "envoy", profile: ENVOY_PROFILE }
import { describe, expect, it } from "vitest";
import { simulate, type Via } from "../../cli/simulate/run";
import { ENVOY_PROFILE, KONG_PROFILE, type GatewayProfile, type SimResult } from "../../cli/simulate/result";
import { breakerScenarios } from "./breaker-scenarios";

const PATHS: Array<{ via: Exclude<Via, "core">; profile: GatewayProfile }> = [
  { via: "kong", profile: KONG_PROFILE },
  { via: "envoy", profile: ENVOY_PROFILE },
];

const count = (rs: SimResult[], f: (r: SimResult) => boolean) => rs.filter(f).length;

describe.each(breakerScenarios())("breaker parity: $name", ({ policy, trace }) => {
  it.each(PATHS)(`${trace.length} requests answer identically through core and $via`, async ({ via, profile }) => {
    const core = await simulate("core", policy, trace, () => {}, { profile });
    const gw = await simulate(via, policy, trace, () => {});
    for (let i = 0; i < trace.length; i++) {
      const where = `line ${i + 1} t=${trace[i].t} ${JSON.stringify(trace[i].headers)} ${JSON.stringify(trace[i].upstream)}`;
      expect(gw[i], `${via}, ${where}`).toEqual(core[i]);
    }
    // The trace really drives the breaker: it opened, probed and closed again.
    const states = new Set(core.map((r) => r.breaker));
    expect(states).toEqual(new Set(["closed", "open", "half_open"]));
    const mode = (policy.spec.circuitBreaker as { mode?: string } | undefined)?.mode;
    if (mode === "dry_run") expect(count(core, (r) => r.action !== "forward")).toBe(0);
    else expect(count(core, (r) => r.action === "fallback" || r.action === "reject")).toBeGreaterThan(5);
  }, 600_000);
});
