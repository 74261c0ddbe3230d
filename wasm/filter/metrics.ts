// tandem's metrics on Envoy (../core/metrics/catalog.ts: the series, labels and values
// both gateways export). proxy-wasm metrics have names, not labels: each labelled series
// is one stat whose name carries its labels as segments "<label>=.=<value>;.;", which
// Envoy's tag extraction (stats_config.stats_tags, rendered by `tandem render`) turns
// back into labels, so /stats/prometheus shows e.g.
//   tandem_requests_total{policy="checkout",experiment="e",variant="canary",...} 7
// Stats are defined once per VM (at configure for everything the policy names; a breaker
// key the first time a VM sees it, at most maxKeys of them, then "other"), never per
// request; a request only increments / records by id (one host call each). Every worker
// VM defining the same name updates one stat (Envoy's shared stats scope).
import { utf8 } from "../core/text/bytes";
import {
  CACHE_LOOKUPS, CACHE_RESULTS, L_RESULT,
  BREAKER_REJECTIONS, BREAKER_STATE, BREAKER_STATE_LABELS, BREAKER_TRANSITIONS, CONFIG_REJECTIONS, L_FROM, L_KEY, L_PLUGIN,
  L_POLICY, L_TO, OTHER, TAG_END, TAG_EQ,
} from "../core/metrics/catalog";
import { LOG_ERROR, METRIC_COUNTER, METRIC_GAUGE, NO_METRIC, defineMetric, incrementMetric, log, recordMetric } from "./host";

// The stat name of `metric` with these labels (values as given: the caller bounds them).
export function statName(metric: string, labels: StaticArray<string>, values: StaticArray<string>): StaticArray<u8> {
  let n = metric;
  for (let i = 0; i < labels.length; i++) n += labels[i] + TAG_EQ + values[i] + TAG_END;
  return utf8(n);
}

export function define(type: i32, metric: string, labels: StaticArray<string>, values: StaticArray<string>): u32 {
  return defineMetric(type, statName(metric, labels, values));
}

// A label value fit for a stat name: one that cannot end its segment early.
export function safeValue(v: string): string {
  return v.includes(TAG_END) || v.includes(TAG_EQ) ? OTHER : v;
}

// tandem_config_rejections_total{plugin}: defined on a VM's first configure attempt.
export class ConfigRejections {
  id: u32 = NO_METRIC;
  constructor(public plugin: string) {}
  count(): void {
    if (this.id == NO_METRIC) this.id = define(METRIC_COUNTER, CONFIG_REJECTIONS, [L_PLUGIN], [this.plugin]);
    incrementMetric(this.id, 1);
  }
  // A refused configuration, counted and logged as "<rejected><the core's message>";
  // false, what onConfigure returns so Envoy keeps the previous one.
  refuse(rejected: string, error: string): bool {
    this.count();
    log(LOG_ERROR, rejected + error);
    return false;
  }
}

// One breaker key's stats: its state gauge, rejections, and transitions by (from, to),
// each defined the first time it happens.
class KeyStats {
  state: u32;
  rejections: u32;
  transitions: StaticArray<u32> = new StaticArray<u32>(9);
  constructor(public policy: string, public key: string) {
    this.state = define(METRIC_GAUGE, BREAKER_STATE, [L_POLICY, L_KEY], [policy, key]);
    this.rejections = define(METRIC_COUNTER, BREAKER_REJECTIONS, [L_POLICY, L_KEY], [policy, key]);
    for (let i = 0; i < 9; i++) this.transitions[i] = NO_METRIC;
  }
}

// The breaker stats of one configuration: key labels bounded by maxKeys per VM (as the
// Kong plugin server bounds them per process: core-js/metrics.ts KeyLabels).
export class BreakerStats {
  private readonly keys: Map<string, KeyStats> = new Map<string, KeyStats>();
  private other: KeyStats | null = null;
  constructor(public policy: string, public cap: i32) {}

  of(key: string): KeyStats {
    if (this.keys.has(key)) return this.keys.get(key);
    if (this.keys.size >= this.cap || safeValue(key) != key) {
      let o = this.other;
      if (o === null) { o = new KeyStats(this.policy, OTHER); this.other = o; }
      return o;
    }
    const k = new KeyStats(this.policy, key);
    this.keys.set(key, k);
    return k;
  }

  rejection(key: string): void {
    incrementMetric(this.of(key).rejections, 1);
  }

  // A state change from -> to (STATE_* numbers) made by this VM's write.
  transition(key: string, from: i32, to: i32): void {
    const k = this.of(key);
    const i = from * 3 + to;
    let id = unchecked(k.transitions[i]);
    if (id == NO_METRIC) {
      id = define(METRIC_COUNTER, BREAKER_TRANSITIONS, [L_POLICY, L_KEY, L_FROM, L_TO],
        [this.policy, k.key, BREAKER_STATE_LABELS[from], BREAKER_STATE_LABELS[to]]);
      unchecked(k.transitions[i] = id);
    }
    incrementMetric(id, 1);
    recordMetric(k.state, <u64>to);
  }
}

// tandem_cache_lookups_total{policy, result}: the cache fallback asked for an answer (a
// rejection, or a failed call with upstreamFailure, that the cache covers; a request the
// cache does not take counts as a miss). Both series defined at configure.
export class CacheStats {
  hit: u32;
  miss: u32;
  constructor(policy: string) {
    this.hit = define(METRIC_COUNTER, CACHE_LOOKUPS, [L_POLICY, L_RESULT], [policy, CACHE_RESULTS[0]]);
    this.miss = define(METRIC_COUNTER, CACHE_LOOKUPS, [L_POLICY, L_RESULT], [policy, CACHE_RESULTS[1]]);
  }
  count(hit: bool): void { incrementMetric(hit ? this.hit : this.miss, 1); }
}

// A filter's unlabelled operational counters (wasmcustom.<name>), declared once per
// plugin as a table of names whose positions are the counters' indexes, defined at the
// VM's first configure (Envoy's filters declare their stats once per filter config the
// same way: FaultFilterStats). Counting is one host call by index; nothing is built per
// request. Every worker VM defining a name updates one stat.
export class FilterCounters {
  private readonly ids: StaticArray<u32>;
  private defined: bool = false;
  constructor(private readonly names: StaticArray<string>) {
    this.ids = new StaticArray<u32>(names.length);
    for (let i = 0; i < names.length; i++) unchecked(this.ids[i] = NO_METRIC);
  }
  define(): void {
    if (this.defined) return;
    this.defined = true;
    for (let i = 0; i < this.names.length; i++) unchecked(this.ids[i] = defineMetric(METRIC_COUNTER, utf8(unchecked(this.names[i]))));
  }
  @inline add(i: i32, n: i64 = 1): void {
    incrementMetric(unchecked(this.ids[i]), n);
  }
}
