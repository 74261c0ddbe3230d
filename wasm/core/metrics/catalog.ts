// tandem's metrics, declared once. Written in the part of TypeScript AssemblyScript also
// compiles (like ../contract.ts): the Envoy filter (asc), the Kong plugins, `tandem
// simulate --metrics`, `tandem render` (Envoy stats_tags, Istio proxyStatsMatcher) and
// docs/metrics.md all read these very declarations. The same series names and label sets
// come out of both gateways; the scrape config adds `gateway` (kong|envoy).
//
// Label values are bounded: variants and experiments come from the policy, reasons,
// sources, code classes and breaker states from the lists below; anything else is
// OTHER. Breaker keys are the policy's (variants, hosts) or a header's values, at most
// circuitBreaker.maxKeys distinct ones per process (Kong plugin server, Envoy worker VM),
// then OTHER.

import { REASON_RULE0 } from "../contract";

export const METRIC_PREFIX = "tandem_";

// ---- series (Prometheus names) ----
export const REQUESTS_TOTAL = "tandem_requests_total";
export const REQUEST_DURATION = "tandem_request_duration_seconds";
export const ASSIGNMENTS_TOTAL = "tandem_assignments_total";
export const BREAKER_STATE = "tandem_breaker_state";
export const BREAKER_TRANSITIONS = "tandem_breaker_transitions_total";
export const BREAKER_REJECTIONS = "tandem_breaker_rejections_total";
export const GUARD_STATE = "tandem_guard_state";
export const GUARD_TRIPS = "tandem_guard_trips_total";
export const FAULTS_TOTAL = "tandem_faults_total";
export const CONFIG_REJECTIONS = "tandem_config_rejections_total";
export const OUTCOMES_DROPPED = "tandem_outcomes_dropped_total";   // Kong only
// The cache fallback asked for an answer (a rejection, or a failed call with
// upstreamFailure, that a cache covers), by result: hit (the entry answered) or miss.
export const CACHE_LOOKUPS = "tandem_cache_lookups_total";

// ---- label names ----
export const L_POLICY = "policy";
export const L_EXPERIMENT = "experiment";
export const L_VARIANT = "variant";
export const L_REASON = "reason";
export const L_CODE_CLASS = "code_class";
export const L_SOURCE = "source";
export const L_KEY = "key";
export const L_FROM = "from";
export const L_TO = "to";
export const L_KIND = "kind";
export const L_PLUGIN = "plugin";
export const L_RESULT = "result";
// Every label any series carries (Envoy: one stats_tags entry each).
export const LABELS: string[] = [L_POLICY, L_EXPERIMENT, L_VARIANT, L_REASON, L_CODE_CLASS, L_SOURCE, L_KEY, L_FROM, L_TO, L_KIND, L_PLUGIN, L_RESULT];

// ---- label values ----
export const OTHER = "other";
// Why a request got its variant: the experiment's decision (rule i -> "rule"), or what
// answered instead of the variant's upstream (requestReasonIndex below). There is no
// "none": a request without a variant (no experiment, out of scope) records no
// tandem_requests_total, so such a label would never be written.
export const REASON_LABELS: string[] = ["split", "ramp", "override", "guard", "rule", "fallback", "fault"];
export const RL_SPLIT = 0;
export const RL_RAMP = 1;
export const RL_OVERRIDE = 2;
export const RL_GUARD = 3;
export const RL_RULE = 4;
export const RL_FALLBACK = 5;
export const RL_FAULT = 6;

// Who answered a decided request, as the adapters see it (facts; the reason is decided
// by requestReasonIndex): its upstream (or anything that is not one of tandem's own
// answers), the circuit breaker's fallback (a respond, a cache hit, or the default
// rejection when no fallback applies; a reroute is answered by an upstream and is not
// one), or a fault's abort (either scope).
export const ANSWERED_UPSTREAM = 0;
export const ANSWERED_FALLBACK = 1;
export const ANSWERED_FAULT = 2;
// The decision log (../decision-log/line.ts): who answered, by ANSWERED_*, and the start
// of every line (what a log shipper matches; `tandem simulate --decisions` prints from it).
export const ANSWERED_LABELS: string[] = ["upstream", "fallback", "fault"];
export const DECISION_LOG_PREFIX = "tandem: decision ";
// Kong: tandem's own answers (kong.response.exit of the circuit-breaker and
// fault-injection plugins) carry this response header, whose value names who answered,
// so the experiment plugin's log phase tells them apart from what `kong.log.serialize()`
// already holds (response.headers): no extra PDK call. Clients see it, so Envoy's local
// replies carry it too (wasm/filter/reply-details.ts; the cache's served headers:
// ../cache/entry.ts), though the experiment filter reads their response code details
// instead: the same answer on both gateways.
export const ANSWER_HEADER = "x-tandem-answer";
export const ANSWER_FALLBACK = "fallback";
export const ANSWER_FAULT = "fault";

// Kong: who answered, from the ANSWER_HEADER value the client got (null: absent) and
// whether an upstream was tried (then the header is the upstream's, not tandem's: an
// upstream cannot make its answer count as tandem's).
export function answeredByMark(mark: string | null, upstreamTried: boolean): number {
  if (upstreamTried || mark === null) return ANSWERED_UPSTREAM;
  if (mark == ANSWER_FALLBACK) return ANSWERED_FALLBACK;
  if (mark == ANSWER_FAULT) return ANSWERED_FAULT;
  return ANSWERED_UPSTREAM;
}

