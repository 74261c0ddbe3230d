// `tandem explain --policy p.yaml [--path /x] [--method GET] [--ip 10.0.0.1] [--at <RFC 3339|ms>]
//  [--headers 'x-user-id: 42'] [--headers 'cookie: a=b' ...]`: one request through the
// core, and what decided it: scope, the key and where it came from, the bucket, the
// rule or split or ramp or override, and the effects a gateway applies.
import { parseArgs } from "node:util";
import { cliCore } from "./core";
import { loadPolicy } from "./validate";
import { answerNeeds } from "../plugins/core/answer-needs";
import { EXPOSE_HEADER, reasonName } from "../plugins/core/tandem-core";

export class ExplainUsage extends Error {}

export function explainCommand(args: string[]): number {
  const { values } = parseArgs({
    args,
    options: {
      policy: { type: "string" }, path: { type: "string", default: "/" }, method: { type: "string", default: "GET" },
      ip: { type: "string", default: "127.0.0.1" }, at: { type: "string" }, headers: { type: "string", multiple: true, default: [] },
    },
  });
  if (!values.policy) throw new ExplainUsage("explain needs --policy");
  const policy = loadPolicy(values.policy);
  const ex = policy.spec.experiment as { stickiness?: { sources?: string[] }; rules?: unknown[] } | undefined;
  if (!ex) throw new ExplainUsage(`${values.policy} has no spec.experiment to explain`);
  const headers: Record<string, string> = {};
  for (const h of values.headers!) {
    const colon = h.indexOf(":");
    if (colon <= 0) throw new ExplainUsage(`--headers takes 'name: value', got ${JSON.stringify(h)}`);
    headers[h.slice(0, colon).trim().toLowerCase()] = h.slice(colon + 1).trim();
  }
  headers.host ??= "localhost";
  const now = values.at === undefined ? Date.now() : /^\d+$/.test(values.at) ? Number(values.at) : Date.parse(values.at);
  if (Number.isNaN(now)) throw new ExplainUsage(`--at takes an RFC 3339 time or ms since the epoch, got ${values.at}`);
  const core = cliCore();
  const plan = core.configureExperiment(JSON.stringify(ex));
  const d = core.decideExperiment(plan, answerNeeds(plan.needs, { headers, path: values.path, method: values.method, ip: values.ip }), now);
  const out: string[] = [];
  const sources = ex.stickiness?.sources ?? ["cookie:tandem-uid"];
  if (d.variant < 0) {
    out.push("scope:    out of scope (scope.hosts / scope.pathPrefixes): no variant");
    out.push(`effects:  remove any client-sent ${plan.variantHeader}`);
  } else {
    const v = plan.variants[d.variant];
    const ks = core.lastKeySource(plan);
    out.push(`variant:  ${v.name}${v.upstream ? ` (upstream ${v.upstream})` : ""}`);
    out.push(`reason:   ${reasonName(d.reason)}${d.reason >= 3 ? ` (experiment.rules[${d.reason - 3}] matched; earlier rules did not)` : d.reason === 2 ? " (a valid override token)" : d.reason === 1 ? " (rollout weights at --at)" : " (no rule matched: the weighted split)"}`);
    out.push(`key:      ${ks >= 0 ? `from ${sources[ks]}` : "none of " + sources.join(", ") + " present: a new id from the request's entropy"}`);
    const bucket = core.lastBucket(plan);
    out.push(`bucket:   ${bucket >= 0 ? `${bucket} of 10000` : "not used (a fixed variant)"}`);
    const effects = [`${plan.variantHeader}: ${v.name} (client copies removed)`];
    if (v.upstream) effects.push(`Kong: set_upstream(${v.upstream})`);
    if (d.stripOverride) effects.push(`remove ${plan.overrideHeader}`);
    if (d.setCookie) effects.push(`Set-Cookie: ${d.setCookie}`);
    if (d.expose) effects.push(`${EXPOSE_HEADER}: ${d.expose}`);
    out.push(`effects:  ${effects.join("\n          ")}`);
  }
  core.release(plan);
  process.stdout.write(out.join("\n") + "\n");
  return 0;
}
