// The Envoy harness's histogram samples (sim/envoy/metrics.ts Samples): kept in arrival
// order however many arrive, the same count, sum and Prometheus text as a plain list.
import { describe, expect, it } from 'vitest';
import { StatsStore, WasmResult } from '../../sim/envoy';
import { MetricType } from '../../sim/envoy/abi-status';
import { Samples, VmMetrics } from '../../sim/envoy/metrics';
import { renderPrometheus } from '../../sim/envoy/prometheus';

describe('envoy harness histogram samples', () => {
  it('keeps every sample in order past its first growth', () => {
    const s = new Samples();
    const want: number[] = [];
    for (let i = 0; i < 1000; i++) {
      const v = (i * 7919) % 1013 + i / 8;
      s.push(v);
      want.push(v);
    }
    expect(s.length).toBe(1000);
    expect(s.toArray()).toEqual(want);
    expect(s.sum()).toBe(want.reduce((a, b) => a + b, 0));
  });

  it('records through proxy_record_metric into count, sum and the flushed Prometheus buckets', () => {
    const stats = new StatsStore();
    const m = new VmMetrics(stats);
    const id = m.define(MetricType.Histogram, 'lat').id!;
    const values = [0, 3, 17, 250, 4999, 12, 12, 100000];
    for (let r = 0; r < 5; r++) for (const v of values) expect(m.record(id, BigInt(v))).toBe(WasmResult.Ok);
    const all = Array.from({ length: 5 }, () => values).flat();
    expect(stats.snapshot()).toMatchObject({ 'wasmcustom.lat.count': 40, 'wasmcustom.lat.sum': all.reduce((a, b) => a + b, 0) });
    const text = renderPrometheus(stats, { statsTags: [], histogramBuckets: [], usedOnly: true, flushed: new Map([['wasmcustom.lat', stats.histograms.get('wasmcustom.lat')!.toArray()]]) });
    expect(text).toContain('lat_count{} 40\n');
    expect(text).toContain('lat_bucket{le="5"} 10\n');   // 0 and 3, five times
    expect(text).toContain('lat_bucket{le="+Inf"} 40\n');
  });
});
