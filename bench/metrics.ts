// Section metrics-overhead: the cost of tandem's metrics on Envoy. The request mix
// through root id `experiment` configured with the checkout experiment, metrics on (the
// default: per decided request an assignment increment, a clock read at request and
// response headers, the :status read, the outcome's properties in on_log, a request
// increment and a histogram sample) ÷ the same config with `metrics: false`, same
// process, rounds alternating (as `envoy`). Target: metricsOverheadRatio <= 1.15.
import { WasmHost } from '../sim/envoy/index';
import { lifecycle } from './envoy';
import { checkoutExperiment, distPath, progress } from './common';
import { makeMix, median, type BenchRequest } from './requests';

function timed(host: WasmHost, mix: BenchRequest[], offset: number, n: number): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) lifecycle(host, mix[(offset + i) % mix.length]);
  return Number(process.hrtime.bigint() - t0);
}

export async function metricsOverhead(rounds = 40, perRound = 5000, warmup = 20000) {
  const mix = makeMix(1000);
  const load = (metrics: boolean) => WasmHost.load({
    wasm: distPath('wasm/tandem.wasm'), rootId: 'experiment', configuration: JSON.stringify({ ...checkoutExperiment(), policy: 'checkout', metrics }),
  });
  const on = await load(true);
  const off = await load(false);
  for (const h of [on, off, on, off]) timed(h, mix, 0, warmup / 2);
  const ratios: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const o = (r * perRound) % mix.length;
    let a: number, b: number;
    if (r % 2 === 0) { a = timed(on, mix, o, perRound); b = timed(off, mix, o, perRound); }
    else { b = timed(off, mix, o, perRound); a = timed(on, mix, o, perRound); }
    ratios.push(a / b);
    if (r % 20 === 19) progress(`metrics-overhead: round ${r + 1}/${rounds} ratio ${(a / b).toFixed(3)}`);
  }
  return { metricsOverheadRatio: median(ratios), ratioMin: Math.min(...ratios), ratioMax: Math.max(...ratios), rounds, requestsPerRound: perRound };
}
