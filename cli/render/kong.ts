// Kong output of `tandem render`:
//   kong.yaml         Kong Ingress Controller manifests: one KongPlugin per plugin
//                     (top-level `plugin` and `config`, KIC's configuration.konghq.com/v1
//                     schema), a Secret holding the config when it carries the override
//                     secret (the KongPlugin reads it with configFrom.secretKeyRef), and the
//                     konghq.com/plugins annotation line that enables them.
//   kong-dbless.yaml  a DB-less declarative config (decK format 3.0) for a local Kong: one
//                     Service and route, one Upstream per variant upstream, the plugins.
// Variant upstreams are renamed to their Kong Upstream names (./targets.ts); the configs
// are otherwise the plan's Kong copies, which the simulator runs (cli/policy-plan.ts).
import { secretRefs, withSecretRefs } from "./secret-refs";
import type { PolicyDoc } from "../policy-file";
import { kongCacheConfig, kongPartConfig, partEnabled } from "../policy-plan";
import { resourceName } from "./names";
import { GRPC_ROUTE_HEADERS } from "../../sim/kong/grpc";
import { targetOf, type Targets } from "./targets";
import { kicServiceAnnotations, kongHealthchecks, kongService, resilienceOf } from "./resilience";

// grpc (render --grpc): the route also carries gRPC. Kong proxies gRPC only through a
// Service with protocol grpc (`grpc_pass`, HTTP/2 upstream; an http Service would send the
// calls upstream as HTTP/1.1, which gRPC servers refuse) and a route with protocols
// grpc/grpcs, which takes HTTP/2 clients only: render adds that pair beside the HTTP one,
// the route matching gRPC's content-types, as the Kong simulator's `grpcRoute` does
// (sim/kong/gateway.ts; test/sim/kong-h2.test.ts).
export interface KongOptions { namespace: string; targets: Targets[]; grpc?: boolean }

// enabled: the plan's (wasm/core/plan.ts): false for a fault-injection part that can do
// nothing (no fault enabled, no control header).
export interface KongPart { plugin: "experiment" | "circuit-breaker" | "fallback-cache" | "fault-injection"; name: string; config: Record<string, unknown>; secret: boolean; enabled: boolean }

// The key of the Secret that holds a plugin's whole config (KIC reads it as JSON).
export const SECRET_KEY = "config";

function renameUpstreams(c: Record<string, unknown>, ts: Targets[]): Record<string, unknown> {
  const kong = (n: unknown) => (typeof n === "string" ? targetOf(ts, n).kong : n);
  const out: Record<string, unknown> = { ...c };
  if (Array.isArray(c.variants)) out.variants = c.variants.map((v) => (v && typeof v === "object" && "upstream" in v ? { ...v, upstream: kong((v as { upstream: unknown }).upstream) } : v));
  if (c.variantUpstreams) out.variantUpstreams = Object.fromEntries(Object.entries(c.variantUpstreams as Record<string, string>).map(([k, v]) => [k, kong(v)]));
  const item = (fb: { reroute?: { upstream?: unknown } }) =>
    fb?.reroute && typeof fb.reroute.upstream === "string" ? { ...fb, reroute: { ...fb.reroute, upstream: kong(fb.reroute.upstream) } } : fb;
  if (c.fallback && typeof c.fallback === "object") out.fallback = item(c.fallback as { reroute?: { upstream?: unknown } });
  if (Array.isArray(c.fallbacks)) out.fallbacks = c.fallbacks.map(item);
  return out;
}

export function kongParts(p: PolicyDoc, ts: Targets[]): KongPart[] {
  const out: KongPart[] = [];
  const ex = kongPartConfig(p, "experiment");
  if (ex) {
    const secret = typeof (ex.override as { secret?: unknown } | undefined)?.secret === "string";
    out.push({ plugin: "experiment", name: resourceName(p.metadata.name, "experiment"), config: renameUpstreams(ex, ts), secret, enabled: true });
  }
  const cb = kongPartConfig(p, "circuit-breaker");
  if (cb) out.push({ plugin: "circuit-breaker", name: resourceName(p.metadata.name, "circuit-breaker"), config: renameUpstreams(cb, ts), secret: false, enabled: true });
  // fallback-cache: opt-in, buffers the route's responses (docs/performance.md); emitted
  // only when spec.fallback has a cache, with the breaker's config.
  const cc = kongCacheConfig(p);
  if (cc) out.push({ plugin: "fallback-cache", name: resourceName(p.metadata.name, "fallback-cache"), config: renameUpstreams(cc, ts), secret: false, enabled: true });
  // fault-injection: spec.faults with the experiment it targets (its upstreams renamed as in
  // the experiment plugin's copy); a Secret when a fault's control.secret or the
  // experiment's override.secret rides along.
  const fc = kongPartConfig(p, "fault-injection");
  if (fc) {
    const config = fc.experiment ? { ...fc, experiment: renameUpstreams(fc.experiment as Record<string, unknown>, ts) } : fc;
    out.push({ plugin: "fault-injection", name: resourceName(p.metadata.name, "fault-injection"), config, secret: secretRefs(p).length > 0, enabled: partEnabled(p, "fault-injection") });
  }
  return out;
}

