// Custom metrics as Envoy implements them (source/extensions/common/wasm/context.cc
// defineMetric / incrementMetric / recordMetric / getMetric):
// - every name is prefixed with the "wasmcustom" stat namespace (Wasm::custom_stat_namespace_),
//   so a module's "requests" is exported as "wasmcustom.requests" (Istio needs
//   proxyStatsMatcher.inclusionPrefixes ["wasmcustom"] to export them);
// - the stat lives in the shared stats scope: several VMs (workers) defining the same name
//   update ONE counter/gauge/histogram;
// - ids are per VM: counters 0,4,8..., gauges 1,5,9..., histograms 2,6,10... (type in the low
//   2 bits; cpp-host wasm.h next*MetricId);
// - increment on a counter needs offset > 0 (else BadArgument); on a gauge a non-positive
//   offset subtracts; increment on a histogram is BadArgument; record on a counter adds,
//   on a gauge sets, on a histogram records a sample; get on a histogram is BadArgument;
//   unknown ids are NotFound. Values are uint64 (a gauge subtracted below 0 wraps).

import { METRIC_ID_INCREMENT, METRIC_TYPE_MASK, MetricType, WasmResult, type WasmResultCode } from './abi-status.js';

export const CUSTOM_STAT_NAMESPACE = 'wasmcustom';

const U64 = (v: bigint) => BigInt.asUintN(64, v);

/**
 * One histogram's samples in the order they came, in a Float64Array that doubles when full
 * (the same numbers a number[] would hold). Envoy bins a sample at once (circllhist: memory
 * bounded by the bins used); a JS array grown sample by sample instead left a trail of
 * discarded backing stores on the collected heap, which in the metrics-overhead bench
 * (one sample a stream) tripled the heap over 300,000 streams and made every young-generation
 * collection 3-4 times longer, a cost of the harness that fell on the metrics side alone.
 * A typed array's bytes are outside that heap and never scanned.
 */
export class Samples {
  private buf = new Float64Array(16);
  length = 0;

  push(v: number): void {
    if (this.length === this.buf.length) {
      const b = new Float64Array(this.buf.length * 2);
      b.set(this.buf);
      this.buf = b;
    }
    this.buf[this.length++] = v;
  }

  toArray(): number[] {
    return Array.from(this.buf.subarray(0, this.length));
  }

  /** the samples added in order from 0 (what number[].reduce((a, b) => a + b, 0) gives) */
  sum(): number {
    let s = 0;
    for (let i = 0; i < this.length; i++) s += this.buf[i];
    return s;
  }
}

export class StatsStore {
  readonly counters = new Map<string, bigint>();
  readonly gauges = new Map<string, bigint>();
  readonly histograms = new Map<string, Samples>();
  /** stats written at least once (Envoy's used(): /stats/prometheus?usedonly) */
  readonly used = new Set<string>();

  counter(name: string): void {
    if (!this.counters.has(name)) this.counters.set(name, 0n);
  }
  gauge(name: string): void {
    if (!this.gauges.has(name)) this.gauges.set(name, 0n);
  }
  histogram(name: string): void {
    if (!this.histograms.has(name)) this.histograms.set(name, new Samples());
  }

  /** Flat view for tests: counters and gauges by full name; histograms as NAME.count / NAME.sum. */
  snapshot(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, v] of this.counters) out[k] = Number(v);
    for (const [k, v] of this.gauges) out[k] = Number(BigInt.asIntN(64, v));
    for (const [k, v] of this.histograms) {
      out[`${k}.count`] = v.length;
      out[`${k}.sum`] = v.sum();
    }
    return out;
  }
}

/**
 * One id's stat: its full name, a histogram's sample list (the store's, resolved once at
 * define, as Envoy's Wasm::histograms_ holds the Histogram& itself), and whether this VM
 * already marked it used (so a sample is a push, not also a Set insertion: `used` only grows).
 */
interface IdStat {
  name: string;
  samples: Samples | undefined;
  used: boolean;
}

/** Per-VM metric id table (Wasm::counters_/gauges_/histograms_ keyed by id). */
export class VmMetrics {
  private nextCounter: number = MetricType.Counter;
  private nextGauge: number = MetricType.Gauge;
  private nextHistogram: number = MetricType.Histogram;
  private readonly ids = new Map<number, IdStat>();

  constructor(readonly store: StatsStore) {}

  define(type: number, name: string): { result: WasmResultCode; id?: number } {
    if (type > MetricType.MAX) return { result: WasmResult.BadArgument };
    const full = `${CUSTOM_STAT_NAMESPACE}.${name}`;
    let id: number;
    if (type === MetricType.Counter) {
      id = this.nextCounter;
      this.nextCounter = (this.nextCounter + METRIC_ID_INCREMENT) >>> 0;
      this.store.counter(full);
    } else if (type === MetricType.Gauge) {
      id = this.nextGauge;
      this.nextGauge = (this.nextGauge + METRIC_ID_INCREMENT) >>> 0;
      this.store.gauge(full);
    } else {
      id = this.nextHistogram;
      this.nextHistogram = (this.nextHistogram + METRIC_ID_INCREMENT) >>> 0;
      this.store.histogram(full);
    }
    this.ids.set(id, { name: full, samples: this.store.histograms.get(full), used: false });
    return { result: WasmResult.Ok, id };
  }

  private markUsed(stat: IdStat): void {
    if (stat.used) return;
    stat.used = true;
    this.store.used.add(stat.name);
  }

  increment(id: number, offset: bigint): WasmResultCode {
    const type = id & METRIC_TYPE_MASK;
    const stat = this.ids.get(id);
    const name = stat?.name;
    if (type === MetricType.Counter) {
      if (name === undefined) return WasmResult.NotFound;
      if (offset <= 0n) return WasmResult.BadArgument;
      this.store.counters.set(name, U64(this.store.counters.get(name)! + offset));
      this.markUsed(stat!);
      return WasmResult.Ok;
    }
    if (type === MetricType.Gauge) {
      if (name === undefined) return WasmResult.NotFound;
      this.store.gauges.set(name, U64(this.store.gauges.get(name)! + offset));
      this.markUsed(stat!);
      return WasmResult.Ok;
    }
    return WasmResult.BadArgument;
  }

  record(id: number, value: bigint): WasmResultCode {
    const type = id & METRIC_TYPE_MASK;
    const stat = this.ids.get(id);
    if (stat === undefined) return WasmResult.NotFound;
    const name = stat.name;
    if (type === MetricType.Counter) {
      this.store.counters.set(name, U64(this.store.counters.get(name)! + value));
    } else if (type === MetricType.Gauge) {
      this.store.gauges.set(name, U64(value));
    } else if (type === MetricType.Histogram) {
      stat.samples!.push(Number(value));
    } else {
      return WasmResult.NotFound;
    }
    this.markUsed(stat);
    return WasmResult.Ok;
  }

  get(id: number): { result: WasmResultCode; value?: bigint } {
    const type = id & METRIC_TYPE_MASK;
    const name = this.ids.get(id)?.name;
    if (type === MetricType.Counter) {
      if (name === undefined) return { result: WasmResult.NotFound };
      return { result: WasmResult.Ok, value: this.store.counters.get(name)! };
    }
    if (type === MetricType.Gauge) {
      if (name === undefined) return { result: WasmResult.NotFound };
      return { result: WasmResult.Ok, value: this.store.gauges.get(name)! };
    }
    return { result: WasmResult.BadArgument };
  }
}
