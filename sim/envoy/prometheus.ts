// Envoy's GET /stats/prometheus over the harness's stats, as Envoy renders it:
// - tag extraction (source/common/stats/tag_extractor_impl.cc TagExtractorStdRegexImpl
//   extractTag, tag_producer_impl.cc produceTags): every configured stats_tags regex is
//   searched in the full stat name; the first capture group is cut out of the name, the
//   second (else the first) is the tag's value; the cuts of all extractors apply to the
//   original name; tags come in extractor order;
// - names (source/server/admin/prometheus_stats.cc metricName): a name in a registered
//   custom namespace ("wasmcustom.") loses the namespace and gets no "envoy_" prefix;
//   every other character outside [a-zA-Z0-9_] becomes "_"; a custom name starting with
//   a digit is left out; other stats would get "envoy_" (the harness has none);
// - grouped by tag-extracted name in name order, one "# TYPE" line per group, counters,
//   then gauges, then histograms; `usedonly` leaves out stats never written;
// - histograms (generateHistogramOutput): cumulative bucket counts at each configured
//   bound (stats_config.histogram_bucket_settings, first matching prefix; else Envoy's
//   default bounds), +Inf, _sum, _count, from the samples merged at the last stats flush
//   (Envoy merges worker histograms every stats_flush_interval, 5 s by default:
//   ParentHistogramImpl::merge), through circllhist's log-linear bins (two significant
//   digits): a bucket counts the bins whose upper edge is <= its bound
//   (libcircllhist hist_approx_count_below) and _sum adds each sample's bin midpoint
//   (hist_approx_sum).
import { CUSTOM_STAT_NAMESPACE, type StatsStore } from './metrics.js';

export interface StatsTag { tag_name: string; regex: string }
export interface HistogramBuckets { match: { prefix: string }; buckets: number[] }

// source/common/stats/histogram_impl.cc HistogramSettingsImpl::defaultBuckets
export const DEFAULT_BUCKETS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000];

interface Extracted { name: string; tags: Array<[string, string]> }

export function extractTags(full: string, extractors: Array<{ name: string; re: RegExp }>): Extracted {
  const cut: Array<[number, number]> = [];
  const tags: Array<[string, string]> = [];
  for (const x of extractors) {
    const m = x.re.exec(full);
    if (!m || m[1] === undefined || m.indices === undefined) continue;
    const [a, b] = m.indices[1]!;
    tags.push([x.name, m[2] !== undefined ? m[2] : m[1]]);
    cut.push([a, b]);
  }
  let name = '';
  for (let i = 0; i < full.length; i++) if (!cut.some(([a, b]) => i >= a && i < b)) name += full[i];
  return { name, tags };
}

function sanitize(s: string): string {
  return s.replace(/[^a-zA-Z0-9_]/g, '_');
}

function metricName(extracted: string): string | null {
  const ns = CUSTOM_STAT_NAMESPACE + '.';
  if (extracted.startsWith(ns)) {
    const n = sanitize(extracted.slice(ns.length));
    return n === '' || /^[0-9]/.test(n) ? null : n;
  }
  return 'envoy_' + sanitize(extracted);
}

// circllhist's bin of a non-negative integer sample: [lower, lower + width).
export function circllhistBin(v: number): { lower: number; width: number } {
  if (v <= 0) return { lower: 0, width: 0 };
  const e = Math.floor(Math.log10(v));
  let w = Math.pow(10, e - 1);
  let val = Math.floor(v / w + 1e-9);
  if (val >= 100) { w *= 10; val = Math.floor(v / w + 1e-9); }
  return { lower: val * w, width: w };
}

// %.32g-like: the shortest text that reads back as the same double.
function g(v: number): string {
  return Number.isInteger(v) ? String(v) : String(v);
}

export interface PrometheusOptions {
  statsTags: StatsTag[];
  histogramBuckets: HistogramBuckets[];
  usedOnly: boolean;
  /** histogram samples as of the last flush, by full stat name */
  flushed: Map<string, number[]>;
}

export function renderPrometheus(stats: StatsStore, o: PrometheusOptions): string {
  const extractors = o.statsTags.map((t) => ({ name: t.tag_name, re: new RegExp(t.regex, 'd') }));
  const out: string[] = [];
  const section = (names: string[], type: string, line: (full: string, n: string, tags: string) => string) => {
    const groups = new Map<string, Array<{ full: string; tags: string }>>();
    for (const full of names) {
      if (o.usedOnly && !stats.used.has(full)) continue;
      const x = extractTags(full, extractors);
      const n = metricName(x.name);
      if (n === null) continue;
      const tags = x.tags.map(([k, v]) => `${sanitize(k)}="${v}"`).join(',');
      if (!groups.has(n)) groups.set(n, []);
      groups.get(n)!.push({ full, tags });
    }
    for (const n of [...groups.keys()].sort()) {
      out.push(`# TYPE ${n} ${type}\n`);
      for (const s of groups.get(n)!.sort((a, b) => (a.full < b.full ? -1 : a.full > b.full ? 1 : 0))) out.push(line(s.full, n, s.tags));
      out.push('\n');
    }
  };
  section([...stats.counters.keys()], 'counter', (f, n, t) => `${n}{${t}} ${stats.counters.get(f)}\n`);
  section([...stats.gauges.keys()], 'gauge', (f, n, t) => `${n}{${t}} ${BigInt.asUintN(64, stats.gauges.get(f)!)}\n`);
  section([...stats.histograms.keys()], 'histogram', (f, n, t) => {
    const samples = o.flushed.get(f) ?? [];
    const bounds = o.histogramBuckets.find((h) => f.startsWith(h.match.prefix))?.buckets ?? DEFAULT_BUCKETS;
    const bins = samples.map(circllhistBin);
    const ht = t === '' ? '' : t + ',';
    let s = '';
    for (const b of bounds) s += `${n}_bucket{${ht}le="${g(b)}"} ${bins.filter((x) => x.lower + x.width <= b).length}\n`;
    s += `${n}_bucket{${ht}le="+Inf"} ${samples.length}\n`;
    const sum = bins.reduce((a, x) => a + x.lower + x.width / 2, 0);
    s += `${n}_sum{${t}} ${g(sum)}\n${n}_count{${t}} ${samples.length}\n`;
    return s;
  });
  return out.join('');
}
