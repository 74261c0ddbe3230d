// One policy, every gateway's names (issue 9.9). A variant's `upstream` (and a
// `fallback.reroute.upstream`) is a gateway-neutral name; each gateway needs its own:
//   Kong   the Upstream `kong.service.set_upstream` selects. The Kong Ingress Controller
//          names the Upstream of a Service port `<service>.<namespace>.<port>.svc`.
//   Istio  a DestinationRule subset: a DNS-1123 label, selecting pods by a label.
//   Envoy  a static cluster with the backend's address.
// Without `spec.upstreams` every gateway uses the neutral name itself (Istio: subset = the
// name, pods labelled `<subsetLabel>: <name>`). `spec.upstreams.<name>` sets them apart;
// the core validates that section (wasm/core/config/upstreams.ts), render only reads it.
import { planOf, rerouteOf } from "../policy-plan";
import type { PolicyDoc } from "../policy-file";
import { VARIANT_HEADER } from "../../core-js/tandem-core";

export interface Targets {
  name: string;                         // the neutral name, as the policy writes it
  kong: string;                         // Kong Upstream name
  subset: string;                       // Istio subset name
  labels: Record<string, string>;       // the pod labels the subset selects
  host: string; port: number;           // the backend for Envoy clusters and Kong DB-less targets
}

interface Variant { name: string; upstream?: string }

export function variantsOf(p: PolicyDoc): Variant[] {
  return planOf(p).variants.map((v) => (v.upstream !== null ? { name: v.name, upstream: v.upstream } : { name: v.name }));
}

// The header the experiment sets (lowercase): experiment.variantHeader, else x-tandem-variant.
export function variantHeaderOf(p: PolicyDoc): string {
  return planOf(p).variantHeader ?? VARIANT_HEADER;
}

export function rerouteUpstream(p: PolicyDoc): string | null {
  return rerouteOf(p)?.upstream ?? null;
}

// Every upstream the policy routes to, in order of first mention (variants, then the
// reroute target), with its per-gateway names.
// (The names and their defaults are the core's plan: wasm/core/plan-deploy.ts; only the
// pod labels' default depends on render's --subset-label.)
export function upstreamTargets(p: PolicyDoc, subsetLabel: string): Targets[] {
  return planOf(p).upstreams.map((t) => ({ ...t, labels: t.labels ?? { [subsetLabel]: t.subset } }));
}

export function targetOf(ts: Targets[], name: string): Targets {
  const t = ts.find((x) => x.name === name);
  if (!t) throw new Error(`no targets for upstream ${name}`);
  return t;
}
