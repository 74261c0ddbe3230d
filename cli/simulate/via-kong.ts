// `--via kong`: the real kong-js-pluginserver running dist/kong/<plugin>, behind the
// Kong harness (test/harness/kong), on the harness's virtual clock.
import { join } from "node:path";
import { startKong, type KongPluginSpec } from "../../test/harness/kong";
import { distDir } from "../core";
import type { PolicyDoc } from "../policy-file";
import { GatewayDriver, policyFacts } from "./via-gateway";
import { DEFAULT_UPSTREAM, ScriptedUpstreams } from "./scripted-upstream";

// Simulated upstream timeouts answer after this much real time (virtual time is
// advanced separately); Kong's retries are off so one trace line is one try.
const SIM_TIMEOUT_MS = 300;

export class KongDriver {
  static async start(policy: PolicyDoc): Promise<GatewayDriver> {
    const facts = policyFacts(policy);
    const ups = await ScriptedUpstreams.start(facts.upstreams);
    const driver = new GatewayDriver(facts, ups);
    const plugins: KongPluginSpec[] = [];
    if (policy.spec.experiment) plugins.push({ name: "experiment", dir: join(distDir(), "kong", "experiment"), config: policy.spec.experiment });
    try {
      const gw = await startKong({
        plugins,
        upstreams: Object.fromEntries(ups.addrs),
        defaultUpstream: DEFAULT_UPSTREAM,
        virtualClock: true,
        upstreamTimeoutMs: SIM_TIMEOUT_MS,
        retries: 0,
        onUpstreamRequest: driver.record,
      });
      driver.gw = {
        port: gw.port,
        setNow: (ms) => gw.setNow(ms),
        pointUpstream: (n, a) => gw.setUpstream(n, a),
        settle: () => gw.logDone(),
        close: () => gw.close(),
      };
    } catch (e) {
      await ups.close();
      throw e;
    }
    return driver;
  }
}
