// Soak section: a bounded load through both gateway simulators with upstreams that
// misbehave, checking the invariants users rely on rather than speed:
//   - every client request gets exactly one complete response (a status and a body; no
//     client-side error, nothing left hanging past the timeout),
//   - memory stays flat: the Kong plugin servers' resident set, the Envoy VMs' pages.
// The canary (api-v2) misbehaves per request, as the driver asks in `x-soak-mode`:
// 84% answer 200, 8% 503, 3% reset the connection before answering, 3% answer 60 ms
// late, 2% never answer (the gateways' 250 ms upstream timeout ends them). The
// experiment sends 50% of users there; the circuit breaker (count window 100, 50%)
// with a `respond` fallback and `on: [upstreamFailure]` stands in front.
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { startEnvoy } from '../sim/envoy/index';
import { startKong } from '../sim/kong/index';
import { distPath, progress } from './common';
import { rng } from './requests';
import { VARIANT_HEADER } from '../core-js/tandem-core';

const EXPERIMENT = {
  name: 'soak', stickiness: { sources: ['header:x-user-id'] },
  variants: [{ name: 'stable', weight: 50, upstream: 'api-v1' }, { name: 'canary', weight: 50, upstream: 'api-v2' }],
};
const BREAKER = {
  key: 'upstream', window: { type: 'count', size: 100 }, minimumCalls: 20, failureRateThreshold: 50, openDurationMs: 1000,
  fallback: { on: ['open', 'upstreamFailure'], respond: { status: 503, body: '{"degraded":true}', contentType: 'application/json' } },
};
const TIMEOUT_MS = 250;

type Mode = 'ok' | 'err' | 'reset' | 'slow' | 'hang';
function mode(x: number): Mode {
  return x < 0.84 ? 'ok' : x < 0.92 ? 'err' : x < 0.95 ? 'reset' : x < 0.98 ? 'slow' : 'hang';
}

function backend(flaky: boolean): Promise<{ server: http.Server; port: number; hung: Set<http.ServerResponse> }> {
  const hung = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    req.resume();
    const m = (flaky ? req.headers['x-soak-mode'] : 'ok') as Mode;
    if (m === 'reset') { req.socket.destroy(); return; }
    if (m === 'hang') { hung.add(res); res.on('close', () => hung.delete(res)); return; }
    const answer = () => res.writeHead(m === 'err' ? 503 : 200, { 'content-type': 'application/json' }).end('{"ok":true}');
    if (m === 'slow') setTimeout(answer, 60); else answer();
  });
  server.keepAliveTimeout = 30_000;
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as any).port, hung })));
}

interface Tally { sent: number; responses: number; errors: number; byStatus: Record<string, number>; maxMs: number }

