// Kong plugin `experiment`: sticky weighted canary / A/B split. Thin: the core decides,
// this file turns Kong facts into core facts and the decision into PDK calls.
// RPC round trips per request (HandleEvent included): 1 + get_headers
// [+ get_path_with_query / get_method / client.get_ip when the policy needs them]
// + set_header [+ set_upstream] [+ Set-Cookie for a new user]: 4-5 for the example
// policy, 6 for a new user under a path scope, 2-3 out of scope; one more each when
// the request carries the QA override header (stripped) and with exposeHeader.
import { userConfig, pluginId } from "../core/kong-config";
import type { KongPDK } from "../core/pdk";
import { CONFIG_KEPT, getCore } from "../core/shared";
import { EXPOSE_HEADER, type ExperimentPlan } from "../core/tandem-core";
import { fetchFacts, planFacts, type FactPlan } from "./facts";

export { Schema } from "./schema";
export const Version = "0.1.0";
// After authentication (1000+) and rate limiting (900s), before proxying plugins.
export const Priority = 800;

interface Configured { plan: ExperimentPlan; facts: FactPlan }

// Last good configuration per Kong plugin id: a rejected update keeps it in force.
const lastGood = new Map<string, Configured>();

function configure(config: Record<string, unknown>): Configured {
  const id = pluginId(config);
  try {
    const plan = getCore().configureExperiment(JSON.stringify(userConfig(config)));
    const c = { plan, facts: planFacts(plan.needs) };
    if (id !== undefined) lastGood.set(id, c);
    return c;
  } catch (e) {
    const prev = id !== undefined ? lastGood.get(id) : undefined;
    if (!prev) throw e;   // never configured: Kong reports the core's message
    process.stderr.write(CONFIG_KEPT + (e as Error).message + "\n");
    return prev;
  }
}

export class Plugin {
  private readonly c: Configured;

  constructor(config: Record<string, unknown>) {
    this.c = configure(config);
  }

  async access(kong: KongPDK): Promise<void> {
    const { plan, facts } = this.c;
    const f = await fetchFacts(kong, facts);
    const d = getCore().decideExperiment(plan, f.values, Date.now());
    if (d.variant < 0) {
      // out of scope: only a client-sent copy needs removing (saves an RPC otherwise)
      if (f.headers[plan.variantHeader] !== undefined) await kong.service.request.clearHeader(plan.variantHeader);
    } else {
      const v = plan.variants[d.variant];
      await kong.service.request.setHeader(plan.variantHeader, v.name);
      if (v.upstream !== null) await kong.service.setUpstream(v.upstream);
    }
    if (d.stripOverride) await kong.service.request.clearHeader(plan.overrideHeader!);
    if (d.setCookie !== null) await kong.response.addHeader("Set-Cookie", d.setCookie);
    if (d.expose !== null) await kong.response.addHeader(EXPOSE_HEADER, d.expose);
  }
}
