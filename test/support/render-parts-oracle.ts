// An independent TypeScript derivation of a policy's plugin configs, kept as the
// oracle the core's plan is checked against (test/core/plan.test.ts): the CLI itself
// reads every config from the plan (cli/policy-plan.ts). This was the CLI's own
// derivation before the core compiled policies; it stays here, apart from the product,
// so the plan's parts are compared with a second, separately written account of what
// each gateway must receive.
import type { PolicyDoc } from "../../cli/policy-file";
import { HAS_FAULTS_FIELD, POLICY_FIELD } from "../../wasm/core/metrics/catalog";
import { UPSTREAM_NAMES_FIELD } from "../../wasm/core/contract";

// The `circuit-breaker` plugin / root id config: the circuitBreaker fields plus
// `fallback`, or null when the policy has neither. The same on both gateways.
// With `key: upstream` (the default), `upstreamNames`: each variant's upstream, the key its
// requests count under (wasm/core/breaker/upstream-names.ts).
export function breakerConfig(p: PolicyDoc): Record<string, unknown> | null {
  if (!p.spec.circuitBreaker && !p.spec.fallback) return null;
  const key = (p.spec.circuitBreaker as { key?: unknown } | undefined)?.key ?? "upstream";
  const names = key === "upstream" ? variantUpstreams(p) : {};
  return {
    ...(p.spec.circuitBreaker ?? {}), ...(p.spec.fallback ? { fallback: p.spec.fallback } : {}), ...policyField(p),
    ...(p.spec.faults ? {} : { [HAS_FAULTS_FIELD]: false }),
    ...(Object.keys(names).length > 0 ? { [UPSTREAM_NAMES_FIELD]: names } : {}),
  };
}

// Kong's copy of it: Kong's schema types array elements, so numeric failure statuses
// are written as strings ("503" means 503 to the core), and Kong routes before plugins
// run, so a `fallback.reroute.variant` needs each variant's Kong Upstream
// (`variantUpstreams`, Kong only: the plugin strips it before the core sees the config).
export function kongBreakerConfig(p: PolicyDoc): Record<string, unknown> | null {
  const c = breakerConfig(p);
  if (!c) return null;
  const out: Record<string, unknown> = { ...c };
  const f = c.failure as Record<string, unknown> | undefined;
  if (f && typeof f === "object" && !Array.isArray(f)) out.failure = kongFailure(f);
  const vu = variantUpstreams(p);
  if (Object.keys(vu).length > 0) out.variantUpstreams = vu;
  // The list form goes under Kong's `fallbacks` (plugins/circuit-breaker/fallback-form.ts).
  if (Array.isArray(out.fallback)) { out.fallbacks = out.fallback; delete out.fallback; }
  return out;
}

function kongFailure(f: Record<string, unknown>): Record<string, unknown> {
  const str = (v: unknown) => (Array.isArray(v) ? v.map((x) => (typeof x === "number" ? String(x) : x)) : v);
  return { ...f, ...("statuses" in f ? { statuses: str(f.statuses) } : {}), ...("ignoreStatuses" in f ? { ignoreStatuses: str(f.ignoreStatuses) } : {}) };
}

// Kong's copy of an experiment plugin config: canary guards' numeric failure statuses
// as strings (as for the breaker).
export function kongExperimentConfig(ex: Record<string, unknown>): Record<string, unknown> {
  const vs = ex.variants;
  if (!Array.isArray(vs)) return ex;
  return {
    ...ex,
    variants: vs.map((v) => {
      const g = (v as { guard?: { failure?: unknown } } | null)?.guard;
      const f = g?.failure;
      if (!f || typeof f !== "object" || Array.isArray(f)) return v;
      return { ...v, guard: { ...g, failure: kongFailure(f as Record<string, unknown>) } };
    }),
  };
}

// The `experiment` plugin / root id config: the spec.experiment fields plus
// `experiments` (spec.experiments, the tagging experiments), or null without an
// experiment. The same on both gateways (like circuitBreaker + `fallback`).
// `hasFaults: false` when no fault-injection part shares the policy: the Envoy filter
// then reads no fault mark per stream (wasm/core/metrics/catalog.ts HAS_FAULTS_FIELD).
export function experimentConfig(p: PolicyDoc): Record<string, unknown> | null {
  if (!p.spec.experiment) return null;
  return {
    ...p.spec.experiment, ...(p.spec.experiments ? { experiments: p.spec.experiments } : {}), ...policyField(p),
    ...(p.spec.faults ? {} : { [HAS_FAULTS_FIELD]: false }),
  };
}

// Every part names its policy: the `policy` label of its metrics (wasm/core/metrics/policy-name.ts).
export function policyField(p: PolicyDoc): Record<string, string> {
  return { [POLICY_FIELD]: p.metadata.name };
}

// Experiment variant -> its upstream, for the variants that name one.
export function variantUpstreams(p: PolicyDoc): Record<string, string> {
  const ex = p.spec.experiment as { variants?: Array<{ name?: unknown; upstream?: unknown }> } | undefined;
  const out: Record<string, string> = {};
  for (const v of ex?.variants ?? []) if (typeof v.name === "string" && typeof v.upstream === "string") out[v.name] = v.upstream;
  return out;
}

// The `fault-injection` plugin's config from a policy (wasm/core/fault/policy.ts):
// spec.faults, plus the experiment they may target or key users by, plus whether a
// circuitBreaker is there for scope: upstream to feed. null without spec.faults.

export function faultConfig(p: PolicyDoc): Record<string, unknown> | null {
  if (!p.spec.faults) return null;
  return {
    faults: p.spec.faults,
    ...(p.spec.experiment ? { experiment: p.spec.experiment } : {}),
    ...(p.spec.circuitBreaker ? { hasBreaker: true } : {}),
    ...policyField(p),
  };
}

// Kong's copy: its experiment as the experiment plugin gets it (guard statuses as strings).
export function kongFaultConfig(p: PolicyDoc): Record<string, unknown> | null {
  const c = faultConfig(p);
  const ex = c?.experiment as Record<string, unknown> | undefined;
  return c && ex ? { ...c, experiment: kongExperimentConfig(ex) } : c;
}

// Whether the fault-injection part can do anything (the plan's `enabled`; render writes
// the KongPlugin `disabled: true` when not): a fault is on (`enabled` absent or true) or
// one has a `control` header, which the plugin strips whatever the switch.
export function faultPartEnabled(p: PolicyDoc): boolean {
  const faults = (p.spec.faults ?? []) as Array<{ enabled?: boolean; control?: unknown }>;
  return faults.some((f) => f.enabled !== false || f.control !== undefined);
}
