// Istio output of `tandem render`: a WasmPlugin per policy part, a VirtualService routing
// on the variant header to one DestinationRule subset per variant upstream.
// Where the filter runs decides the binding (issue 11): the filter can only steer routing
// where the route is chosen, so
//   ingress gateway (--gateway <ns>/<name>): the WasmPlugin lives in the gateway's
//     namespace and selects the gateway's pods (a WasmPlugin's selector only matches
//     workloads in its own namespace, unless it is in the root namespace); the
//     VirtualService binds to that gateway (`gateways: [<ns>/<name>]`) for the external hosts;
//   sidecars (no --gateway): the WasmPlugin runs on the calling workloads' sidecars,
//     outbound (`match: [{mode: CLIENT}]`), and the VirtualService binds to `mesh` for the
//     service's host.
//   a Gateway API Gateway (--gateway-api <ns>/<name>): the WasmPlugins live in the
//     Gateway's namespace and attach to it with `targetRefs` (Istio's deployment for a
//     Gateway API Gateway carries no `istio: ingressgateway` label); an HTTPRoute
//     (./gateway-api.ts) replaces the VirtualService, which Istio does not apply to Gateway
//     API gateways; connection limits and outlier detection go into one DestinationRule per
//     backend Service (no subsets: each upstream is its own Service).
import { secretRefs, secretsName, withSecretRefs } from "./secret-refs";
import { rerouteOf } from "../policy-plan";
import type { PolicyDoc } from "../policy-file";
import { partConfig } from "../policy-plan";
import { requireLabel, resourceName } from "./names";
import { targetOf, variantHeaderOf, variantsOf, rerouteUpstream, type Targets } from "./targets";
import { istioRoute, istioTrafficPolicy, resilienceOf } from "./resilience";
import { backendService, defaultService, renderHttpRoute, GATEWAY_GROUP, type GatewayRef } from "./gateway-api";
import { UPSTREAM_HEADER, VARIANT_HEADER } from "../../core-js/tandem-core";

// The headers tandem owns (wasm/core/contract.ts); the circuit-breaker filter sets
// UPSTREAM_HEADER for a `fallback.reroute.upstream`.
export { VARIANT_HEADER };
export const REROUTE_HEADER = UPSTREAM_HEADER;

export interface IstioOptions {
  namespace: string;                         // the VirtualService / DestinationRule namespace
  gateway: { namespace: string; name: string } | null;
  gatewayApi?: GatewayRef | null;           // --gateway-api: a Gateway API Gateway instead
  hosts: string[];                           // VirtualService hosts at a gateway
  service: string;                           // the destination host (a Kubernetes service)
  selector: Record<string, string>;          // the workloads the WasmPlugins attach to ({} with gatewayApi: targetRefs)
  image: string;
  sha256: string | null;
  targets: Targets[];
  extension?: IstioExtension;                // the kind the filter is deployed with (default wasm-plugin)
}

// --istio-extension: `WasmPlugin` (every Istio up to 1.30) or `TrafficExtension` (Istio 1.30,
// extensions.istio.io/v1alpha1, which supersedes WasmPlugin: the same attachment, phase,
// priority and match at the top of `spec`, the module's fields under `spec.wasm`).
export const ISTIO_EXTENSIONS = ["wasm-plugin", "traffic-extension"] as const;
export type IstioExtension = (typeof ISTIO_EXTENSIONS)[number];