// The REASON_LABELS index tandem_requests_total counts a decided request under: what
// answered it when tandem did (a fault's abort: "fault"; the breaker's fallback or
// rejection: "fallback"), else its decision's reason (`decided`: a REASON_LABELS index,
// reasonLabelIndex). The status class is the status the client got either way.
export function requestReasonIndex(decided: number, answeredBy: number): number {
  if (answeredBy == ANSWERED_FAULT) return RL_FAULT;
  if (answeredBy == ANSWERED_FALLBACK) return RL_FALLBACK;
  return decided;
}
export const CODE_CLASSES: string[] = ["1xx", "2xx", "3xx", "4xx", "5xx"];
// Where a user's key came from; "issued": a new id tandem issued (new users).
export const SOURCE_LABELS: string[] = ["cookie", "header", "query", "ip", "issued"];
export const S_ISSUED = 4;
export const BREAKER_STATE_LABELS: string[] = ["closed", "open", "half_open"];
export const FAULT_KINDS: string[] = ["delay", "abort"];
export const CACHE_RESULTS: string[] = ["hit", "miss"];
export const PLUGIN_EXPERIMENT = "experiment";
export const PLUGIN_BREAKER = "circuit-breaker";
export const PLUGIN_FAULT = "fault-injection";
export const PLUGIN_CACHE = "fallback-cache";   // Kong only: the opt-in buffered half of the cache fallback
export const PLUGIN_LABELS: string[] = [PLUGIN_EXPERIMENT, PLUGIN_BREAKER, PLUGIN_FAULT, PLUGIN_CACHE];
// The policy label when a plugin config names none (`policy`, written by tandem render).
export const NO_POLICY = OTHER;
// The plugin-config field that names the policy (TrafficPolicy metadata.name).
export const POLICY_FIELD = "policy";
// The experiment plugin-config switch: `metrics: false` records nothing (default true).
export const METRICS_FIELD = "metrics";
// The experiment and circuit-breaker plugin-config fact `hasFaults: false`: no fault-injection part shares
// the policy (tandem render writes it then), so the Envoy filter need not look for a
// fault's mark on each stream (one proxy_get_property less: wasm/filter/fault-mark.ts).
// Absent means true: a config rendered before the field, or written by hand, keeps
// reading the mark, so a fault that is there is never missed.
export const HAS_FAULTS_FIELD = "hasFaults";

// The REASON_LABELS index of an experiment decision's reason (../contract.ts REASON_*:
// split, ramp, override and guard keep their number; every rule is "rule").
export function reasonLabelIndex(reason: number): number {
  if (reason >= REASON_RULE0) return RL_RULE;
  return reason;
}

// The SOURCE_LABELS index of a decision's key source: stickiness.sources[i]'s kind
// (SourceKind: cookie 0, header 1, query 2, ip 3), S_ISSUED for a new id.
export function sourceLabelIndex(kind: number, newId: boolean): number {
  if (newId) return S_ISSUED;
  return kind;
}

// Upstream latency buckets, seconds (APIs: 5 ms ... 10 s).
export const DURATION_BUCKETS: number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

// The index into CODE_CLASSES of an HTTP status; -1 outside 100..599 (not counted).
// (`number`: f64 in AssemblyScript, so both compilers read this one function.)
export function codeClassIndex(status: number): number {
  if (status < 100 || status > 599) return -1;
  return Math.floor(status / 100) - 1;
}

// ---- Envoy encoding ----
// proxy-wasm metrics have names, not labels: Envoy (source/extensions/common/wasm/
// context.cc defineMetric) prefixes a name with the "wasmcustom" custom stat namespace,
// tag extraction (bootstrap stats_config.stats_tags, rendered by `tandem render`) turns
// each label segment back into a tag, and /stats/prometheus (source/server/admin/
// prometheus_stats.cc metricName) strips the registered namespace, so the series is
// exported under the name below with real labels. The name is the series' name followed
// by one segment per label, label + TAG_EQ + value + TAG_END, no separator:
//   tandem_assignments_totalpolicy=.=checkout;.;experiment=.=e;.;variant=.=canary;.;source=.=issued;.;
// Istio's layout for its own Wasm stats: Istio's bootstrap turns each name of
// meshConfig.defaultConfig.extraStatTags into the regex (<name>=\.=(.*?);\.;), which cuts
// exactly one segment, so the same names work in a static Envoy (tandem render --target
// envoy writes those regexes) and under Istio. Values may hold dots, never TAG_EQ or
// TAG_END (such a breaker key is "other").
export const ENVOY_NAMESPACE = "wasmcustom";
export const TAG_EQ = "=.=";
export const TAG_END = ";.;";
// Envoy histograms hold unsigned integers and its Prometheus output does not scale them:
// tandem records microseconds minus one (so a sample on a bucket bound falls in that
// bucket, Prometheus' `le`, under circllhist's bins, whose upper bound must be <= the
// bucket: libcircllhist hist_approx_count_below) and renders the bucket bounds in µs
// (stats_config.histogram_bucket_settings). The scrape config maps `le` back to
// seconds; `_sum` stays in µs (and is circllhist's bin-midpoint approximation).
export const ENVOY_DURATION_SCALE: number = 1000000;
