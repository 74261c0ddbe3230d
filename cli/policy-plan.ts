// The plugin configs of a TrafficPolicy come from one place: the core compiles the
// policy into its plan (wasm/core/plan.ts, core-js compilePolicy), and render, simulate,
// explain, the playground and the bench read each part's config from it. No TypeScript
// assembles a plugin config from the raw document, so what a gateway is configured with
// and what the simulators run cannot drift apart.
//
// A part's `config` is what the Envoy filter (and the core's own drivers) read; `kong`
// is the same for Kong's schema (failure statuses as strings, the breaker's
// `variantUpstreams`, the list form of `fallback` under `fallbacks`).
import { cliCore } from "./dist-core";
import type { PolicyDoc } from "./policy-file";
import type { PartName, PolicyPlan } from "../core-js/tandem-core";

export type { PartName, PolicyPlan };

// Plans by the policy's JSON text: a document may be edited after it was planned (the
// playground changes weights), so its text, not its identity, is the key. A plan costs
// one core call (tens of µs); the few policies a command or the playground holds fit.
const MEMO_MAX = 32;
const memo = new Map<string, PolicyPlan>();

// The plan of a valid policy (callers load and validate it first: cli/validate.ts
// loadPolicy); an invalid one throws the core's CoreError with its field path.
export function planOf(p: PolicyDoc): PolicyPlan {
  const text = JSON.stringify(p);
  let plan = memo.get(text);
  if (plan === undefined) {
    plan = cliCore().compilePolicy(text);
    if (memo.size >= MEMO_MAX) memo.delete(memo.keys().next().value as string);
    memo.set(text, plan);
  }
  return plan;
}

// Part `part`'s config as the Envoy filter reads it, or null when the policy has none.
export function partConfig(p: PolicyDoc, part: PartName): Record<string, unknown> | null {
  return planOf(p).parts.find((x) => x.plugin === part)?.config ?? null;
}

// The same for Kong's schema, or null.
export function kongPartConfig(p: PolicyDoc, part: PartName): Record<string, unknown> | null {
  return planOf(p).parts.find((x) => x.plugin === part)?.kong ?? null;
}

// Whether part `part` can do anything (the plan's `enabled`): false for fault-injection
// with no fault enabled and no control header. Kong runs it as a disabled plugin entity,
// i.e. not at all; true when the policy has no such part.
export function partEnabled(p: PolicyDoc, part: PartName): boolean {
  return planOf(p).parts.find((x) => x.plugin === part)?.enabled ?? true;
}

// The opt-in Kong plugin `fallback-cache` (plugins/fallback-cache/handler.ts), only when
// the fallback has a cache: it stores answers (a buffered `response` phase) and hands a
// servable one to the breaker. Its config is the breaker's own, so both read the same
// cache settings and derive the same keys.
export function kongCacheConfig(p: PolicyDoc): Record<string, unknown> | null {
  return planOf(p).fallback?.cache ? kongPartConfig(p, "circuit-breaker") : null;
}

// The parts the policy has, in chain order.
export function partsOf(p: PolicyDoc): PartName[] {
  return planOf(p).parts.map((x) => x.plugin);
}

// The upstream a `reroute` fallback names, with its field path (render's messages cite
// it), or null.
export function rerouteOf(p: PolicyDoc): { upstream: string; path: string } | null {
  const f = planOf(p).fallback;
  return f && f.kind === "reroute" && f.upstream !== null ? { upstream: f.upstream, path: `${f.field}.reroute.upstream` } : null;
}
