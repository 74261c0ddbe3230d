// tandem's metrics on the Node side (the Kong plugin servers, `tandem simulate --via
// core`): the catalog's series (../wasm/core/metrics/catalog.ts) in a prom-client
// registry. Recording only: the core decided the variant, reason, key source and breaker
// transitions; the callers hand those in. Label values are bounded here as on Envoy
// (wasm/filter/metrics.ts): an unknown variant is OTHER, a breaker key beyond maxKeys
// distinct ones (per policy, per process) is OTHER.
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import {
  ASSIGNMENTS_TOTAL, BREAKER_REJECTIONS, BREAKER_STATE, BREAKER_STATE_LABELS, BREAKER_TRANSITIONS, CODE_CLASSES,
  CONFIG_REJECTIONS, DURATION_BUCKETS, FAULTS_TOTAL, FAULT_KINDS, GUARD_STATE, GUARD_TRIPS, L_CODE_CLASS, L_EXPERIMENT,
  L_FROM, L_KEY, L_KIND, L_PLUGIN, L_POLICY, L_REASON, L_SOURCE, L_TO, L_VARIANT, OTHER, PLUGIN_LABELS, REASON_LABELS,
  OUTCOMES_DROPPED, REQUESTS_TOTAL, CACHE_LOOKUPS, CACHE_RESULTS, L_RESULT, REQUEST_DURATION, SOURCE_LABELS, codeClassIndex,
} from "../wasm/core/metrics/catalog";

// One-line descriptions (# HELP), by series.
export const HELP: Record<string, string> = {
  [REQUESTS_TOTAL]: "Requests an experiment decided, by variant, why, and the status class the client got.",
  [REQUEST_DURATION]: "Upstream latency of an experiment's requests (to the first response byte), by variant.",
  [ASSIGNMENTS_TOTAL]: "Experiment decisions by where the user's key came from (issued: a new id).",
  [BREAKER_STATE]: "Circuit breaker state by key: 0 closed, 1 open, 2 half-open.",
  [BREAKER_TRANSITIONS]: "Circuit breaker state changes by key.",
  [BREAKER_REJECTIONS]: "Requests a circuit breaker rejected (answered by the fallback or the default 503).",
  [GUARD_STATE]: "Canary guard state by variant: 0 ok, 1 rolled back (open or half-open).",
  [GUARD_TRIPS]: "Canary guard trips (transitions to open) by variant.",
  [FAULTS_TOTAL]: "Faults injected, by kind.",
  [CONFIG_REJECTIONS]: "Plugin configurations the core rejected.",
  [CACHE_LOOKUPS]: "Cache fallback lookups (a rejection or failed call a cache covers), by result: hit or miss.",
  [OUTCOMES_DROPPED]: "Kong only: requests whose log phase never reached the plugin within the deadline (Kong dropped the log timer), by plugin.",
};

const STATE_INDEX: Record<string, number> = Object.fromEntries(BREAKER_STATE_LABELS.map((s, i) => [s, i]));

/** A label value from a bounded list, else OTHER. */
export function bounded(value: string, allowed: readonly string[]): string {
  return allowed.includes(value) ? value : OTHER;
}

/** Breaker key labels of one policy: the first `cap` distinct keys keep their value. */
export class KeyLabels {
  private readonly seen = new Set<string>();
  constructor(private readonly cap: number) {}
  label(key: string): string {
    if (this.seen.has(key)) return key;
    if (this.seen.size >= this.cap) return OTHER;
    this.seen.add(key);
    return key;
  }
}

