// tandem's metric names and labels as the code declares them (wasm/core/metrics/catalog.ts,
// and the label set of each series as core-js/metrics.ts registers it with prom-client: the
// Kong plugin servers' registry; the Envoy filter reads the same catalog). The deploy files
// (rules, dashboard, Flagger and Argo templates) are held to exactly these. `gateway` is not
// tandem's: the scrape config adds it.
import { TandemMetrics } from "../../core-js/metrics";
import {
  BREAKER_STATE_LABELS, CODE_CLASSES, DURATION_BUCKETS as CATALOG_BUCKETS, ENVOY_DURATION_SCALE as CATALOG_SCALE, FAULT_KINDS,
  L_CODE_CLASS, L_FROM, L_KIND, L_PLUGIN, L_REASON, L_SOURCE, L_TO, PLUGIN_LABELS, REASON_LABELS, SOURCE_LABELS,
} from "../../wasm/core/metrics/catalog";

export interface MetricSpec { type: "counter" | "gauge" | "histogram"; labels: string[] }

interface Registered { name: string; labelNames: string[]; constructor: { name: string } }

// Every series the code registers, with its labels and type (prom-client's class).
export const METRICS: Record<string, MetricSpec> = Object.fromEntries(
  (new TandemMetrics().registry.getMetricsAsArray() as unknown as Registered[]).map((m) =>
    [m.name, { type: m.constructor.name.toLowerCase() as MetricSpec["type"], labels: [...m.labelNames] }]),
);

/** label values the catalog fixes (the others come from the policy) */
export const LABEL_VALUES: Record<string, string[]> = {
  [L_REASON]: REASON_LABELS,
  [L_CODE_CLASS]: CODE_CLASSES,
  [L_SOURCE]: SOURCE_LABELS,
  [L_KIND]: FAULT_KINDS,
  [L_FROM]: BREAKER_STATE_LABELS,
  [L_TO]: BREAKER_STATE_LABELS,
  [L_PLUGIN]: PLUGIN_LABELS,
};

/** upstream latency buckets, seconds; Envoy records µs (ENVOY_DURATION_SCALE) */
export const DURATION_BUCKETS: number[] = CATALOG_BUCKETS;
export const ENVOY_DURATION_SCALE: number = CATALOG_SCALE;

/** the label the scrape config adds, and its values */
export const GATEWAYS = ["kong", "envoy"];
