// The canary guard's promise: the same trace rolls the same users back and brings them
// back at the same requests, through the core alone and through each gateway (Kong:
// guards in the plugin server, outcomes from the log phase; Envoy: guards in shared
// data, outcomes from on_log), request by request: variant, upstream, status and the
// guards' states after each request.
import { describe, expect, it } from "vitest";
import { simulate, type Via } from "../../cli/simulate/run";
import { ENVOY_PROFILE, KONG_PROFILE, type GatewayProfile, type SimResult } from "../../cli/simulate/result";
import { guardScenarios } from "./guard-scenarios";

const PATHS: Array<{ via: Exclude<Via, "core">; profile: GatewayProfile }> = [
  { via: "kong", profile: KONG_PROFILE },
  { via: "envoy", profile: ENVOY_PROFILE },
];

describe.each(guardScenarios())("guard parity: $name", ({ policy, trace, broken }) => {
  it("the core rolls the canary back while it is broken and brings it back after", async () => {
    const core = await simulate("core", policy, trace, () => {}, { profile: KONG_PROFILE });
    const share = (from: number, to: number) => {
      const rs = core.filter((_r: SimResult, i: number) => trace[i].t >= from && trace[i].t < to);
      return rs.filter((r) => r.variant === "canary").length / rs.length;
    };
    const before = share(0, broken[0]);
    const lateBroken = share(broken[0] + (broken[1] - broken[0]) / 2, broken[1]);
    const after = share(broken[1] + 3000 + 2000, Infinity);
    expect(before).toBeGreaterThan(0.2);
    expect(lateBroken).toBeLessThan(0.1);        // only half-open probes reach it
    expect(after).toBeGreaterThan(0.2);          // recovered: its users are back
    // every line reports the guard's state; the trace drives it through all three
    expect(new Set(core.map((r) => r.guards?.canary))).toEqual(new Set(["closed", "open", "half_open"]));
  }, 120_000);

  it.each(PATHS)(`${trace.length} requests answer identically through core and $via`, async ({ via, profile }) => {
    const core = await simulate("core", policy, trace, () => {}, { profile });
    const gw = await simulate(via, policy, trace, () => {});
    for (let i = 0; i < trace.length; i++) {
      const where = `line ${i + 1} t=${trace[i].t} ${JSON.stringify(trace[i].headers)} ${JSON.stringify(trace[i].upstreams ?? trace[i].upstream)}`;
      expect(gw[i], `${via}, ${where}`).toEqual(core[i]);
    }
  }, 600_000);
});