export function renderIstio(p: PolicyDoc, o: IstioOptions): object[] {
  const docs: object[] = [];
  const parts: Array<{ plugin: string; config: Record<string, unknown> }> = [];
  const ex = partConfig(p, "experiment");
  if (ex) parts.push({ plugin: "experiment", config: ex });
  const cb = partConfig(p, "circuit-breaker");
  if (cb) parts.push({ plugin: "circuit-breaker", config: cb });
  const fc = partConfig(p, "fault-injection");
  if (fc) parts.push({ plugin: "fault-injection", config: fc });
  // Secrets: references in pluginConfig, the values in a Secret for the proxy's env
  // (./secret-refs.ts). Every part asks for every variable: Envoy keys a Wasm VM by
  // vm_id, vm configuration and code, not by its environment (proxy-wasm-cpp-host
  // makeVmKey), so the part that creates the VM must bring them all.
  const refs = secretRefs(p);
  for (const part of parts) part.config = withSecretRefs(part.config, refs).config;
  const vmConfig = refs.length > 0 ? { vmConfig: { env: refs.map((r) => ({ name: r.env, valueFrom: "HOST" })) } } : {};
  const gw = o.gatewayApi ?? null;
  const pluginNs = gw ? gw.namespace : o.gateway ? o.gateway.namespace : o.namespace;
  const attach = Object.keys(o.selector).length > 0 ? { selector: { matchLabels: o.selector } }
    : gw ? { targetRefs: [{ group: GATEWAY_GROUP, kind: "Gateway", name: gw.name }] } : {};
  parts.forEach((part, i) => {
    const where = {
      ...attach,
      // Before the router, after authentication; the experiment before the breaker, the
      // faults last (they may target the variant the experiment chose).
      phase: "AUTHZ",
      priority: 100 - i * 10,
      ...(o.gateway || gw ? {} : { match: [{ mode: "CLIENT" }] }),
    };
    const module = {
      url: o.image,
      ...(o.sha256 ? { sha256: o.sha256 } : {}),
      pluginName: part.plugin,
      // A broken module must not take the route down with it. Istio >= 1.25 emits this as
      // Envoy's failure_policy FAIL_OPEN (not the legacy fail_open): a worker VM that traps
      // answers 503 to the streams already on it, the trapping one included (cpp-host
      // CHECK_FAIL reads only the legacy flag); later streams on that worker skip tandem
      // until a push replaces the VM (no variant header: the VirtualService's default
      // route; no breaker). Breaker and guard states survive (shared data outlives the VM).
      // FAIL_CLOSE would answer 503 to every later stream too; FAIL_RELOAD fails closed
      // until a reload, which the Envoy harness does not model.
      failStrategy: "FAIL_OPEN",
      type: "HTTP",
    };
    const metadata = { name: resourceName(p.metadata.name, part.plugin), namespace: pluginNs };
    docs.push(o.extension === "traffic-extension"
      ? { apiVersion: "extensions.istio.io/v1alpha1", kind: "TrafficExtension", metadata, spec: { ...where, wasm: { ...module, ...vmConfig, pluginConfig: part.config } } }
      : {
        apiVersion: "extensions.istio.io/v1alpha1", kind: "WasmPlugin", metadata,
        // WasmPlugin's own field order (kept: deploy/istio/*.yaml are byte-compared)
        spec: { ...attach, url: module.url, ...(o.sha256 ? { sha256: o.sha256 } : {}), pluginName: part.plugin, phase: where.phase, priority: where.priority,
          failStrategy: module.failStrategy, type: module.type, ...(o.gateway || gw ? {} : { match: [{ mode: "CLIENT" }] }), ...vmConfig, pluginConfig: part.config },
      });
  });
  if (refs.length > 0) {
    docs.push({
      apiVersion: "v1", kind: "Secret", type: "Opaque",
      metadata: { name: secretsName(p), namespace: pluginNs },
      stringData: Object.fromEntries(refs.map((r) => [r.env, r.value])),
    });
  }

  const variants = variantsOf(p);
  const reroute = rerouteUpstream(p);
  const res = resilienceOf(p);
  const policy = istioTrafficPolicy(res);
  const perRoute = istioRoute(res);
  // A Gateway API Gateway routes nothing without a route: the HTTPRoute always (to --service
  // when no variant names an upstream).
  if (gw) {
    docs.push(renderHttpRoute(p, { namespace: o.namespace, gateway: gw, hosts: o.hosts, service: o.service, targets: o.targets, resilience: res }));
    if (policy !== null) {
      const backends = o.targets.length > 0 ? o.targets.map((t) => backendService(p, t, o.namespace)) : [defaultService(o.service, o.namespace)];
      for (const b of backends) {
        docs.push({
          apiVersion: "networking.istio.io/v1", kind: "DestinationRule",
          metadata: { name: resourceName(p.metadata.name, b.name), namespace: o.namespace },
          spec: { host: `${b.name}.${b.namespace}.svc.cluster.local`, trafficPolicy: policy },
        });
      }
    }
    return docs;
  }
  if (o.targets.length === 0 && policy === null && Object.keys(perRoute).length === 0) return docs;
  const subsetOf = (name: string) => targetOf(o.targets, name).subset;
  const dest = (upstream: string | undefined) => ({ destination: { host: o.service, ...(upstream ? { subset: subsetOf(upstream) } : {}) } });
  const header = variantHeaderOf(p);
  docs.push({
    apiVersion: "networking.istio.io/v1",
    kind: "VirtualService",
    metadata: { name: resourceName(p.metadata.name, ""), namespace: o.namespace },
    spec: {
      hosts: o.gateway ? o.hosts : [o.service],
      gateways: o.gateway ? [`${o.gateway.namespace}/${o.gateway.name}`] : ["mesh"],
      http: [
        // A `fallback.reroute.upstream` sets x-tandem-upstream on rejected calls (the
        // circuit-breaker filter); a route on that header, first, sends them there.
        ...(reroute === null ? [] : [{ name: "breaker-reroute", match: [{ headers: { [REROUTE_HEADER]: { exact: reroute } } }], route: [dest(reroute)], ...perRoute }]),
        ...variants.filter((v) => v.upstream).map((v) => ({
          name: `variant-${v.name}`,
          match: [{ headers: { [header]: { exact: v.name } } }],
          route: [dest(v.upstream)],
          ...perRoute,
        })),
        // No variant header (out of the experiment's scope), or a variant without an
        // upstream: the first variant's upstream, else the service.
        { name: "default", route: [dest(variants[0]?.upstream)], ...perRoute },
      ],
    },
  });
  docs.push({
    apiVersion: "networking.istio.io/v1",
    kind: "DestinationRule",
    metadata: { name: resourceName(p.metadata.name, ""), namespace: o.namespace },
    spec: {
      host: o.service,
      // Connection limits and outlier detection apply to every subset.
      ...(policy === null ? {} : { trafficPolicy: policy }),
      ...(o.targets.length === 0 ? {} : { subsets: o.targets.map((t) => ({ name: t.subset, labels: t.labels })) }),
    },
  });
  return docs;
}

// Subset names are DNS-1123 labels (Istio validateSubset); refuse before writing, naming
// where the name came from and how to give Istio its own.
export function checkIstioNames(p: PolicyDoc, o: IstioOptions): void {
  const variants = variantsOf(p);
  for (const t of o.targets) {
    if (t.subset !== t.name) { requireLabel(`upstreams.${t.name}.istio.subset`, t.subset); continue; }
    const i = variants.findIndex((v) => v.upstream === t.name);
    const where = i >= 0 ? `experiment.variants[${i}].upstream` : rerouteOf(p)?.path ?? "fallback.reroute.upstream";
    requireLabel(where, t.name, ` to name an Istio subset (or set spec.upstreams.${t.name}.istio.subset)`);
  }
}
