// `--via envoy`: dist/wasm/tandem.wasm in the Envoy harness (test/harness/envoy), a
// proxy-wasm host on V8 built to Envoy's semantics, with a route table that matches
// the variant header after the filter ran — as a VirtualService would.
import { join } from "node:path";
import { startEnvoy, type FilterSpec } from "../../test/harness/envoy";
import { distDir } from "../core";
import type { PolicyDoc } from "../policy-file";
import { GatewayDriver, policyFacts } from "./via-gateway";
import { DEFAULT_UPSTREAM, ScriptedUpstreams } from "./scripted-upstream";

const SIM_TIMEOUT_MS = 300;

export class EnvoyDriver {
  static async start(policy: PolicyDoc): Promise<GatewayDriver> {
    const facts = policyFacts(policy);
    const ups = await ScriptedUpstreams.start(facts.upstreams);
    const driver = new GatewayDriver(facts, ups);
    const ex = policy.spec.experiment as { variants: Array<{ name: string; upstream?: string }> } | undefined;
    const wasm = join(distDir(), "wasm", "tandem.wasm");
    const filters: FilterSpec[] = [];
    if (ex) filters.push({ wasm, rootId: "experiment", configuration: JSON.stringify(ex) });
    let now = 0;
    try {
      const gw = await startEnvoy({
        filters,
        clusters: Object.fromEntries(ups.addrs),
        routes: [
          ...(ex?.variants ?? []).filter((v) => v.upstream).map((v) => ({ header: { name: facts.variantHeader!, value: v.name }, cluster: v.upstream! })),
          { cluster: DEFAULT_UPSTREAM },
        ],
        clock: () => now,
        upstreamTimeoutMs: SIM_TIMEOUT_MS,
        onUpstreamRequest: driver.record,
      });
      driver.gw = {
        port: gw.port,
        setNow: async (ms) => { now = ms; },
        pointUpstream: (n, a) => gw.setCluster(n, a),
        settle: async () => {},
        close: () => gw.close(),
      };
    } catch (e) {
      await ups.close();
      throw e;
    }
    return driver;
  }
}
