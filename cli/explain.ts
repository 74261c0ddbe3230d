// `tandem explain --policy p.yaml [--path /x] [--method GET] [--ip 10.0.0.1] [--at <RFC 3339|ms>]
//  [--headers 'x-user-id: 42'] [--headers 'cookie: a=b' ...]
//  [--trace t.jsonl | --breaker-state open|half_open|half_open_full|closed]`: one request through the
// core, and what decided it, one section per policy part in the gateways' order, each
// given the request as the parts before it left it:
//   experiment  scope, the key and where it came from, the bucket, the rule or split or
//               ramp or override, and the effects a gateway applies
//   breaker     the breaker key, its state given a history, and admitted / probe /
//               rejected with the answer (./explain/breaker.ts)
//   faults      which fault applies and why, why each earlier one does not (./explain/fault.ts)
import { isIP } from "node:net";
import { parseArgs } from "node:util";
import { badMethod, badPath } from "./simulate/trace";
import { cliCore } from "./dist-core";
import { loadPolicy } from "./validate";
import { answerNeeds } from "../core-js/answer-needs";
import {
  BREAKER_ADMITTED, BREAKER_PROBE, EXPOSE_HEADER, GUARD_REASON, RULE_REASON0, TAGS_HEADER, reasonName, type ExperimentPlan, type GuardAdmission, type TandemCore,
} from "../core-js/tandem-core";
import { partConfig } from "./policy-plan";
import { tagLines } from "./explain/tags";
import { CoreDriver, carryToBreaker } from "./simulate/via-core";
import { explainBreaker } from "./explain/breaker";
import { historyAt, historyRequest, traceEndMs } from "./explain/breaker-history";
import { ExplainUsage, NO_BREAKER, NO_HISTORY } from "./explain/usage";
import { explainFaults } from "./explain/fault";

export { ExplainUsage };
export const NOTHING_TO_EXPLAIN = "has none of spec.experiment, spec.circuitBreaker and spec.faults to explain";

type ExperimentSpec = { rules?: unknown[] };
// requestId: the entropy a new user's id comes from when the request has no x-request-id
// (a gateway's request id): --seed-entropy, fixed by default so explain answers alike every run.
interface RequestFacts { headers: Record<string, string>; path: string; method: string; ip: string; requestId: string }
const DEFAULT_ENTROPY = "explain";

export async function explainCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      policy: { type: "string" }, path: { type: "string", default: "/" }, method: { type: "string", default: "GET" },
      ip: { type: "string", default: "127.0.0.1" }, at: { type: "string" }, headers: { type: "string", multiple: true, default: [] },
      trace: { type: "string" }, "breaker-state": { type: "string" }, "seed-entropy": { type: "string", default: DEFAULT_ENTROPY },
    },
  });
  if (!values.policy) throw new ExplainUsage("explain needs --policy");
  // The request's facts, as strictly as a trace line's (./simulate/trace.ts).
  const pathBad = badPath(values.path);
  if (pathBad) throw new ExplainUsage(`--path ${pathBad}`);
  const methodBad = badMethod(values.method);
  if (methodBad) throw new ExplainUsage(`--method ${methodBad}`);
  if (isIP(values.ip!) === 0) throw new ExplainUsage(`--ip must be an IPv4 or IPv6 address, got ${JSON.stringify(values.ip)}`);
  if (values["seed-entropy"] === "") throw new ExplainUsage("--seed-entropy must not be empty");
  const given = historyRequest(values.trace, values["breaker-state"]);
  const policy = loadPolicy(values.policy);
  const ex = partConfig(policy, "experiment") as ExperimentSpec | null;
  const cb = partConfig(policy, "circuit-breaker");
  const faults = partConfig(policy, "fault-injection") !== null;
  if (!ex && !cb && !faults) throw new ExplainUsage(`${values.policy} ${NOTHING_TO_EXPLAIN}`);
  if (!cb && given.state) throw new ExplainUsage(`${values.policy} ${NO_BREAKER}`);
  const guarded = ex !== null && guardsOf(cliCore(), ex) > 0;
  if (!cb && !guarded && given.trace) throw new ExplainUsage(`${values.policy} ${NO_HISTORY}`);
  const headers: Record<string, string> = {};
  for (const h of values.headers!) {
    const colon = h.indexOf(":");
    if (colon <= 0) throw new ExplainUsage(`--headers takes 'name: value', got ${JSON.stringify(h)}`);
    headers[h.slice(0, colon).trim().toLowerCase()] = h.slice(colon + 1).trim();
  }
  headers.host ??= "localhost";
  // With a trace, the request comes when the trace ends (its breaker history is then).
  const now = values.at === undefined ? (given.trace ? traceEndMs(given.trace.lines) : Date.now()) : /^\d+$/.test(values.at) ? Number(values.at) : Date.parse(values.at);
  if (Number.isNaN(now)) throw new ExplainUsage(`--at takes an RFC 3339 time or ms since the epoch, got ${values.at}`);
  // An earlier --at: the history is the calls over by then (guards and breaker alike).
  const history = historyAt(given, now);
  const core = cliCore();
  const out: string[] = [];
  const req: RequestFacts = { headers, path: values.path!, method: values.method!, ip: values.ip!, requestId: values["seed-entropy"]! };
  // Canary guards' history: the trace replayed through the core as simulate does; the
  // request is then decided by that replay's experiment (its guards' states).
  let replay: CoreDriver | null = null;
  if (guarded && history.trace) {
    replay = new CoreDriver(core, policy);
    for (const r of history.trace.lines) await replay.run(r);
  }
  const carried = ex ? explainExperiment(core, ex, req, now, out, replay?.plan ?? null) : { ...headers };
  await replay?.close();
  if (cb) out.push(...await explainBreaker(core, policy, carried, now, history));
  if (faults) out.push(...explainFaults(core, policy, carried, req, now));
  process.stdout.write(out.join("\n") + "\n");
  return 0;
}

