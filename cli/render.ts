// `tandem render <policy>`: the Kong and Istio manifests for one TrafficPolicy.
//   Kong:  KongPlugin per policy part (config = the spec section, verbatim; the
//          experiment's carries spec.experiments as `experiments`), to be
//          enabled with the konghq.com/plugins annotation on the Service or route.
//   Istio: WasmPlugin per policy part (pluginName = root id, pluginConfig = the spec
//          section), plus a VirtualService and DestinationRule that route on the
//          variant header to one subset per upstream.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { stringify } from "yaml";
import { loadPolicy } from "./validate";
import type { PolicyDoc } from "./policy-file";
import { UsageError } from "./usage-error";

export interface RenderOptions {
  namespace: string;
  image: string;          // OCI image holding tandem.wasm
  service: string;        // Kubernetes service host the experiment splits
  selector: Record<string, string>;
}

export const DEFAULT_IMAGE = "oci://ghcr.io/tandem-dev/tandem:0.1.0";
const VARIANT_HEADER = "x-tandem-variant";
// The header the circuit-breaker filter sets for a `fallback.reroute.upstream`.
const REROUTE_HEADER = "x-tandem-upstream";

interface Part { plugin: "experiment" | "circuit-breaker"; config: Record<string, unknown> }

// The `circuit-breaker` plugin / root id config: the circuitBreaker fields plus
// `fallback`, or null when the policy has neither. The same on both gateways.
export function breakerConfig(p: PolicyDoc): Record<string, unknown> | null {
  if (!p.spec.circuitBreaker && !p.spec.fallback) return null;
  return { ...(p.spec.circuitBreaker ?? {}), ...(p.spec.fallback ? { fallback: p.spec.fallback } : {}) };
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
export function experimentConfig(p: PolicyDoc): Record<string, unknown> | null {
  if (!p.spec.experiment) return null;
  return { ...p.spec.experiment, ...(p.spec.experiments ? { experiments: p.spec.experiments } : {}) };
}

// Experiment variant -> its upstream, for the variants that name one.
export function variantUpstreams(p: PolicyDoc): Record<string, string> {
  const ex = p.spec.experiment as { variants?: Array<{ name?: unknown; upstream?: unknown }> } | undefined;
  const out: Record<string, string> = {};
  for (const v of ex?.variants ?? []) if (typeof v.name === "string" && typeof v.upstream === "string") out[v.name] = v.upstream;
  return out;
}

function parts(p: PolicyDoc, gateway: "kong" | "istio"): Part[] {
  const out: Part[] = [];
  const ex = experimentConfig(p);
  if (ex) {
    out.push({ plugin: "experiment", config: gateway === "kong" ? kongExperimentConfig(ex) : ex });
  }
  const cb = gateway === "kong" ? kongBreakerConfig(p) : breakerConfig(p);
  if (cb) out.push({ plugin: "circuit-breaker", config: cb });
  return out;
}

export function renderKong(p: PolicyDoc, o: RenderOptions): object[] {
  const docs: object[] = parts(p, "kong").map((part) => ({
    apiVersion: "configuration.konghq.com/v1",
    kind: "KongPlugin",
    metadata: {
      name: `${p.metadata.name}-${part.plugin}`,
      namespace: o.namespace,
      annotations: { "kubernetes.io/ingress.class": "kong" },
    },
    plugin: part.plugin,
    config: part.config,
  }));
  return docs;
}

export function renderIstio(p: PolicyDoc, o: RenderOptions): object[] {
  const docs: object[] = parts(p, "istio").map((part, i) => ({
    apiVersion: "extensions.istio.io/v1alpha1",
    kind: "WasmPlugin",
    metadata: { name: `${p.metadata.name}-${part.plugin}`, namespace: o.namespace },
    spec: {
      selector: { matchLabels: o.selector },
      url: o.image,
      pluginName: part.plugin,
      // Before the router, after authentication; the experiment before the breaker.
      phase: "AUTHZ",
      priority: 100 - i * 10,
      // A broken module must not take the route down with it.
      failStrategy: "FAIL_OPEN",
      type: "HTTP",
      pluginConfig: part.config,
    },
  }));
  const ex = p.spec.experiment as { variantHeader?: string; variants?: Array<{ name: string; upstream?: string }> } | undefined;
  // A `fallback.reroute.upstream` sets x-tandem-upstream on rejected calls (the
  // circuit-breaker filter); a route on that header, first, sends them there.
  const reroute = (p.spec.fallback as { reroute?: { upstream?: unknown } } | undefined)?.reroute?.upstream;
  const rerouteTo = typeof reroute === "string" ? reroute : null;
  const rerouteRoute = rerouteTo === null ? [] : [{
    name: "breaker-reroute",
    match: [{ headers: { [REROUTE_HEADER]: { exact: rerouteTo } } }],
    route: [{ destination: { host: o.service, subset: rerouteTo } }],
  }];
  if (ex?.variants || rerouteTo !== null) {
    const variants = ex?.variants ?? [];
    const header = (ex?.variantHeader ?? VARIANT_HEADER).toLowerCase();
    const subsets = [...new Set([...variants.map((v) => v.upstream ?? v.name), ...(rerouteTo === null ? [] : [rerouteTo])])];
    docs.push({
      apiVersion: "networking.istio.io/v1",
      kind: "VirtualService",
      metadata: { name: p.metadata.name, namespace: o.namespace },
      spec: {
        hosts: [o.service],
        http: [
          ...rerouteRoute,
          ...variants.map((v) => ({
            name: `variant-${v.name}`,
            match: [{ headers: { [header]: { exact: v.name } } }],
            route: [{ destination: { host: o.service, subset: v.upstream ?? v.name } }],
          })),
          // No variant header (out of the experiment's scope): the first variant.
          variants.length > 0
            ? { name: "default", route: [{ destination: { host: o.service, subset: variants[0].upstream ?? variants[0].name } }] }
            : { name: "default", route: [{ destination: { host: o.service } }] },
        ],
      },
    });
    docs.push({
      apiVersion: "networking.istio.io/v1",
      kind: "DestinationRule",
      metadata: { name: p.metadata.name, namespace: o.namespace },
      spec: { host: o.service, subsets: subsets.map((s) => ({ name: s, labels: { version: s } })) },
    });
  }
  return docs;
}

export function toYaml(docs: object[]): string {
  return docs.map((d) => stringify(d, { lineWidth: 0 })).join("---\n");
}

export function renderCommand(args: string[]): number {
  const { values, positionals } = parseArgs({
    args, allowPositionals: true,
    options: {
      out: { type: "string" }, namespace: { type: "string", default: "default" },
      image: { type: "string", default: DEFAULT_IMAGE }, service: { type: "string" },
      selector: { type: "string", default: "istio=ingressgateway" },
    },
  });
  if (positionals.length !== 1) throw new UsageError("render takes one policy file");
  const pairs = values.selector!.split(",").map((kv) => kv.split("="));
  if (pairs.some((kv) => kv.length !== 2 || kv[0] === "" || kv[1] === "")) throw new UsageError(`--selector takes label=value[,label=value...], got ${JSON.stringify(values.selector)}`);
  const policy = loadPolicy(positionals[0]);
  const selector = Object.fromEntries(pairs as Array<[string, string]>);
  const o: RenderOptions = {
    namespace: values.namespace!, image: values.image!, selector,
    service: values.service ?? `${policy.metadata.name}.${values.namespace}.svc.cluster.local`,
  };
  const kong = toYaml(renderKong(policy, o));
  const istio = toYaml(renderIstio(policy, o));
  if (values.out) {
    mkdirSync(values.out, { recursive: true });
    writeFileSync(join(values.out, "kong.yaml"), kong);
    writeFileSync(join(values.out, "istio.yaml"), istio);
    process.stdout.write(`wrote ${join(values.out, "kong.yaml")} and ${join(values.out, "istio.yaml")}\n`);
  } else {
    process.stdout.write(`# --- Kong ---\n${kong}---\n# --- Istio ---\n${istio}`);
  }
  return 0;
}
