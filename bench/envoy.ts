// Envoy sections: per-request overhead of tandem.wasm against the SDK's no-op filter,
// and linear-memory growth over 1,000,000 stream lifecycles. Both in the Envoy
// harness's direct WasmHost API (no sockets): the host work per request (header maps,
// pairs, context bookkeeping) is the same for both filters, so the ratio isolates
// what the filter itself costs on top of the smallest filter the same SDK builds.
import { WasmHost, type Pair } from '../test/harness/envoy/index';
import { RESPONSE_HEADERS, makeMix, median, type BenchRequest } from './requests';
import { checkoutExperiment, distPath, progress } from './common';

const PROPS = { 'source.address': '10.1.2.3:51234' };

export async function loadTandem(configuration = JSON.stringify(checkoutExperiment())): Promise<WasmHost> {
  return WasmHost.load({ wasm: distPath('wasm/tandem.wasm'), rootId: 'experiment', configuration });
}
export async function loadNoop(): Promise<WasmHost> {
  // same configuration text as tandem (the SDK's default onConfigure reads and keeps it)
  return WasmHost.load({ wasm: distPath('wasm/noop.wasm'), rootId: 'noop', configuration: JSON.stringify(checkoutExperiment()) });
}

export async function loadLeanNoop(): Promise<WasmHost> {
  return WasmHost.load({ wasm: distPath('wasm/noop-lean.wasm'), rootId: 'noop', configuration: JSON.stringify(checkoutExperiment()) });
}

/** One full stream lifecycle: context create, request headers, response headers, log/done/delete. */
export function lifecycle(host: WasmHost, req: BenchRequest): void {
  const s = host.newStream(PROPS);
  s.requestHeaders(req.pairs, true);
  s.responseHeaders(RESPONSE_HEADERS, false);
  s.done();
}

/** Runs `n` lifecycles over the mix starting at `offset`; returns elapsed ns. */
function timed(host: WasmHost, mix: BenchRequest[], offset: number, n: number): number {
  const len = mix.length;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) lifecycle(host, mix[(offset + i) % len]);
  return Number(process.hrtime.bigint() - t0);
}

export interface EnvoyOverhead {
  overheadRatio: number;
  tandemNsPerRequest: number;
  noopNsPerRequest: number;
  /** tandem ÷ a no-op on tandem's own dispatcher: the decision's own cost */
  overheadRatioVsLeanNoop: number;
  leanNoopNsPerRequest: number;
  rounds: number;
  requestsPerRound: number;
  ratioMin: number;
  ratioMax: number;
}

export async function envoyOverhead(rounds = 60, perRound = 5000, warmup = 20000): Promise<EnvoyOverhead> {
  const mix = makeMix(1000);
  const tandem = await loadTandem();
  const noop = await loadNoop();
  const lean = await loadLeanNoop();
  // sanity: the filter really decides (variant header in, Set-Cookie out for new users)
  checkDecides(tandem, mix);
  for (const h of [tandem, noop, lean, tandem, noop, lean]) timed(h, mix, 0, warmup / 2);
  const ratios: number[] = [];
  const leanRatios: number[] = [];
  const tNs: number[] = [];
  const nNs: number[] = [];
  const lNs: number[] = [];
  for (let r = 0; r < rounds; r++) {
    // alternate which filter goes first, so drift within a round pair cancels out
    const off = (r * perRound) % mix.length;
    let t: number, n: number;
    if (r % 2 === 0) {
      t = timed(tandem, mix, off, perRound);
      n = timed(noop, mix, off, perRound);
    } else {
      n = timed(noop, mix, off, perRound);
      t = timed(tandem, mix, off, perRound);
    }
    const l = timed(lean, mix, off, perRound);
    tNs.push(t / perRound);
    nNs.push(n / perRound);
    lNs.push(l / perRound);
    ratios.push(t / n);
    leanRatios.push(t / l);
    if (r % 20 === 19) progress(`envoy: round ${r + 1}/${rounds} ratio ${(t / n).toFixed(3)}`);
  }
  return {
    overheadRatio: median(ratios),
    tandemNsPerRequest: median(tNs),
    noopNsPerRequest: median(nNs),
    overheadRatioVsLeanNoop: median(leanRatios),
    leanNoopNsPerRequest: median(lNs),
    rounds,
    requestsPerRound: perRound,
    ratioMin: Math.min(...ratios),
    ratioMax: Math.max(...ratios),
  };
}

function checkDecides(host: WasmHost, mix: BenchRequest[]): void {
  for (const req of mix.slice(0, 20)) {
    const s = host.newStream(PROPS);
    const r = s.requestHeaders(req.pairs, true);
    const variant = r.headers.find(([k]) => k === 'x-tandem-variant');
    const resp = s.responseHeaders(RESPONSE_HEADERS, false);
    const cookie = resp.headers.find(([k]) => k === 'set-cookie');
    s.done();
    if (!variant) throw new Error(`envoy: tandem.wasm set no x-tandem-variant for a ${req.kind} request`);
    if ((req.kind === 'new') !== !!cookie) throw new Error(`envoy: unexpected Set-Cookie presence for a ${req.kind} request`);
  }
  if (host.failed) throw new Error('envoy: tandem VM failed');
}

export interface MemoryGrowth {
  memoryGrowthPages: number;
  pagesAfterWarmup: number;
  pagesAfterRun: number;
  requests: number;
  nsPerRequest: number;
}

export async function memoryGrowth(requests = 1_000_000, warmup = 10_000): Promise<MemoryGrowth> {
  const mix = makeMix(1000, 0x51ab);
  const host = await loadTandem();
  timed(host, mix, 0, warmup);
  const before = host.memoryPages();
  let ns = 0;
  const chunk = 100_000;
  for (let done = 0; done < requests; done += chunk) {
    ns += timed(host, mix, done, Math.min(chunk, requests - done));
    if ((done / chunk) % 2 === 1) progress(`memory: ${done + chunk} requests, ${host.memoryPages()} pages`);
  }
  if (host.failed) throw new Error('memory: tandem VM failed during the run');
  const after = host.memoryPages();
  return { memoryGrowthPages: after - before, pagesAfterWarmup: before, pagesAfterRun: after, requests, nsPerRequest: ns / requests };
}