// The canary guard the decision consulted (wasm/core/guard/guard.ts): its state after the
// --trace replay, else a fresh (closed) one.
function guardLine(plan: ExperimentPlan, g: GuardAdmission, landed: string): string {
  const info = plan.guards[g.index];
  const guarded = plan.variants[info.variant].name;
  const what = g.flags & BREAKER_ADMITTED
    ? (g.flags & BREAKER_PROBE ? "admitted as a half-open probe" : "admitted") + (g.tracked ? "; its outcome counts in the guard's window" : "")
    : `rolled back to ${landed}`;
  return `guard:    ${guarded}'s canary guard (mode ${info.mode}) is ${g.state}: ${what}`;
}

// spec.experiment: the variant and what decided it. Returns the request's headers as
// the experiment passes them on (its variant header set, the override header removed).
// How many canary guards the experiment has (the core's plan of it).
function guardsOf(core: TandemCore, ex: ExperimentSpec): number {
  const plan = core.configureExperiment(JSON.stringify(ex));
  core.release(plan);
  return plan.guards.length;
}

function explainExperiment(core: TandemCore, ex: ExperimentSpec, req: RequestFacts, now: number, out: string[],
  replayed: ExperimentPlan | null): Record<string, string> {
  const plan = replayed ?? core.configureExperiment(JSON.stringify(ex));
  const d = core.decideExperiment(plan, answerNeeds(plan.needs, req), now);
  if (d.variant < 0) {
    out.push("scope:    out of scope (scope.hosts / scope.pathPrefixes): no variant");
    out.push(`effects:  remove any client-sent ${plan.variantHeader} and ${TAGS_HEADER}`);
  } else {
    const v = plan.variants[d.variant];
    const ks = core.lastKeySource(plan);
    out.push(`variant:  ${v.name}${v.upstream ? ` (upstream ${v.upstream})` : ""}`);
    out.push(`reason:   ${reasonName(d.reason)}${d.reason >= RULE_REASON0 ? ` (experiment.rules[${d.reason - RULE_REASON0}] matched; earlier rules did not)` : d.reason === GUARD_REASON ? " (the canary guard of the variant the request was assigned is open: rolled back)" : d.reason === 2 ? " (a valid override token)" : d.reason === 1 ? " (rollout weights at --at)" : " (no rule matched: the weighted split)"}`);
    if (d.guard !== null) out.push(guardLine(plan, d.guard, v.name));
    out.push(`key:      ${ks >= 0 ? `from ${plan.sources[ks]}` : `none of ${plan.sources.join(", ")} present: a new user, whose id comes from the request's entropy (${req.headers["x-request-id"] !== undefined ? "its x-request-id" : `--seed-entropy ${JSON.stringify(req.requestId)}; another value shows another new user`})`}`);
    const bucket = core.lastBucket(plan);
    out.push(`bucket:   ${bucket >= 0 ? `${bucket} of 10000` : "not used (a fixed variant)"}`);
    out.push(...tagLines(core.lastTags(plan)));
    const effects = [`${plan.variantHeader}: ${v.name} (client copies removed)`];
    if (d.tags !== null) effects.push(`${TAGS_HEADER}: ${d.tags} (client copies removed)`);
    else if (req.headers[TAGS_HEADER] !== undefined) effects.push(`remove the client-sent ${TAGS_HEADER}`);
    if (v.upstream) effects.push(`Kong: set_upstream(${v.upstream})`);
    if (d.stripOverride) effects.push(`remove ${plan.overrideHeader}`);
    if (d.setCookie) effects.push(`Set-Cookie: ${d.setCookie}`);
    if (d.expose) effects.push(`${EXPOSE_HEADER}: ${d.expose}`);
    out.push(`effects:  ${effects.join("\n          ")}`);
  }
  const carried = carryToBreaker(plan, d, { ...req.headers }) as Record<string, string>;   // explain: one value per header
  if (!replayed) core.release(plan);
  return carried;
}
