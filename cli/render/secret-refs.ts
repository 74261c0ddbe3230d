// Secrets out of the manifests. A policy's secrets (experiment.override.secret, each
// fault's control.secret) are rendered as references in Kong's env-vault syntax,
// "{vault://env/<name>}", wherever the config would otherwise hold them in plain text:
//   kong-dbless.yaml  Kong resolves the reference itself (kong/vaults/env/init.lua: the
//                     variable <NAME>, upper case, '-' -> '_'); the plugins' secret fields
//                     are `referenceable` (plugins/*/schema.ts).
//   istio.yaml        the WasmPlugin / TrafficExtension asks for the variable from the
//                     proxy's environment (vmConfig.env valueFrom HOST, which Istio turns
//                     into Envoy's host_env_keys), a Secret holds the values for the proxy
//                     container's env, and the filter puts them in at configure
//                     (wasm/filter/secret-refs.ts).
//   envoy.yaml        vm_config.environment_variables.host_env_keys; Envoy is started with
//                     the variables set.
// kong.yaml keeps its KongPlugin configs whole in a Secret (configFrom.secretKeyRef).
import type { PolicyDoc } from "../policy-file";
import { resourceName } from "./names";
import { planOf } from "../policy-plan";

// The Kubernetes Secret that holds the values for the proxy container's env (Istio).
export function secretsName(p: PolicyDoc): string {
  return resourceName(p.metadata.name, "secrets");
}

export interface SecretRef {
  field: string;   // the policy's field path (experiment.override.secret, faults[0].control.secret)
  env: string;     // the environment variable (TANDEM_<POLICY>_OVERRIDE_SECRET)
  ref: string;     // "{vault://env/tandem-<policy>-override-secret}"
  value: string;   // the secret (goes into a Kubernetes Secret only)
}

function refOf(p: PolicyDoc, field: string, what: string, value: string): SecretRef {
  const name = `tandem-${p.metadata.name}-${what}`;
  return { field, env: name.toUpperCase().replaceAll("-", "_"), ref: `{vault://env/${name}}`, value };
}

// The policy's secrets as the core's plan lists them (wasm/core/plan-deploy.ts).
export function secretRefs(p: PolicyDoc): SecretRef[] {
  return planOf(p).secrets.map((s) => refOf(p, s.field, s.name, s.value));
}

type Obj = Record<string, unknown>;
const isObj = (x: unknown): x is Obj => x !== null && typeof x === "object" && !Array.isArray(x);

function withSecret(o: unknown, ref: string | undefined): unknown {
  return ref !== undefined && isObj(o) && typeof o.secret === "string" ? { ...o, secret: ref } : o;
}

/**
 * A plugin config with its secrets replaced by references: the experiment's
 * override.secret (in the experiment plugin's config, or under `experiment` in the
 * fault-injection plugin's) and faults[i].control.secret. The refs used, in order.
 */
export function withSecretRefs(config: Obj, refs: SecretRef[]): { config: Obj; used: SecretRef[] } {
  const by = new Map(refs.map((r) => [r.field, r]));
  const used = new Set<SecretRef>();
  const take = (field: string) => { const r = by.get(field); if (r) used.add(r); return r?.ref; };
  const experiment = (e: Obj): Obj => (isObj(e.override) && typeof e.override.secret === "string" ? { ...e, override: withSecret(e.override, take("experiment.override.secret")) } : e);
  let out: Obj = experiment(config);
  if (isObj(out.experiment)) out = { ...out, experiment: experiment(out.experiment) };
  if (Array.isArray(out.faults)) {
    out = { ...out, faults: out.faults.map((f, i) => (isObj(f) && isObj(f.control) && typeof f.control.secret === "string" ? { ...f, control: withSecret(f.control, take(`faults[${i}].control.secret`)) } : f)) };
  }
  return { config: out, used: refs.filter((r) => used.has(r)) };
}
