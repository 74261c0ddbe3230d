// Kong plugin `experiment`: sticky weighted canary / A/B split. Thin: the core decides,
// this file turns Kong facts into core facts and the decision into PDK calls.
// RPC round trips per request (HandleEvent included): 1 + get_headers
// [+ get_path_with_query / get_method / client.get_ip when the policy needs them]
// + set_header [+ set_upstream] [+ Set-Cookie for a new user]: 4-5 for the example
// policy, 6 for a new user under a path scope, 2-3 out of scope; one more each when
// the request carries the QA override header (stripped) and with exposeHeader, and
// one (nginx.get_var: Kong's request id, ./facts.ts) for a new user whose request has
// no x-request-id: 6 for the example policy.
// Tagging experiments (./tags.ts): none in scope (set_headers carries the variant and
// the tags); + clear_header when the client sent x-tandem-experiments and no tags
// replace it (out of scope, or a policy without spec.experiments).
// Canary guards: + set_serialize_value for a request a guard tracks (its admission,
// for log); log = 1 (HandleEvent) without guards, 1 + serialize = 2 with them: the
// outcome from Kong's own figures (../core/outcome.ts), never a `response` phase.
// State: the guards live in the core instance of this plugin server process (shared by
// all Kong workers); a restarted plugin instance with the same config keeps them.
import { canonical } from "../shared/canonical";
import { userConfig, pluginId } from "../shared/kong-config";
import { outcomeOf } from "../shared/outcome";
import { guardTraceOn, writeGuardTrace } from "./trace";
import type { KongPDK } from "../shared/pdk";
import { getCore } from "../shared/shared";
import { ConfigKeeper } from "../shared/config-keeper";
import { EXPOSE_HEADER, type ExperimentPlan } from "../../core-js/tandem-core";
import { decide, fetchFacts, planFacts, type FactPlan } from "./facts";
import { clearClientTags, setDecisionHeaders } from "./tags";

export { Schema } from "./schema";
export const Version = "0.1.0";
// After authentication (1000+) and rate limiting (900s), before proxying plugins.
export const Priority = 800;

interface Configured { plan: ExperimentPlan; facts: FactPlan; canon: string; token: string }

// Where a guard's admission travels from access to log (kong.log.set_serialize_value;
// log plugins see it too): the configuration's token, the guard, flags, generation.
export const GUARD_CARRY_FIELD = "tandem.guard";
interface GuardCarry { config: string; guard: number; flags: number; generation: number }

type ExperimentPDK = KongPDK & { log: KongPDK["log"] & { setSerializeValue(key: string, value: unknown): Promise<unknown> } };

// Last good configuration per Kong plugin id; an unchanged one (a restarted instance)
// keeps its guards' states (../core/config-keeper.ts).
const configs = new ConfigKeeper<Configured>((c) => getCore().release(c.plan));

function configure(config: Record<string, unknown>): Configured {
  return configs.configure(pluginId(config), () => {
    const user = userConfig(config);
    const canon = canonical(user);
    return {
      canon,
      build: (token) => {
        const plan = getCore().configureExperiment(JSON.stringify(user));
        return { plan, facts: planFacts(plan.needs), canon, token };
      },
    };
  });
}

export class Plugin {
  private readonly c: Configured;

  constructor(config: Record<string, unknown>) {
    this.c = configure(config);
  }

  async access(kong: ExperimentPDK): Promise<void> {
    const { plan, facts } = this.c;
    const f = await fetchFacts(kong, facts);
    const d = await decide(kong, plan, facts, f, Date.now());
    if (d.variant < 0) {
      // out of scope: only a client-sent copy needs removing (saves an RPC otherwise)
      if (f.headers[plan.variantHeader] !== undefined) await kong.service.request.clearHeader(plan.variantHeader);
      await clearClientTags(kong, f.headers);
    } else {
      const v = plan.variants[d.variant];
      await setDecisionHeaders(kong, plan, v.name, d.tags, f.headers);
      if (v.upstream !== null) await kong.service.setUpstream(v.upstream);
    }
    if (d.stripOverride) await kong.service.request.clearHeader(plan.overrideHeader!);
    if (d.setCookie !== null) await kong.response.addHeader("Set-Cookie", d.setCookie);
    if (d.expose !== null) await kong.response.addHeader(EXPOSE_HEADER, d.expose);
    const g = d.guard;
    if (g !== null && g.tracked) {
      const carry: GuardCarry = { config: this.c.token, guard: g.index, flags: g.flags, generation: g.generation };
      await kong.log.setSerializeValue(GUARD_CARRY_FIELD, carry);
    }
  }

  // Canary guards: the outcome of a request a guard admitted and tracks.
  async log(kong: ExperimentPDK): Promise<void> {
    if (this.c.plan.guards.length === 0) return;
    const s = JSON.parse(await kong.log.serialize() as unknown as string) as Record<string, unknown>;
    const carry = (s.tandem as { guard?: GuardCarry } | undefined)?.guard;
    const c = carry && typeof carry.guard === "number" ? configs.byTokenOf(carry.config) : undefined;
    // (no carry: not tracked; no configuration: admitted under one since replaced)
    if (carry && c) {
      const r = getCore().recordGuard(c.plan, carry.guard, carry.flags, carry.generation, outcomeOf(s), Date.now());
      if (r.transition !== null) {
        const v = c.plan.variants[c.plan.guards[carry.guard].variant].name;
        process.stderr.write(`tandem: experiment guard of variant ${JSON.stringify(v)} -> ${r.state} (${r.transition})\n`);
      }
    }
    if (guardTraceOn()) writeGuardTrace(getCore().guardStates(this.c.plan));
  }
}
