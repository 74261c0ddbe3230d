// Kong's answers to the core's fact needs, fetched with the fewest RPCs: one
// get_headers for every header need (Host and x-request-id included), path, method or
// client ip only when the policy needs them, and Kong's own request id only when the
// core asks for entropy.
import { answerNeeds } from "../../core-js/answer-needs";
import { KONG_REQUEST_ID_VAR, requestIdEntropy } from "../../core-js/entropy";
import type { KongPDK } from "../shared/pdk";
import { getCore } from "../shared/shared";
import { FactKind, KEY_SOURCE_NEEDS_METHOD, NEED_ON_DEMAND, type ExperimentDecision, type ExperimentPlan, type Need } from "../../core-js/tandem-core";

export interface FactPlan {
  needs: Need[];
  headers: boolean;         // get_headers: a need is a header, the host or the entropy (x-request-id first), or the plugin reads them
  path: boolean;
  method: boolean;          // fetched for every request (a rule reads it)
  methodSlots: number[];    // the Method needs, filled when the core asks (KEY_SOURCE_NEEDS_METHOD)
  ip: boolean;
  entropy: number;   // index of the entropy need, -1 none
}

// `readsHeaders`: the plugin reads the request's headers itself (the experiment: a
// client's copy of the variant or tags header to remove), whatever the needs.
export function planFacts(needs: Need[], readsHeaders: boolean): FactPlan {
  const has = (k: FactKind) => needs.some((n) => n.kind === k);
  const methodSlots = needs.flatMap((n, i) => (n.kind === FactKind.Method ? [i] : []));
  // The core's on-demand method need (a CORS preflight's, wasm/core/request/preflight.ts)
  // costs an RPC only for a request with Access-Control-Request-Method.
  const method = needs.some((n) => n.kind === FactKind.Method && n.name !== NEED_ON_DEMAND);
  const headers = readsHeaders || has(FactKind.Header) || has(FactKind.Host) || has(FactKind.Entropy);
  return { needs, headers, path: has(FactKind.Path), method, methodSlots, ip: has(FactKind.ClientIp), entropy: needs.findIndex((n) => n.kind === FactKind.Entropy) };
}

// Kong's get_headers returns at most 100 headers by default; ask for Kong's maximum
// (1000) so a request padded with junk headers cannot hide the one we need.
const MAX_HEADERS = 1000;

export interface Facts { values: Array<string | undefined>; headers: Record<string, string | string[]> }

// The entropy fact is the request's x-request-id when it carries one, else left absent
// for decide() to fill on demand.
export async function fetchFacts(kong: KongPDK, plan: FactPlan): Promise<Facts> {
  const headers = plan.headers ? await kong.request.getHeaders(MAX_HEADERS) : {};
  const path = plan.path ? await kong.request.getPathWithQuery() : undefined;
  const method = plan.method ? await kong.request.getMethod() : undefined;
  const ip = plan.ip ? await kong.client.getIp() : undefined;
  return { values: answerNeeds(plan.needs, { headers, path, method, ip, requestId: null }), headers };
}

// wasm/core/experiment/experiment.ts KEY_NEEDS_ENTROPY: no key and no entropy, nothing decided.
export const KEY_NEEDS_ENTROPY = -2;

// kong.nginx.get_var(name) = ngx.var[name] (plugin_servers/plugin.lua exposed_api);
// kong-pdk turns the property path into that RPC.
type WithVars = KongPDK & { nginx: { getVar(name: string): Promise<unknown> } };

// The core's decision. For a user with no key on a request without x-request-id the
// core asks for entropy instead of deciding (no rule, guard or cookie touched yet):
// then, and only then, one RPC for Kong's request id and the decision with it. Users
// with a key cost no extra RPC.
// Likewise a request carrying Access-Control-Request-Method: the core asks for the
// method (is it a CORS preflight?) and gets it with one RPC.
export async function decide(kong: KongPDK, plan: ExperimentPlan, fp: FactPlan, f: Facts, nowMs: number): Promise<ExperimentDecision> {
  const core = getCore();
  let d = core.decideExperiment(plan, f.values, nowMs, "end");
  if (core.lastKeySource(plan) === KEY_SOURCE_NEEDS_METHOD) {
    const m = await kong.request.getMethod();
    for (const i of fp.methodSlots) f.values[i] = m;
    d = core.decideExperiment(plan, f.values, nowMs, "end");
  }
  if (fp.entropy < 0 || core.lastKeySource(plan) !== KEY_NEEDS_ENTROPY) return d;
  f.values[fp.entropy] = requestIdEntropy(await (kong as WithVars).nginx.getVar(KONG_REQUEST_ID_VAR));
  return core.decideExperiment(plan, f.values, nowMs, "end");
}
