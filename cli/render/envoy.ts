// Envoy output of `tandem render`: a static envoy.yaml for a local Envoy (deploy/envoy/
// compose.yaml mounts it): one listener on :10000, one envoy.filters.http.wasm per policy
// part (root ids `experiment`, then `circuit-breaker`, then `fault-injection`, sharing one vm_id), the router, and
// routes chosen after the filters ran: the reroute header first, then the variant header,
// then the first variant's upstream. One STRICT_DNS cluster per upstream (its
// spec.upstreams address, else <name>:80).
import { secretRefs, withSecretRefs, type SecretRef } from "./secret-refs";
import type { PolicyDoc } from "../policy-file";
import { partConfig } from "../policy-plan";
import { resourceName } from "./names";
import { REROUTE_HEADER } from "./istio";
import { rerouteUpstream, variantHeaderOf, variantsOf, type Targets } from "./targets";
import { envoyCluster, envoyRoute, resilienceOf } from "./resilience";
import { tandemStatsConfig } from "./envoy-stats";

export const ENVOY_MODULE = "/etc/envoy/tandem.wasm";
export const ENVOY_PORT = 10000;
export const ENVOY_ADMIN_PORT = 9901;

export const ENVOY_HEADER = [
  "# A local Envoy for this policy (tandem render --target envoy): listener :10000, admin :9901,",
  "# the tandem filter(s) before the router, routes on the headers the filters set. The module",
  `# is mounted at ${ENVOY_MODULE} (deploy/envoy/compose.yaml).`,
].join("\n") + "\n";

function wasmFilter(rootId: string, config: Record<string, unknown>, refs: SecretRef[]): object {
  // Secrets come from Envoy's environment (./secret-refs.ts); every filter lists them all
  // (they share one VM, and a VM's environment is that of the filter that created it).
  const env = refs.length > 0 ? { environment_variables: { host_env_keys: refs.map((r) => r.env) } } : {};
  return {
    name: "envoy.filters.http.wasm",
    typed_config: {
      "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
      config: {
        name: `tandem-${rootId}`,
        root_id: rootId,
        // Shared data is per vm_id (keys are prefixed anyway); one VM serves both root ids.
        vm_config: { vm_id: "tandem", runtime: "envoy.wasm.runtime.v8", code: { local: { filename: ENVOY_MODULE } }, ...env },
        configuration: { "@type": "type.googleapis.com/google.protobuf.StringValue", value: JSON.stringify(withSecretRefs(config, refs).config, null, 2) + "\n" },
        // A broken module passes traffic instead of failing it.
        fail_open: true,
      },
    },
  };
}

function cluster(name: string, host: string, port: number, extra: Record<string, unknown>): object {
  return {
    name,
    type: "STRICT_DNS",
    // each cluster its own copy: one object shared by all would be written as a YAML anchor
    ...structuredClone(extra),
    load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: host, port_value: port } } } }] }] },
  };
}

export function renderEnvoy(p: PolicyDoc, targets: Targets[]): object {
  const filters: object[] = [];
  const refs = secretRefs(p);
  const ex = partConfig(p, "experiment");
  if (ex) filters.push(wasmFilter("experiment", ex, refs));
  const cb = partConfig(p, "circuit-breaker");
  if (cb) filters.push(wasmFilter("circuit-breaker", cb, refs));
  const fc = partConfig(p, "fault-injection");
  if (fc) filters.push(wasmFilter("fault-injection", fc, refs));
  filters.push({ name: "envoy.filters.http.router", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" } });

  const variants = variantsOf(p);
  const header = variantHeaderOf(p);
  const reroute = rerouteUpstream(p);
  const service = resourceName(p.metadata.name, "");
  const fallbackCluster = variants[0]?.upstream ?? service;
  const res = resilienceOf(p);
  const perRoute = envoyRoute(res);
  const perCluster = envoyCluster(res);
  const routeOn = (name: string, value: string, clusterName: string) => ({ match: { prefix: "/", headers: [{ name, string_match: { exact: value } }] }, route: { cluster: clusterName, ...perRoute } });
  const routes = [
    ...(reroute === null ? [] : [routeOn(REROUTE_HEADER, reroute, reroute)]),
    ...variants.filter((v) => v.upstream).map((v) => routeOn(header, v.name, v.upstream!)),
    { match: { prefix: "/" }, route: { cluster: fallbackCluster, ...perRoute } },
  ];
  const clusters = targets.map((t) => cluster(t.name, t.host, t.port, perCluster));
  if (!targets.some((t) => t.name === fallbackCluster)) clusters.push(cluster(service, service, 80, perCluster));

  return {
    static_resources: {
      listeners: [{
        name: "main",
        address: { socket_address: { address: "0.0.0.0", port_value: ENVOY_PORT } },
        filter_chains: [{
          filters: [{
            name: "envoy.filters.network.http_connection_manager",
            typed_config: {
              "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
              stat_prefix: "ingress_http",
              route_config: { name: "local_route", virtual_hosts: [{ name: service, domains: ["*"], routes }] },
              http_filters: filters,
              // WebSocket upgrades allowed, as Istio's HCMs allow them (pilot
              // buildHTTPConnectionManager); without it Envoy answers every upgrade 403
              // upgrade_failed (sim/envoy/upgrade.ts).
              upgrade_configs: [{ upgrade_type: "websocket" }],
            },
          }],
        }],
      }],
      clusters,
    },
    admin: { address: { socket_address: { address: "0.0.0.0", port_value: ENVOY_ADMIN_PORT } } },
    // tandem's metrics with real labels on /stats/prometheus (docs/metrics.md)
    stats_config: tandemStatsConfig(),
  };
}