// `n` requests, `concurrency` at a time over keep-alive connections; returns the tally.
async function drive(url: string, n: number, concurrency: number, seed: number, onProgress?: (done: number) => Promise<void>): Promise<Tally> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const r = rng(seed);
  const t: Tally = { sent: 0, responses: 0, errors: 0, byStatus: {}, maxMs: 0 };
  let next = 0;
  const one = (i: number) => new Promise<void>((resolve) => {
    const started = Date.now();
    let settled = 0;
    const settle = (status: number | null) => {
      if (++settled > 1) throw new Error(`request ${i} settled twice`);
      if (status === null) t.errors++;
      else { t.responses++; t.byStatus[status] = (t.byStatus[status] ?? 0) + 1; }
      t.maxMs = Math.max(t.maxMs, Date.now() - started);
      resolve();
    };
    const req = http.request(url + '/soak', {
      agent, headers: { 'x-user-id': `user-${Math.floor(r() * 5000)}`, 'x-soak-mode': mode(r()) },
    }, (res) => {
      res.resume();
      res.on('end', () => settle(res.statusCode ?? 0));
      res.on('error', () => settle(null));
    });
    req.setTimeout(10_000, () => req.destroy(new Error('client timeout')));
    req.on('error', () => { if (settled === 0) settle(null); });
    req.end();
    t.sent++;
  });
  const worker = async () => {
    while (next < n) {
      const i = next++;
      await one(i);
      if (onProgress && (i + 1) % 20_000 === 0) await onProgress(i + 1);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  agent.destroy();
  return t;
}

function rssKb(pid: number | undefined): number {
  if (!pid) return NaN;
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

export interface SoakSide { requests: number; responses: number; errors: number; byStatus: Record<string, number>; maxMs: number; seconds: number; memory: Record<string, [number, number]>; rssSeriesKb?: Record<string, Array<[number, number]>> }
export interface SoakResult { kong: SoakSide; envoy: SoakSide; concurrency: number }

export async function soak(requests = Number(process.env.SOAK_REQUESTS ?? 200_000), concurrency = 32): Promise<SoakResult> {
  const v1 = await backend(false);
  const v2 = await backend(true);
  const upstreams = { 'api-v1': { host: '127.0.0.1', port: v1.port }, 'api-v2': { host: '127.0.0.1', port: v2.port } };
  const warm = Math.min(20_000, Math.floor(requests / 10));
  const out: Partial<SoakResult> = { concurrency };

  // ---- Kong: both plugin servers, real HTTP
  {
    const gw = await startKong({
      plugins: [
        { name: 'experiment', dir: distPath('kong/experiment'), config: EXPERIMENT },
        { name: 'circuit-breaker', dir: distPath('kong/circuit-breaker'), config: BREAKER },
      ],
      upstreams, defaultUpstream: 'api-v1', retries: 0, upstreamTimeoutMs: TIMEOUT_MS,
    });
    const pids = { experiment: gw.pluginServer('experiment').pid, 'circuit-breaker': gw.pluginServer('circuit-breaker').pid };
    const started = Date.now();
    await drive(gw.url, warm, concurrency, 1);
    const before = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, rssKb(p)]));
    // each plugin server's resident set at every checkpoint (requests done after warm-up, kB)
    const series: Record<string, Array<[number, number]>> = Object.fromEntries(Object.keys(pids).map((k) => [k, [[0, before[k]]]]));
    const t = await drive(gw.url, requests, concurrency, 2, async (d) => {
      for (const [k, p] of Object.entries(pids)) series[k].push([d, rssKb(p)]);
      progress(`soak kong: ${d} requests, plugin servers' RSS ${Object.keys(pids).map((k) => `${k} ${series[k][series[k].length - 1][1]} kB`).join(', ')}`);
    });
    await gw.logDone();
    const after = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, rssKb(p)]));
    for (const k of Object.keys(pids)) series[k].push([requests, after[k]]);
    out.kong = { ...t, requests, seconds: (Date.now() - started) / 1000, memory: Object.fromEntries(Object.keys(pids).map((k) => [`${k}RssKb`, [before[k], after[k]]])), rssSeriesKb: series };
    await gw.close();
  }
  // ---- Envoy: tandem.wasm, both root ids, 2 workers, real HTTP
  {
    const wasm = distPath('wasm/tandem.wasm');
    const gw = await startEnvoy({
      filters: [
        { wasm, rootId: 'experiment', configuration: JSON.stringify(EXPERIMENT) },
        { wasm, rootId: 'circuit-breaker', configuration: JSON.stringify(BREAKER) },
      ],
      clusters: upstreams,
      routes: [{ header: { name: VARIANT_HEADER, value: 'canary' }, cluster: 'api-v2' }, { cluster: 'api-v1' }],
      upstreamTimeoutMs: TIMEOUT_MS,
    });
    const started = Date.now();
    await drive(gw.url, warm, concurrency, 1);
    const before = gw.memoryPages();
    const t = await drive(gw.url, requests, concurrency, 2, async (d) => progress(`soak envoy: ${d} requests`));
    const after = gw.memoryPages();
    out.envoy = { ...t, requests, seconds: (Date.now() - started) / 1000, memory: Object.fromEntries(before.map((p, i) => [`vm${i}Pages`, [p, after[i]]])) };
    await gw.close();
  }
  for (const b of [v1, v2]) { for (const r of b.hung) r.destroy(); b.server.closeAllConnections(); b.server.close(); }
  for (const side of ['kong', 'envoy'] as const) {
    const s = out[side]!;
    progress(`soak ${side}: ${s.responses}/${s.requests} responses, ${s.errors} errors, statuses ${JSON.stringify(s.byStatus)}, slowest ${s.maxMs} ms, memory ${JSON.stringify(s.memory)}, ${s.seconds.toFixed(0)} s`);
  }
  return out as SoakResult;
}