export function renderKongIngress(p: PolicyDoc, o: KongOptions): { header: string; docs: object[] } {
  const docs: object[] = [];
  const parts = kongParts(p, o.targets);
  for (const part of parts) {
    const metadata = { name: part.name, namespace: o.namespace, annotations: { "kubernetes.io/ingress.class": "kong" } };
    // A part that can do nothing (every fault off) goes out `disabled: true`, which KIC
    // turns into the plugin entity's `enabled = false`: Kong then never runs it
    // (plugins_iterator.lua), saving the plugin-server round trip (HandleEvent) each
    // request would cost. The config stays, so switching a fault on is this one field.
    const disabled = part.enabled ? {} : { disabled: true };
    if (part.secret) {
      const secretName = resourceName(part.name, "config");
      docs.push({
        apiVersion: "v1", kind: "Secret", type: "Opaque",
        metadata: { name: secretName, namespace: o.namespace },
        stringData: { [SECRET_KEY]: JSON.stringify(part.config) },
      });
      docs.push({ apiVersion: "configuration.konghq.com/v1", kind: "KongPlugin", metadata, ...disabled, plugin: part.plugin, configFrom: { secretKeyRef: { name: secretName, key: SECRET_KEY } } });
    } else {
      docs.push({ apiVersion: "configuration.konghq.com/v1", kind: "KongPlugin", metadata, ...disabled, plugin: part.plugin, config: part.config });
    }
  }
  // Retries, timeouts and passive health checks are settings of Kong's Service and
  // Upstream, which KIC takes from annotations on the Kubernetes Services (and a
  // KongUpstreamPolicy they name).
  const res = resilienceOf(p);
  const annotations: Record<string, string> = parts.length > 0 ? { "konghq.com/plugins": parts.map((x) => x.name).join(",") } : {};
  const hc = kongHealthchecks(res, true);
  if (hc) {
    const name = resourceName(p.metadata.name, "upstream");
    docs.push({ apiVersion: "configuration.konghq.com/v1beta1", kind: "KongUpstreamPolicy", metadata: { name, namespace: o.namespace }, spec: { healthchecks: hc } });
  }
  const perService: Record<string, string> = { ...kicServiceAnnotations(res), ...(hc ? { "konghq.com/upstream-policy": resourceName(p.metadata.name, "upstream") } : {}) };
  const header = [
    "# Kong Ingress Controller: apply, then annotate the Service (or Ingress / HTTPRoute)",
    "# that routes to the experiment's upstreams:",
    ...Object.entries(annotations).map(([k, v]) => `#   ${k}: ${JSON.stringify(v)}`),
    ...(Object.keys(perService).length === 0 ? [] : [
      "# and every Service behind a variant's Upstream:",
      ...Object.entries(perService).map(([k, v]) => `#   ${k}: ${JSON.stringify(v)}`),
    ]),
    ...(o.grpc ? [
      "# gRPC (--grpc): the Service of the gRPC backends and the route to them also need",
      "#   konghq.com/protocol: \"grpc\"       (on the Service: Kong calls it over HTTP/2)",
      "#   konghq.com/protocols: \"grpc,grpcs\" (on the Ingress / HTTPRoute)",
      "# and Kong's proxy_listen the http2 flag (KONG_PROXY_LISTEN=\"0.0.0.0:8000 http2\").",
    ] : []),
  ].join("\n") + "\n";
  return { header, docs };
}

// decK / DB-less: kong.conf `declarative_config`. The Service's host is the first variant's
// Upstream, so a request the experiment leaves alone goes there.
export function renderKongDbless(p: PolicyDoc, o: KongOptions): object {
  const parts = kongParts(p, o.targets);
  const refs = secretRefs(p);
  const res = resilienceOf(p);
  const hc = kongHealthchecks(res, false);
  const first = o.targets[0];
  const name = resourceName(p.metadata.name, "");
  const service = (serviceName: string, protocol: "http" | "grpc", route: Record<string, unknown>) => ({
    name: serviceName,
    host: first ? first.kong : name,
    port: first ? first.port : 80,
    protocol,
    ...kongService(res),
    routes: [{ name: serviceName, ...route }],
    // secrets as env-vault references, which Kong resolves (./secret-refs.ts)
    // (a part that can do nothing: the entity's `enabled: false`, as in kong.yaml above)
    plugins: parts.map((x) => ({ name: x.plugin, ...(x.enabled ? {} : { enabled: false }), config: withSecretRefs(x.config, refs).config })),
  });
  const grpcName = resourceName(p.metadata.name, "grpc");
  return {
    _format_version: "3.0",
    services: [
      service(name, "http", { paths: ["/"] }),
      // a route with headers outranks one without: gRPC calls take this one
      ...(o.grpc ? [service(grpcName, "grpc", { paths: ["/"], protocols: ["grpc", "grpcs"], headers: { "content-type": [...GRPC_ROUTE_HEADERS] } })] : []),
    ],
    upstreams: o.targets.map((t) => ({ name: t.kong, ...(hc ? { healthchecks: hc } : {}), targets: [{ target: `${t.host}:${t.port}` }] })),
  };
}
