// Section cache-overhead: the cost of the cache fallback on Envoy. Root id
// `circuit-breaker` with `fallback: [{cache}, {respond}]` on small JSON answers (GET, 200,
// Cache-Control max-age=60, a 120-byte body in one data frame, then the empty end-of-stream
// frame): per request the key is derived from the request's facts, the response head
// checked by the core's rules, the body copied aside and the entry stored in shared data
// (its set's index read and written with CAS, the entry written) — over 500 paths, so
// after the first pass every store replaces its key's entry. ÷ the SDK's no-op filter
// on the same stream lifecycle (request headers, response headers, both body frames),
// rounds alternating, the median of the per-round ratios. Target: cacheOverheadRatio <= 2.5.
import { SharedData, WasmHost, type Pair } from '../sim/envoy/index';
import { distPath, progress } from './common';
import { median } from './requests';

const PATHS = 500;
const CONFIG = {
  key: 'route', consecutiveFailures: 1000, minimumCalls: 1000,
  fallback: [{ cache: { maxEntries: 1000, maxBodyBytes: 4096, ttlMs: 300000 } }, { respond: { status: 503, body: 'try again' } }],
};
const BODY = JSON.stringify({ items: [{ id: 1, name: 'espresso', price: 2.5 }, { id: 2, name: 'flat white', price: 3.2 }], page: 1, more: false });
const RESPONSE: Pair[] = [
  [':status', '200'], ['content-type', 'application/json'], ['cache-control', 'max-age=60'],
  ['content-length', String(Buffer.byteLength(BODY))], ['date', 'Mon, 07 Dec 2026 03:00:00 GMT'], ['x-envoy-upstream-service-time', '3'],
];

function requests(): Pair[][] {
  const out: Pair[][] = [];
  for (let i = 0; i < PATHS; i++) {
    out.push([
      [':authority', 'shop.example.com'], [':path', `/api/catalog/items?page=${i}`], [':method', 'GET'], [':scheme', 'https'],
      ['user-agent', 'Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/120.0'], ['accept', 'application/json'],
      ['accept-encoding', 'gzip, deflate, br'], ['accept-language', 'en-US,en;q=0.5'], ['x-forwarded-proto', 'https'],
      ['x-request-id', `7b0b1e4a-3f5c-4e0e-9c1d-${i.toString(16).padStart(12, '0')}`],
    ]);
  }
  return out;
}

function lifecycle(h: WasmHost, req: Pair[]): void {
  const s = h.newStream();
  s.requestHeaders(req, true);
  s.responseHeaders(RESPONSE, false);
  s.responseBody(BODY, false);
  s.responseBody('', true);
  s.done();
}

function timed(h: WasmHost, reqs: Pair[][], offset: number, n: number): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) lifecycle(h, reqs[(offset + i) % reqs.length]);
  return Number(process.hrtime.bigint() - t0);
}

export async function cacheOverhead(rounds = 40, perRound = 4000, warmup = 20000) {
  const reqs = requests();
  const sharedData = new SharedData();
  const configuration = JSON.stringify(CONFIG);
  const cache = await WasmHost.load({ wasm: distPath('wasm/tandem.wasm'), rootId: 'circuit-breaker', configuration, sharedData });
  const noop = await WasmHost.load({ wasm: distPath('wasm/noop.wasm'), rootId: 'noop', configuration, sharedData });
  // sanity: every path stored (an entry per path, prefixed), sizes as the layout says
  for (const r of reqs) lifecycle(cache, r);
  const entries = sharedData.keys('').filter((k) => /^tandem:fc:[0-9a-f]{8}:e/.test(k));
  if (entries.length < PATHS * 0.95) throw new Error(`cache-overhead: ${entries.length} entries stored for ${PATHS} paths`);
  for (const h of [cache, noop, cache, noop]) timed(h, reqs, 0, warmup / 2);
  const ratios: number[] = [];
  const ns: number[][] = [[], []];
  for (let r = 0; r < rounds; r++) {
    const o = (r * perRound) % reqs.length;
    let a: number, b: number;
    if (r % 2 === 0) { a = timed(cache, reqs, o, perRound); b = timed(noop, reqs, o, perRound); }
    else { b = timed(noop, reqs, o, perRound); a = timed(cache, reqs, o, perRound); }
    ratios.push(a / b);
    ns[0].push(a / perRound);
    ns[1].push(b / perRound);
    if (r % 20 === 19) progress(`cache-overhead: round ${r + 1}/${rounds} ratio ${(a / b).toFixed(3)}`);
  }
  const entryBytes = entries.reduce((t, k) => t + (sharedData.get('', k)?.value.length ?? 0), 0);
  return {
    cacheOverheadRatio: median(ratios), ratioMin: Math.min(...ratios), ratioMax: Math.max(...ratios),
    cacheNsPerRequest: median(ns[0]), noopNsPerRequest: median(ns[1]), rounds, requestsPerRound: perRound,
    entries: entries.length, entryBytes, bodyBytes: Buffer.byteLength(BODY),
  };
}
