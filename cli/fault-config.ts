// The `fault-injection` plugin's config from a policy (wasm/core/fault/policy.ts):
// spec.faults, plus the experiment they may target or key users by, plus whether a
// circuitBreaker is there for scope: upstream to feed. null without spec.faults.
import type { PolicyDoc } from "./policy-file";
import { kongExperimentConfig, policyField } from "./render/plugin-configs";

export function faultConfig(p: PolicyDoc): Record<string, unknown> | null {
  if (!p.spec.faults) return null;
  return {
    faults: p.spec.faults,
    ...(p.spec.experiment ? { experiment: p.spec.experiment } : {}),
    ...(p.spec.circuitBreaker ? { hasBreaker: true } : {}),
    ...policyField(p),
  };
}

// The secrets a render would carry, as field paths: the experiment's override.secret
// (in the experiment's and the fault-injection plugin's config) and each fault's
// control.secret.
export function secretFields(p: PolicyDoc): string[] {
  const out: string[] = [];
  if (typeof (p.spec.experiment as { override?: { secret?: unknown } } | undefined)?.override?.secret === "string") out.push("experiment.override.secret");
  const faults = Array.isArray(p.spec.faults) ? (p.spec.faults as Array<{ control?: { secret?: unknown } } | null>) : [];
  faults.forEach((f, i) => { if (typeof f?.control?.secret === "string") out.push(`faults[${i}].control.secret`); });
  return out;
}

// Kong's copy: its experiment as the experiment plugin gets it (guard statuses as strings).
export function kongFaultConfig(p: PolicyDoc): Record<string, unknown> | null {
  const c = faultConfig(p);
  const ex = c?.experiment as Record<string, unknown> | undefined;
  return c && ex ? { ...c, experiment: kongExperimentConfig(ex) } : c;
}
