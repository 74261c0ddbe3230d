// Section metrics-overhead: the cost of tandem's metrics on Envoy. The request mix
// through root id `experiment` configured with the checkout experiment as `tandem render`
// writes it (`hasFaults: false`: checkout.yaml has no faults), metrics on (the default) ÷
// the same config with `metrics: false`, same process, rounds alternating (as `envoy`).
// Target: metricsOverheadRatio <= 1.15.
//
// What metrics cost per decided request (bench host-calls, kinds returning vs
// returningMetricsOff): a clock read at request and at response headers, the :status
// read, upstream.address in on_log, one histogram sample (no fault mark: no fault filter
// shares the policy); the
// request and assignment counters cost no host call (held in the VM, flushed by the
// root's tick: wasm/filter/counter-buffer.ts). Streams here are proxied ones (the
// upstream's address is set, as Envoy's router sets it), so every request records its
// latency sample. The root's flush tick runs once per round inside the timing (Envoy
// runs it once a second; a round is well under one), so its cost is counted, generously.
import { WasmHost } from '../sim/envoy/index';
import { distPath, progress, renderedCheckoutExperiment } from './common';
import { RESPONSE_MAP, makeMix, median, type BenchRequest } from './requests';

const PROPS = { 'source.address': '10.1.2.3:51234', 'upstream.address': '10.9.8.7:8080' };

function lifecycle(host: WasmHost, req: BenchRequest): void {
  const s = host.newStream(PROPS);
  s.requestHeaders(req.envoy, true);
  s.responseHeaders(RESPONSE_MAP, false);
  s.done();
}

function timed(host: WasmHost, mix: BenchRequest[], offset: number, n: number): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) lifecycle(host, mix[(offset + i) % mix.length]);
  host.tick();   // no-op without an armed timer (metrics off)
  return Number(process.hrtime.bigint() - t0);
}

export async function metricsOverhead(rounds = 40, perRound = 5000, warmup = 20000) {
  const mix = makeMix(1000);
  const load = (metrics: boolean) => WasmHost.load({
    wasm: distPath('wasm/tandem.wasm'), rootId: 'experiment', configuration: JSON.stringify({ ...renderedCheckoutExperiment(), metrics }),
  });
  const on = await load(true);
  const off = await load(false);
  for (const h of [on, off, on, off]) timed(h, mix, 0, warmup / 2);
  const ratios: number[] = [];
  const onNs: number[] = [];
  const offNs: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const o = (r * perRound) % mix.length;
    let a: number, b: number;
    if (r % 2 === 0) { a = timed(on, mix, o, perRound); b = timed(off, mix, o, perRound); }
    else { b = timed(off, mix, o, perRound); a = timed(on, mix, o, perRound); }
    ratios.push(a / b);
    onNs.push(a / perRound);
    offNs.push(b / perRound);
    if (r % 20 === 19) progress(`metrics-overhead: round ${r + 1}/${rounds} ratio ${(a / b).toFixed(3)}`);
  }
  // the counts must have reached Envoy's stats: every decided request, once
  const requests = Object.entries(on.metrics).filter(([k]) => k.startsWith('wasmcustom.tandem_requests_total')).reduce((s, [, v]) => s + v, 0);
  const expected = warmup + rounds * perRound;
  if (requests !== expected) throw new Error(`metrics-overhead: ${requests} requests counted, ${expected} sent`);
  return {
    metricsOverheadRatio: median(ratios), ratioMin: Math.min(...ratios), ratioMax: Math.max(...ratios), rounds, requestsPerRound: perRound,
    onNsPerRequest: median(onNs), offNsPerRequest: median(offNs),
  };
}
