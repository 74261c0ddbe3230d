// deploy/prometheus/prometheus.yaml with its Kubernetes service discovery replaced by static
// targets that carry the same `__meta_kubernetes_*` labels a pod or endpoint would get: Debian's
// prometheus and promtool (the package CI installs) are built without Kubernetes discovery,
// and a test has no cluster. The jobs' relabel_configs and metric_relabel_configs stay as
// written, so they are what decides each target's address, path and `gateway` label.
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { SCRAPE_FILE } from "./deploy-queries";

type Obj = Record<string, any>;

/** one pod's meta labels (without the __meta_kubernetes_ prefix) and the address discovery gives it */
export interface FakePod { address: string; meta: Record<string, string> }

export function scrapeConfigWithPods(pods: Record<string, FakePod[]>, opts: { keepJobs?: string[]; global?: Obj; ruleFiles?: string[] } = {}): Obj {
  const cfg = parse(readFileSync(SCRAPE_FILE, "utf8")) as Obj;
  const jobs: Obj[] = [];
  for (const job of cfg.scrape_configs as Obj[]) {
    if (opts.keepJobs && !opts.keepJobs.includes(job.job_name)) continue;
    if (job.kubernetes_sd_configs) {
      const { kubernetes_sd_configs: _sd, ...rest } = job;
      const list = pods[job.job_name] ?? [];
      if (list.length === 0 && opts.keepJobs) throw new Error(`no pods for ${job.job_name}`);
      jobs.push({
        ...rest,
        static_configs: list.map((p) => ({
          targets: [p.address],
          labels: Object.fromEntries(Object.entries(p.meta).map(([k, v]) => [`__meta_kubernetes_${k}`, v])),
        })),
      });
    } else jobs.push(job);
  }
  return { ...cfg, global: { ...cfg.global, ...opts.global }, rule_files: opts.ruleFiles ?? cfg.rule_files, scrape_configs: jobs };
}

/** the meta labels of one endpoint of deploy/kong/metrics-service.yaml (a plugin server's port) and of an Istio proxy */
export const kongEndpoint = (address: string, portName: string): FakePod => ({
  address, meta: { namespace: "kong", service_name: "kong-tandem-metrics", pod_name: "kong-7d9f", endpoint_port_name: portName },
});
export const istioPod = (address: string, annotationPort: string | null): FakePod => ({
  // discovery gives the declared port (15090, http-envoy-prom); the annotation moves it
  address,
  meta: {
    namespace: "shop", pod_name: "checkout-v1-5c4b", pod_container_name: "istio-proxy", pod_container_port_name: "http-envoy-prom",
    ...(annotationPort === null ? {} : { pod_annotation_prometheus_io_scrape: "true", pod_annotation_prometheus_io_port: annotationPort, pod_annotation_prometheus_io_path: "/stats/prometheus" }),
  },
});
