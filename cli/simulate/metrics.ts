// `tandem simulate --metrics`: after the trace, the metrics it produced, as one
// canonical Prometheus text for every path (core-js/metrics-text.ts), so --via core,
// kong and envoy print the same lines for the same trace. What a scrape config does to
// Envoy's output is done here too (docs/metrics.md): only stats written (?usedonly),
// latency bounds from µs to seconds. `_sum` of the latency histogram is left out: on
// Envoy it is circllhist's approximation, not comparable line for line.
import { parseExposition, canonicalText, type Sample } from "../../core-js/metrics-text";
import {
  ASSIGNMENTS_TOTAL, BREAKER_REJECTIONS, BREAKER_STATE, BREAKER_TRANSITIONS, CONFIG_REJECTIONS, ENVOY_DURATION_SCALE, FAULTS_TOTAL,
  GUARD_STATE, GUARD_TRIPS, OUTCOMES_DROPPED, REQUESTS_TOTAL, REQUEST_DURATION, CACHE_LOOKUPS,
} from "../../wasm/core/metrics/catalog";

// The catalog's series (the Envoy filter also keeps older unlabelled diagnostics, e.g.
// tandem_breaker_cas_retries, which are not part of the shared set).
const CATALOG = new Set([
  REQUESTS_TOTAL, `${REQUEST_DURATION}_bucket`, `${REQUEST_DURATION}_count`, ASSIGNMENTS_TOTAL, BREAKER_STATE, BREAKER_TRANSITIONS,
  BREAKER_REJECTIONS, GUARD_STATE, GUARD_TRIPS, FAULTS_TOTAL, CONFIG_REJECTIONS, OUTCOMES_DROPPED, CACHE_LOOKUPS,
]);

// A series at zero never written: Kong's plugin servers declare every series at configure
// (core-js/metrics.ts declare*), Envoy's ?usedonly leaves out stats never written. A
// counter at 0, or a histogram whose _count is 0, is such a series on either gateway.
function unwritten(s: Sample, emptyHistograms: Set<string>): boolean {
  if (s.name.endsWith("_total")) return s.value === 0;
  if (s.name === `${REQUEST_DURATION}_bucket` || s.name === `${REQUEST_DURATION}_count`) return emptyHistograms.has(histogramId(s));
  return false;
}

function histogramId(s: Sample): string {
  return JSON.stringify(Object.entries(s.labels).filter(([k]) => k !== "le").sort());
}

export function canonicalMetrics(texts: string[], envoy: boolean): string {
  const parsed = texts.flatMap((t) => parseExposition(t));
  const emptyHistograms = new Set(parsed.filter((s) => s.name === `${REQUEST_DURATION}_count` && s.value === 0).map(histogramId));
  const samples: Sample[] = [];
  for (const s of parsed) {
    if (!CATALOG.has(s.name) || unwritten(s, emptyHistograms)) continue;
    if (envoy && s.name === `${REQUEST_DURATION}_bucket` && s.labels.le !== "+Inf") {
      s.labels = { ...s.labels, le: String(Number(s.labels.le) / ENVOY_DURATION_SCALE) };
    }
    samples.push(s);
  }
  return canonicalText(samples);
}
