// tandem's metric names and labels, the contract both gateways export (issue 14). Until the
// metrics' own catalog is in the code, this list is what the deploy files (rules, dashboard,
// Flagger and Argo templates) are held to. `gateway` is not tandem's: the scrape config adds it.
export interface MetricSpec { type: "counter" | "gauge" | "histogram"; labels: string[] }

export const METRICS: Record<string, MetricSpec> = {
  tandem_requests_total: { type: "counter", labels: ["policy", "experiment", "variant", "reason", "code_class"] },
  tandem_request_duration_seconds: { type: "histogram", labels: ["policy", "experiment", "variant"] },
  tandem_assignments_total: { type: "counter", labels: ["policy", "experiment", "variant", "source"] },
  tandem_breaker_state: { type: "gauge", labels: ["policy", "key"] },
  tandem_breaker_transitions_total: { type: "counter", labels: ["policy", "key", "from", "to"] },
  tandem_breaker_rejections_total: { type: "counter", labels: ["policy", "key"] },
  tandem_guard_state: { type: "gauge", labels: ["policy", "experiment", "variant"] },
  tandem_guard_trips_total: { type: "counter", labels: ["policy", "experiment", "variant"] },
  tandem_faults_total: { type: "counter", labels: ["policy", "kind"] },
  tandem_config_rejections_total: { type: "counter", labels: ["plugin"] },
  tandem_outcomes_dropped_total: { type: "counter", labels: [] },
};

/** label values the contract fixes (the others come from the policy) */
export const LABEL_VALUES: Record<string, string[]> = {
  reason: ["rule", "split", "ramp", "override", "guard", "fallback", "fault", "none"],
  code_class: ["1xx", "2xx", "3xx", "4xx", "5xx"],
  source: ["cookie", "header", "query", "ip", "issued"],
  kind: ["delay", "abort"],
  from: ["closed", "open", "half_open"],
  to: ["closed", "open", "half_open"],
};

/** upstream latency buckets, seconds; Envoy records µs (ENVOY_DURATION_SCALE) */
export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
export const ENVOY_DURATION_SCALE = 1_000_000;

/** the label the scrape config adds, and its values */
export const GATEWAYS = ["kong", "envoy"];
