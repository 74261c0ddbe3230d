// Gateway API output of `tandem render --gateway-api <ns>/<name>`: one HTTPRoute
// (gateway.networking.k8s.io/v1, standard channel) per policy, attached to that Gateway, for
// Istio and for the Kong Ingress Controller. Rules, as in the VirtualService:
//   the reroute header (x-tandem-upstream: <upstream>, set by the circuit-breaker filter on a
//   `fallback.reroute.upstream`) -> that upstream's Service; the variant header
//   (<variantHeader>: <variant>) -> the variant's Service; no match -> the first variant's.
// Gateway API has no subsets: each upstream is its own Service (backendRefs name a Service and
// a port). render takes it from the upstream's KIC Upstream name when that has KIC's form
// `<service>.<namespace>.<port>.svc` (spec.upstreams.<n>.kong), else a Service named after
// the upstream on the port of spec.upstreams.<n>.address (default 80).
// Rule order matters: Gateway API ranks rules by their matches (a header match beats none)
// and, at a tie within one route, by their order; the reroute rule comes first as in the
// VirtualService.
import type { PolicyDoc } from "../policy-file";
import { UPSTREAM_HEADER } from "../../core-js/tandem-core";
import { RenderRefusal, isDnsLabel, isDnsSubdomain, requireLabel, resourceName } from "./names";
import { targetOf, variantHeaderOf, variantsOf, rerouteUpstream, type Targets } from "./targets";
import type { Resilience } from "./resilience";
import { rerouteOf } from "../policy-plan";

export const GATEWAY_GROUP = "gateway.networking.k8s.io";

export interface GatewayRef { namespace: string; name: string }

export interface HttpRouteOptions {
  namespace: string;                         // the HTTPRoute's namespace
  gateway: GatewayRef;                       // parentRefs
  hosts: string[];                           // hostnames ("*" = none: every host the listener takes)
  service: string;                           // the default Service's host when no variant has an upstream
  targets: Targets[];
  annotations?: Record<string, string>;      // KIC: konghq.com/plugins
  resilience?: Resilience;                   // Istio: timeouts (KIC takes them from Service annotations)
}

export interface BackendService { name: string; namespace: string; port: number }

const KIC_UPSTREAM = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.([0-9]{1,5})\.svc$/;

// The Service behind one upstream; refuses, naming the field, when none can be named.
export function backendService(p: PolicyDoc, t: Targets, namespace: string): BackendService {
  const m = KIC_UPSTREAM.exec(t.kong);
  if (m && Number(m[5]) >= 1 && Number(m[5]) <= 65535) return { name: m[1], namespace: m[3], port: Number(m[5]) };
  const i = variantsOf(p).findIndex((v) => v.upstream === t.name);
  const where = i >= 0 ? `experiment.variants[${i}].upstream` : rerouteOf(p)?.path ?? "fallback.reroute.upstream";
  requireLabel(where, t.name, ` to name a Kubernetes Service for a Gateway API backendRef (or set spec.upstreams.${t.name}.kong to <service>.<namespace>.<port>.svc)`);
  return { name: t.name, namespace, port: t.port };
}

// The Service of --service (<name>[.<namespace>[.svc.cluster.local]]), port 80.
export function defaultService(service: string, namespace: string): BackendService {
  const [name, ns] = service.split(".");
  if (!isDnsLabel(name)) throw new RenderRefusal(`--service: a Gateway API backendRef needs a Service name (<name>.<namespace>.svc.cluster.local), got ${JSON.stringify(service)}`);
  return { name, namespace: ns ?? namespace, port: 80 };
}

// Gateway API durations: up to four <1-5 digits><h|m|s|ms> parts, no fractions.
export function gatewayDuration(ms: number): string {
  const s = Math.floor(ms / 1000), rest = ms % 1000;
  return ms === 0 ? "0s" : `${s > 0 ? `${s}s` : ""}${rest > 0 ? `${rest}ms` : ""}`;
}

export function renderHttpRoute(p: PolicyDoc, o: HttpRouteOptions): object {
  const header = variantHeaderOf(p);
  const ref = (b: BackendService) => ({ name: b.name, ...(b.namespace === o.namespace ? {} : { namespace: b.namespace }), port: b.port });
  const backend = (upstream: string) => [ref(backendService(p, targetOf(o.targets, upstream), o.namespace))];
  const r = o.resilience ?? {};
  const timeouts = r.timeoutMs === undefined && r.retries?.perTryTimeoutMs === undefined ? {} : {
    timeouts: {
      ...(r.timeoutMs === undefined ? {} : { request: gatewayDuration(r.timeoutMs) }),
      ...(r.retries?.perTryTimeoutMs === undefined ? {} : { backendRequest: gatewayDuration(r.retries.perTryTimeoutMs) }),
    },
  };
  const named = (name: string) => (isDnsSubdomain(name) && name.length <= 253 ? { name } : {});
  const variants = variantsOf(p);
  const reroute = rerouteUpstream(p);
  const first = variants.find((v) => v.upstream)?.upstream;
  const rules = [
    ...(reroute === null ? [] : [{ name: "breaker-reroute", matches: [{ headers: [{ type: "Exact", name: UPSTREAM_HEADER, value: reroute }] }], backendRefs: backend(reroute), ...timeouts }]),
    ...variants.filter((v) => v.upstream).map((v) => ({
      ...named(`variant-${v.name}`),
      matches: [{ headers: [{ type: "Exact", name: header, value: v.name }] }],
      backendRefs: backend(v.upstream!),
      ...timeouts,
    })),
    { name: "default", backendRefs: first ? backend(first) : [ref(defaultService(o.service, o.namespace))], ...timeouts },
  ];
  if (rules.length > 16) throw new RenderRefusal(`experiment.variants: an HTTPRoute holds at most 16 rules, this policy needs ${rules.length}`);
  const hostnames = o.hosts.filter((h) => h !== "*");
  for (const h of hostnames) {
    if (!(h.startsWith("*.") ? isDnsSubdomain(h.slice(2)) : isDnsSubdomain(h))) throw new RenderRefusal(`--host: an HTTPRoute hostname is a DNS-1123 subdomain, optionally after "*.", got ${JSON.stringify(h)}`);
  }
  return {
    apiVersion: `${GATEWAY_GROUP}/v1`,
    kind: "HTTPRoute",
    metadata: { name: resourceName(p.metadata.name, ""), namespace: o.namespace, ...(o.annotations && Object.keys(o.annotations).length > 0 ? { annotations: o.annotations } : {}) },
    spec: {
      parentRefs: [{ group: GATEWAY_GROUP, kind: "Gateway", ...(o.gateway.namespace === o.namespace ? {} : { namespace: o.gateway.namespace }), name: o.gateway.name }],
      ...(hostnames.length > 0 ? { hostnames } : {}),
      rules,
    },
  };
}

// Backends in another namespace than the route need a ReferenceGrant there.
export function crossNamespaceBackends(route: object): string[] {
  const spec = (route as { metadata: { namespace: string }; spec: { rules: Array<{ backendRefs: Array<{ name: string; namespace?: string }> }> } });
  return [...new Set(spec.spec.rules.flatMap((r) => r.backendRefs).filter((b) => b.namespace !== undefined).map((b) => `${b.namespace}/${b.name}`))];
}
