// What Envoy needs to export tandem's metrics with real labels (docs/metrics.md):
// tag extraction for each catalog label (bootstrap stats_config.stats_tags, the regex
// Istio's bootstrap derives from meshConfig.defaultConfig.extraStatTags), the latency
// histogram's bounds (stats_config.histogram_bucket_settings; µs, see the catalog's
// ENVOY_DURATION_SCALE), and for Istio the stats inclusion of the wasmcustom namespace.
import {
  DURATION_BUCKETS, ENVOY_DURATION_SCALE, ENVOY_NAMESPACE, LABELS, REQUEST_DURATION, TAG_END, TAG_EQ,
} from "../../wasm/core/metrics/catalog";

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** stats_config.stats_tags: one extractor per label, `(label=\.=(.*?);\.;)`. */
export function tandemStatsTags(): Array<{ tag_name: string; regex: string }> {
  return LABELS.map((l) => ({ tag_name: l, regex: `(${escape(l + TAG_EQ)}(.*?)${escape(TAG_END)})` }));
}

/** stats_config.histogram_bucket_settings for the latency histogram (bounds in µs). */
export function tandemHistogramBuckets(): Array<{ match: { prefix: string }; buckets: number[] }> {
  return [{ match: { prefix: `${ENVOY_NAMESPACE}.${REQUEST_DURATION}` }, buckets: DURATION_BUCKETS.map((b) => Math.round(b * ENVOY_DURATION_SCALE)) }];
}

/** The stats_config block of a static Envoy bootstrap. */
export function tandemStatsConfig(): Record<string, unknown> {
  return { stats_tags: tandemStatsTags(), histogram_bucket_settings: tandemHistogramBuckets() };
}

/** Istio ProxyConfig fields (meshConfig.defaultConfig or the proxy.istio.io/config annotation). */
export function tandemIstioProxyConfig(): Record<string, unknown> {
  return { proxyStatsMatcher: { inclusionPrefixes: [ENVOY_NAMESPACE] }, extraStatTags: [...LABELS] };
}
