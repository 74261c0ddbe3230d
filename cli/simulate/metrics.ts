// `tandem simulate --metrics`: after the trace, the metrics it produced, as one
// canonical Prometheus text for every path (core-js/metrics-text.ts), so --via core,
// kong and envoy print the same lines for the same trace. What a scrape config does to
// Envoy's output is done here too (docs/metrics.md): only stats written (?usedonly),
// latency bounds from µs to seconds. `_sum` of the latency histogram is left out: on
// Envoy it is circllhist's approximation, not comparable line for line.
import { parseExposition, canonicalText, type Sample } from "../../core-js/metrics-text";
import {
  ASSIGNMENTS_TOTAL, BREAKER_REJECTIONS, BREAKER_STATE, BREAKER_TRANSITIONS, CONFIG_REJECTIONS, ENVOY_DURATION_SCALE, FAULTS_TOTAL,
  GUARD_STATE, GUARD_TRIPS, OUTCOMES_DROPPED, REQUESTS_TOTAL, REQUEST_DURATION,
} from "../../wasm/core/metrics/catalog";

// The catalog's series (the Envoy filter also keeps older unlabelled diagnostics, e.g.
// tandem_breaker_cas_retries, which are not part of the shared set).
const CATALOG = new Set([
  REQUESTS_TOTAL, `${REQUEST_DURATION}_bucket`, `${REQUEST_DURATION}_count`, ASSIGNMENTS_TOTAL, BREAKER_STATE, BREAKER_TRANSITIONS,
  BREAKER_REJECTIONS, GUARD_STATE, GUARD_TRIPS, FAULTS_TOTAL, CONFIG_REJECTIONS, OUTCOMES_DROPPED,
]);

export function canonicalMetrics(texts: string[], envoy: boolean): string {
  const samples: Sample[] = [];
  for (const t of texts) {
    for (const s of parseExposition(t)) {
      if (!CATALOG.has(s.name)) continue;
      if (envoy && s.name === `${REQUEST_DURATION}_bucket` && s.labels.le !== "+Inf") {
        s.labels = { ...s.labels, le: String(Number(s.labels.le) / ENVOY_DURATION_SCALE) };
      }
      samples.push(s);
    }
  }
  return canonicalText(samples);
}
