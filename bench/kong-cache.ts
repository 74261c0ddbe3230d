// Section `kong-cache`: what Kong's opt-in `fallback-cache` plugin costs a route. Its
// `response` phase makes Kong buffer every response of the route (kong/init.lua
// Kong.response: the whole answer read through ngx.location.capture before the client
// gets a byte), so the honest figure is throughput: the same route, the same traffic,
// through the Kong harness (real kong-js-pluginserver processes, real HTTP on loopback),
// with `circuit-breaker` alone (its policy has a cache fallback, which is then always a
// miss) against `circuit-breaker` + `fallback-cache`. Rounds alternate between the two
// gateways (A B, B A, ...); the figure is the median of the per-round ratios. Two body
// sizes: small JSON answers and 32 KiB ones (buffered whole, copied into the cache).
// The harness buffers in Node where Kong buffers in nginx (a subrequest, the body in Lua
// memory): the ratio says what the extra phase and its RPCs cost here; Kong's own
// buffering cost comes on top and is not modelled.
import http from 'node:http';
import { startKong, type KongGateway } from '../sim/kong/index';
import { distPath, progress } from './common';
import { median } from './requests';

const CONFIG = {
  policy: 'bench', key: 'route', consecutiveFailures: 5, minimumCalls: 100,
  fallbacks: [{ cache: { maxEntries: 1000, maxBodyBytes: 65536 } }, { respond: { status: 503 } }],
};
const PATHS = 200;   // distinct cache keys: each stored on first sight, looked up after

function upstream(body: Buffer): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=600' }).end(body);
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok({ server, port: (server.address() as any).port })));
}

async function round(gw: KongGateway, agent: http.Agent, offset: number, n: number, concurrency: number): Promise<number> {
  let next = 0;
  let failed = 0;
  const t0 = process.hrtime.bigint();
  const worker = async () => {
    while (next < n) {
      const i = next++;
      const status = await new Promise<number>((ok, fail) => {
        const r = http.request(`${gw.url}/items/${(offset + i) % PATHS}`, { agent, headers: { accept: 'application/json' } }, (res) => {
          res.resume();
          res.on('end', () => ok(res.statusCode ?? 0));
        });
        r.on('error', fail);
        r.end();
      });
      if (status !== 200) failed++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const ns = Number(process.hrtime.bigint() - t0);
  if (failed > 0) throw new Error(`kong-cache: ${failed} of ${n} requests did not get 200`);
  return ns;
}

export interface KongCacheSize {
  bodyBytes: number;
  throughputRatio: number;          // with fallback-cache ÷ without, req/s (median of rounds)
  withReqPerSec: number;
  withoutReqPerSec: number;
  ratioMin: number;
  ratioMax: number;
  // RPC round trips per request (HandleEvent included), all plugins, by phase
  rpcs: { with: { access: number; response: number; log: number }; without: { access: number; response: number; log: number } };
}

async function size(bodyBytes: number, rounds: number, perRound: number, concurrency: number): Promise<KongCacheSize> {
  const body = Buffer.from(JSON.stringify({ items: 'x'.repeat(Math.max(0, bodyBytes - 12)) }).slice(0, bodyBytes));
  const up = await upstream(body);
  const plugin = (name: string) => ({ name, dir: distPath(`kong/${name}`), config: CONFIG });
  const opts = { upstreams: { svc: { host: '127.0.0.1', port: up.port } }, defaultUpstream: 'svc', retries: 0 };
  const without = await startKong({ ...opts, plugins: [plugin('circuit-breaker')] });
  const withCache = await startKong({ ...opts, plugins: [plugin('circuit-breaker'), plugin('fallback-cache')] });
  const agents = new Map([[without, new http.Agent({ keepAlive: true, maxSockets: concurrency })], [withCache, new http.Agent({ keepAlive: true, maxSockets: concurrency })]]);
  try {
    // RPCs per request, counted on one pass over every path (first sight: stored) and
    // one more (found ahead, stored again).
    const rpcs = {} as KongCacheSize['rpcs'];
    for (const [name, gw] of [['with', withCache], ['without', without]] as const) {
      gw.resetStats();
      await round(gw, agents.get(gw)!, 0, 2 * PATHS, 1);
      await gw.logDone();
      const s = gw.rpcStats();
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      rpcs[name] = { access: mean(s.access), response: mean(s.response), log: mean(s.log) };
    }
    for (const gw of [without, withCache, without, withCache]) await round(gw, agents.get(gw)!, 0, perRound, concurrency);   // warm-up
    const ratios: number[] = [];
    const withRate: number[] = [];
    const withoutRate: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const off = (r * perRound) % PATHS;
      const order = r % 2 === 0 ? [without, withCache] : [withCache, without];
      const t = new Map<KongGateway, number>();
      for (const gw of order) { t.set(gw, await round(gw, agents.get(gw)!, off, perRound, concurrency)); await gw.logDone(); }
      const a = t.get(without)!;
      const b = t.get(withCache)!;
      withRate.push((perRound * 1e9) / b);
      withoutRate.push((perRound * 1e9) / a);
      ratios.push(a / b);
    }
    progress(`kong-cache ${bodyBytes} B: ratio ${median(ratios).toFixed(3)} (${Math.min(...ratios).toFixed(3)}-${Math.max(...ratios).toFixed(3)})`);
    return {
      bodyBytes, throughputRatio: median(ratios), withReqPerSec: median(withRate), withoutReqPerSec: median(withoutRate),
      ratioMin: Math.min(...ratios), ratioMax: Math.max(...ratios), rpcs,
    };
  } finally {
    for (const a of agents.values()) a.destroy();
    await without.close();
    await withCache.close();
    up.server.closeAllConnections();
    up.server.close();
  }
}

export async function kongCache(rounds = 8, perRound = 200, concurrency = 16): Promise<{ small: KongCacheSize; large: KongCacheSize; concurrency: number; rounds: number; requestsPerRound: number }> {
  const small = await size(120, rounds, perRound, concurrency);
  const large = await size(32768, rounds, perRound, concurrency);
  return { small, large, concurrency, rounds, requestsPerRound: perRound };
}
