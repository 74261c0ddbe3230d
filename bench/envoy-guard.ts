// envoy.guardOverheadRatio: the `experiment` filter with a canary guard on the variant
// every request of the mix lands on (the worst case: each request is admitted through
// the guard's state in shared data and its outcome recorded there, read + CAS write),
// ÷ the SDK's no-op filter, per stream — the same ratio as envoy.breakerOverheadRatio,
// whose target (≤ 2.0, shared-data round trips included) it is held to. Also the same
// policy without the guard, so the guard's own share is visible:
// guardCostRatio = guarded ÷ unguarded.
import { SharedData, WasmHost } from '../sim/envoy/index';
import { HeaderMap } from '../sim/envoy/header-map';
import { RESPONSE_MAP, makeMix, median, type BenchRequest } from './requests';
import { checkoutExperiment, distPath, progress } from './common';
import { GUARD_PREFIX } from '../core-js/shared-state';
import { VARIANT_HEADER } from '../core-js/tandem-core';

// The router picked a host: the guard counts the outcome (wasm/filter/experiment-filter.ts).
const PROPS = { 'source.address': '10.1.2.3:51234', 'upstream.address': '10.0.0.2:8080' };
const FAILED = HeaderMap.encoded([[':status', '503'], ['content-type', 'text/plain']], 'response');
export const GUARD_FAILURE_SHARE = 0.05;

/** checkout.yaml's experiment with every user on a guarded canary (or the same unguarded). */
function guardedExperiment(guard: boolean): Record<string, unknown> {
  const ex = checkoutExperiment() as { variants: Array<Record<string, unknown>> };
  return {
    ...ex,
    variants: [
      { ...ex.variants[0], weight: 0 },
      {
        ...ex.variants[1], weight: 100,
        ...(guard ? { guard: { window: { type: 'count', size: 100 }, minimumCalls: 20, failureRateThreshold: 50, cooldownMs: 30000, to: ex.variants[0].name } } : {}),
      },
    ],
  };
}

function lifecycle(host: WasmHost, req: BenchRequest, fail: boolean): void {
  const s = host.newStream(PROPS);
  s.requestHeaders(req.envoy, true);
  s.responseHeaders(fail ? FAILED : RESPONSE_MAP, false);
  s.done();
}

function timed(host: WasmHost, mix: BenchRequest[], offset: number, n: number): number {
  const len = mix.length;
  const every = Math.round(1 / GUARD_FAILURE_SHARE);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) { const k = (offset + i) % len; lifecycle(host, mix[k], k % every === 0); }
  return Number(process.hrtime.bigint() - t0);
}

export interface EnvoyGuard {
  guardOverheadRatio: number;
  guardCostRatio: number;
  guardedNsPerRequest: number;
  unguardedNsPerRequest: number;
  noopNsPerRequest: number;
  ratioMin: number;
  ratioMax: number;
  rounds: number;
  requestsPerRound: number;
  failureShare: number;
  rerouted: number;
  sharedDataOps: { getsPerRequest: number; setsPerRequest: number };
}

export async function envoyGuardOverhead(rounds = 48, perRound = 5000, warmup = 20000): Promise<EnvoyGuard> {
  const mix = makeMix(1000);
  const sharedData = new SharedData();
  const guardedText = JSON.stringify(guardedExperiment(true));
  const guarded = await WasmHost.load({ wasm: distPath('wasm/tandem.wasm'), rootId: 'experiment', configuration: guardedText, sharedData });
  const unguarded = await WasmHost.load({ wasm: distPath('wasm/tandem.wasm'), rootId: 'experiment', configuration: JSON.stringify(guardedExperiment(false)), sharedData });
  const noop = await WasmHost.load({ wasm: distPath('wasm/noop.wasm'), rootId: 'noop', configuration: guardedText, sharedData });
  // sanity: every request goes to the canary through the guard, whose state is in shared data
  for (const req of mix.slice(0, 40)) {
    const s = guarded.newStream(PROPS);
    const r = s.requestHeaders(req.pairs, true);
    s.responseHeaders(RESPONSE_MAP, false);
    s.done();
    if (!r.headers.some(([k, v]) => k === VARIANT_HEADER && v === 'canary')) throw new Error('envoy-guard: a request did not reach the canary');
  }
  if (!sharedData.keys('').some((k) => k.startsWith(GUARD_PREFIX))) throw new Error('envoy-guard: no guard state in shared data');

  const hosts = [guarded, unguarded, noop];
  for (const h of [...hosts, ...hosts]) timed(h, mix, 0, warmup / 2);
  const ns: number[][] = [[], [], []];
  const ratios: number[] = [];
  const costs: number[] = [];
  const orders = [[0, 1, 2], [1, 2, 0], [2, 0, 1], [0, 2, 1], [2, 1, 0], [1, 0, 2]];
  for (let r = 0; r < rounds; r++) {
    const off = (r * perRound) % mix.length;
    const t = [0, 0, 0];
    for (const j of orders[r % orders.length]) t[j] = timed(hosts[j], mix, off, perRound);
    for (let j = 0; j < 3; j++) ns[j].push(t[j] / perRound);
    ratios.push(t[0] / t[2]);
    costs.push(t[0] / t[1]);
    if (r % 16 === 15) progress(`envoy-guard: round ${r + 1}/${rounds} ratio ${(t[0] / t[2]).toFixed(3)}`);
  }
  // Shared-data traffic per request, counted after timing.
  const ops = { get: 0, set: 0 };
  const get = sharedData.get.bind(sharedData);
  const set = sharedData.set.bind(sharedData);
  sharedData.get = (vm, key) => { ops.get++; return get(vm, key); };
  sharedData.set = (vm, key, value, cas) => { ops.set++; return set(vm, key, value, cas); };
  timed(guarded, mix, 0, mix.length);
  // The guard stayed closed (5% failures < 50%): nothing rerouted.
  if (guarded.failed) throw new Error('envoy-guard: the filter VM failed');
  const rerouted = guarded.metrics['wasmcustom.tandem_guard_rerouted'] ?? 0;
  if (rerouted !== 0) throw new Error(`envoy-guard: the guard rerouted ${rerouted} requests`);
  progress(`envoy-guard: ${(ops.get / mix.length).toFixed(2)} gets + ${(ops.set / mix.length).toFixed(2)} sets per request`);
  return {
    guardOverheadRatio: median(ratios),
    guardCostRatio: median(costs),
    guardedNsPerRequest: median(ns[0]),
    unguardedNsPerRequest: median(ns[1]),
    noopNsPerRequest: median(ns[2]),
    ratioMin: Math.min(...ratios),
    ratioMax: Math.max(...ratios),
    rounds,
    requestsPerRound: perRound,
    failureShare: GUARD_FAILURE_SHARE,
    rerouted,
    sharedDataOps: { getsPerRequest: ops.get / mix.length, setsPerRequest: ops.set / mix.length },
  };
}