export class TandemMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter;
  private readonly duration: Histogram;
  private readonly assignments: Counter;
  private readonly breakerState: Gauge;
  private readonly breakerTransitions: Counter;
  private readonly breakerRejections: Counter;
  private readonly guardState: Gauge;
  private readonly guardTrips: Counter;
  private readonly faults: Counter;
  private readonly configRejections: Counter;
  private readonly outcomesDropped: Counter;
  private readonly cacheLookups: Counter;
  private readonly beforeScrape: Array<() => void> = [];

  constructor() {
    const registers = [this.registry];
    const counter = (name: string, labels: string[]) => new Counter({ name, help: HELP[name], labelNames: labels, registers });
    const gauge = (name: string, labels: string[]) => new Gauge({ name, help: HELP[name], labelNames: labels, registers });
    this.requests = counter(REQUESTS_TOTAL, [L_POLICY, L_EXPERIMENT, L_VARIANT, L_REASON, L_CODE_CLASS]);
    this.duration = new Histogram({
      name: REQUEST_DURATION, help: HELP[REQUEST_DURATION], labelNames: [L_POLICY, L_EXPERIMENT, L_VARIANT],
      buckets: DURATION_BUCKETS, registers,
    });
    this.assignments = counter(ASSIGNMENTS_TOTAL, [L_POLICY, L_EXPERIMENT, L_VARIANT, L_SOURCE]);
    this.breakerState = gauge(BREAKER_STATE, [L_POLICY, L_KEY]);
    this.breakerTransitions = counter(BREAKER_TRANSITIONS, [L_POLICY, L_KEY, L_FROM, L_TO]);
    this.breakerRejections = counter(BREAKER_REJECTIONS, [L_POLICY, L_KEY]);
    this.guardState = gauge(GUARD_STATE, [L_POLICY, L_EXPERIMENT, L_VARIANT]);
    this.guardTrips = counter(GUARD_TRIPS, [L_POLICY, L_EXPERIMENT, L_VARIANT]);
    this.faults = counter(FAULTS_TOTAL, [L_POLICY, L_KIND]);
    this.configRejections = counter(CONFIG_REJECTIONS, [L_PLUGIN]);
    this.outcomesDropped = counter(OUTCOMES_DROPPED, [L_POLICY, L_PLUGIN]);
    this.cacheLookups = counter(CACHE_LOOKUPS, [L_POLICY, L_RESULT]);
  }

  // Zero series at configure, as Envoy defines its stats at configure
  // (wasm/filter/experiment-filter.ts ExperimentStats, fault-filter.ts, metrics.ts
  // ConfigRejections): a series first seen at its first increment makes Prometheus'
  // rate()/increase() miss that first sample. Counters and histograms only: a gauge
  // means something only once written.

  /** An experiment's request, latency and assignment series (sources: SOURCE_LABELS indexes). */
  declareExperiment(policy: string, experiment: string, variants: readonly string[], sources: readonly number[]): void {
    for (const variant of variants) {
      for (const reason of REASON_LABELS) for (const code_class of CODE_CLASSES) {
        this.requests.inc({ policy, experiment, variant, reason, code_class }, 0);
      }
      this.duration.zero({ policy, experiment, variant });
      for (const s of sources) this.assignments.inc({ policy, experiment, variant, source: SOURCE_LABELS[s] ?? OTHER }, 0);
    }
  }

  /** A canary guard's trips. */
  declareGuard(policy: string, experiment: string, variant: string): void {
    this.guardTrips.inc({ policy, experiment, variant }, 0);
  }

  declareFaults(policy: string): void {
    for (const kind of FAULT_KINDS) this.faults.inc({ policy, kind }, 0);
  }

  /** The cache fallback's lookups, hit and miss (a breaker config whose fallback has a cache). */
  declareCache(policy: string): void {
    for (const result of CACHE_RESULTS) this.cacheLookups.inc({ policy, result }, 0);
  }

  /** A plugin's config rejections and (Kong) dropped outcomes. */
  declarePlugin(plugin: string, policy: string | null): void {
    this.configRejections.inc({ plugin: bounded(plugin, PLUGIN_LABELS) }, 0);
    if (policy !== null) this.outcomesDropped.inc({ policy, plugin: bounded(plugin, PLUGIN_LABELS) }, 0);
  }

  /** Kong: an outcome a plugin waited for and never got (plugins/shared/outcome-ledger.ts). */
  outcomeDropped(policy: string, plugin: string): void {
    this.outcomesDropped.inc({ policy, plugin: bounded(plugin, PLUGIN_LABELS) });
  }

  /** Work to do right before each scrape (e.g. counting outcomes whose deadline passed). */
  onScrape(f: () => void): void {
    this.beforeScrape.push(f);
  }

  /** A request the experiment decided, once its response status is known (100..599). */
  request(policy: string, experiment: string, variant: string, reason: number, status: number): void {
    const c = codeClassIndex(status);
    if (c < 0) return;
    this.requests.inc({ policy, experiment, variant, reason: REASON_LABELS[reason] ?? OTHER, code_class: CODE_CLASSES[c] });
  }

  /** Upstream latency in ms (only for requests an upstream answered or failed). */
  latency(policy: string, experiment: string, variant: string, ms: number): void {
    this.duration.observe({ policy, experiment, variant }, ms / 1000);
  }

  /** A decision, by key source (catalog sourceLabelIndex). */
  assignment(policy: string, experiment: string, variant: string, source: number): void {
    this.assignments.inc({ policy, experiment, variant, source: SOURCE_LABELS[source] ?? OTHER });
  }

  /** A breaker key's state change (the core's from / to state names). */
  breakerTransition(policy: string, key: string, from: string, to: string): void {
    this.breakerTransitions.inc({ policy, key, from: bounded(from, BREAKER_STATE_LABELS), to: bounded(to, BREAKER_STATE_LABELS) });
    this.breakerState.set({ policy, key }, STATE_INDEX[to] ?? 0);
  }

  breakerRejection(policy: string, key: string): void {
    this.breakerRejections.inc({ policy, key });
  }

  /** A canary guard's state (the core's state name); `tripped`: this call opened it. */
  guard(policy: string, experiment: string, variant: string, state: string, tripped: boolean): void {
    this.guardState.set({ policy, experiment, variant }, state === "closed" ? 0 : 1);
    if (tripped) this.guardTrips.inc({ policy, experiment, variant });
  }

  fault(policy: string, kind: "delay" | "abort"): void {
    this.faults.inc({ policy, kind: bounded(kind, FAULT_KINDS) });
  }

  /** The cache fallback asked for an answer: hit or miss. */
  cacheLookup(policy: string, hit: boolean): void {
    this.cacheLookups.inc({ policy, result: CACHE_RESULTS[hit ? 0 : 1] });
  }

  configRejection(plugin: string): void {
    this.configRejections.inc({ plugin: bounded(plugin, PLUGIN_LABELS) });
  }

  /** The Prometheus text exposition (version 0.0.4). */
  text(): Promise<string> {
    for (const f of this.beforeScrape) f();
    return this.registry.metrics();
  }
}
