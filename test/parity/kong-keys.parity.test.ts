// Kong's own config keys do not change a decision: a policy whose Kong plugins carry
// an instance name (plugin_instance_name in the config, as every KongPlugin of the
// Kong Ingress Controller does; kong/runloop/plugins_iterator.lua get_plugin_config)
// decides request by request as the core alone and Envoy do. Before
// plugins/shared/kong-config.ts stripped the key, StartInstance failed and Kong
// answered 500 to every request.
import { describe, expect, it } from "vitest";
import { openDriver, type Via } from "../../cli/simulate/run";
import { ENVOY_PROFILE, KONG_PROFILE, type SimResult } from "../../cli/simulate/result";
import type { GatewayDriver } from "../../cli/simulate/via-gateway";
import { kicInstanceName } from "../../cli/simulate/via-kong";
import type { PolicyDoc } from "../../cli/policy-file";
import type { TraceRequest } from "../../cli/simulate/trace";
import { breakerScenarios } from "./breaker-scenarios";

async function run(via: Via, policy: PolicyDoc, trace: TraceRequest[], profile = KONG_PROFILE) {
  const driver = await openDriver(via, policy, { profile });
  const results: SimResult[] = [];
  let configs: Record<string, Record<string, unknown>> | undefined;
  try {
    for (const r of trace) results.push(await driver.run(r));
    configs = (driver as GatewayDriver).gw?.pluginConfigs?.();
  } finally {
    await driver.close();
  }
  return { results, configs };
}

// Experiment + circuit breaker: both Kong plugins are instance-named.
const { name, policy, trace } = breakerScenarios()[0];

describe(`Kong keys parity: ${name}`, () => {
  it(`${trace.length} requests decide identically through core, Kong (instance-named plugins) and Envoy`, async () => {
    const core = await run("core", policy, trace);
    const kong = await run("kong", policy, trace);
    const coreEnvoy = await run("core", policy, trace, ENVOY_PROFILE);
    const envoy = await run("envoy", policy, trace);
    // Kong really handed the plugins plugin_instance_name (and its other keys)
    expect(Object.keys(kong.configs ?? {}).sort()).toEqual(["circuit-breaker", "experiment"]);
    for (const [plugin, conf] of Object.entries(kong.configs!)) {
      expect(conf.plugin_instance_name).toBe(kicInstanceName(policy, plugin));
      expect(conf).toHaveProperty("__plugin_id");
      expect(conf).toHaveProperty("route_id");
    }
    for (let i = 0; i < trace.length; i++) {
      const where = `line ${i + 1} t=${trace[i].t} ${JSON.stringify(trace[i].headers)}`;
      expect(kong.results[i], `kong, ${where}`).toEqual(core.results[i]);
      expect(envoy.results[i], `envoy, ${where}`).toEqual(coreEnvoy.results[i]);
    }
    // the trace decides: both variants, and the breaker both forwards and answers
    const variants = new Set(core.results.map((r) => r.variant));
    expect(variants.has("stable") && variants.has("canary")).toBe(true);
    expect(core.results.some((r) => r.status === 200)).toBe(true);
    expect(core.results.some((r) => r.action === "fallback")).toBe(true);
  }, 600_000);
});
