// Kong sections.
//  rpcs:       RPC round trips per request of the `experiment` plugin through the Kong
//              harness (startKong: real kong-js-pluginserver, real HTTP on loopback),
//              counted by the harness (rpcStats: HandleEvent + every Step); then of
//              `experiment` + `circuit-breaker` together (as `tandem simulate --via
//              kong` runs them), per plugin and per request, admitted and rejected.
//  throughput: experiment's req/s ÷ kong-baseline's (a logic-free plugin making the same
//              PDK calls), through the low-level PluginServer API: no HTTP, a fake PDK
//              answers every call, 64 requests in flight over pooled connections. Each
//              plugin has its own plugin-server process; rounds alternate between them.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { PluginServer, startKong, storedConfig } from '../sim/kong/index';
import { configFieldsOf, kongConf } from '../sim/kong/plugin-registry';
import { BREAKER_CONFIG, BREAKER_FAILURE_SHARE, FALLBACK_BODY, checkoutExperiment, distPath, progress, ROOT } from './common';
import { makeMix, makeRequest, median, rng, type BenchRequest, type Kind } from './requests';

export const BASELINE_DIR = path.join(ROOT, 'test', 'fixtures', 'bench', 'kong-baseline');

// ------------------------------------------------------------------------ rpcs

function upstream(): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as any).port })));
}

function send(url: string, req: BenchRequest, reqPath = req.path): Promise<{ status: number; setCookie: boolean }> {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.kongHeaders)) headers[k] = v[0];
  return new Promise((resolve, reject) => {
    const r = http.request(url + reqPath, { method: 'GET', headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, setCookie: !!res.headers['set-cookie'] }));
    });
    r.on('error', reject);
    r.end();
  });
}

export type RpcKind = Kind | 'outOfScope' | 'scopedNew' | 'scopedReturning';

export interface KongRpcs {
  /** max over deploy/examples/checkout.yaml's request kinds (the policy) */
  accessRpcs: number;
  /** max over the same policy with a host + path scope: a path fact costs one more RPC */
  accessRpcsScoped: number;
  logRpcs: number;
  accessRpcsMean: number;
  /** max access round trips per request kind */
  accessRpcsByKind: Record<string, number>;
  scope: unknown;
}

/** The scope used for the out-of-scope requests: the checkout pages of the shop. */
export const BENCH_SCOPE = { hosts: ['shop.example.com'], pathPrefixes: ['/checkout'] };

export async function kongRpcs(): Promise<KongRpcs> {
  const v1 = await upstream();
  const v2 = await upstream();
  const checkout = checkoutExperiment();
  const gw = await startKong({
    plugins: [{ name: 'experiment', dir: distPath('kong/experiment'), config: checkout }],
    upstreams: { 'api-v1': { host: '127.0.0.1', port: v1.port }, 'api-v2': { host: '127.0.0.1', port: v2.port } },
    defaultUpstream: 'api-v1',
    retries: 0,
  });
  const byKind: Record<string, number> = {};
  const access: number[] = [];
  const log: number[] = [];
  const record = async (kind: RpcKind, run: () => Promise<{ status: number; setCookie: boolean }>) => {
    gw.resetStats();
    const r = await run();
    await gw.logDone();
    const st = gw.rpcStats();
    if (r.status !== 200) throw new Error(`kong: ${kind} request answered ${r.status}: ${JSON.stringify(gw.logs())}`);
    const wantCookie = kind === 'new' || kind === 'scopedNew';
    if (r.setCookie !== wantCookie) throw new Error(`kong: ${kind} request ${r.setCookie ? 'got' : 'got no'} Set-Cookie`);
    const a = st.access[0] ?? 0;
    const l = st.log[0] ?? 0;
    byKind[kind] = Math.max(byKind[kind] ?? 0, a);
    log.push(l);
    return a;
  };
  try {
    // 1. deploy/examples/checkout.yaml as is (no scope): the 80/10/10 mix
    const mix = makeMix(100, 0xc0de);
    for (const req of mix) access.push(await record(req.kind, () => send(gw.url, req)));
    // 2. the same policy limited to the shop's checkout pages: requests outside it, and
    //    new/returning users inside it (a path scope makes the plugin fetch the path)
    await gw.configure('experiment', { ...checkout, scope: BENCH_SCOPE });
    const r = rng(0x5c09e);
    for (let i = 0; i < 10; i++) {
      await record('outOfScope', () => send(gw.url, makeRequest(r, i % 2 ? 'new' : 'returning'), '/account/orders'));
      await record('scopedNew', () => send(gw.url, makeRequest(r, 'new'), '/checkout/cart'));
      await record('scopedReturning', () => send(gw.url, makeRequest(r, 'returning'), '/checkout/cart'));
    }
    if (gw.logs('err').length) throw new Error(`kong: errors logged: ${JSON.stringify(gw.logs('err'))}`);
  } finally {
    await gw.close();
    v1.server.close();
    v2.server.close();
  }
  return {
    accessRpcs: Math.max(byKind.new ?? 0, byKind.returning ?? 0, byKind.header ?? 0),
    accessRpcsScoped: Math.max(byKind.outOfScope ?? 0, byKind.scopedNew ?? 0, byKind.scopedReturning ?? 0),
    logRpcs: Math.max(...log),
    accessRpcsMean: access.reduce((a, b) => a + b, 0) / access.length,
    accessRpcsByKind: byKind,
    scope: BENCH_SCOPE,
  };
}

// ------------------------------------------------------------ breaker rpcs

/** Round trips per request of one plugin in one phase (max), or 0 when it had none. */
interface PhaseRpcs { access: number; log: number }

export interface KongBreakerRpcs {
  /** the circuit-breaker plugin's own round trips: max over admitted and rejected requests */
  accessRpcs: number;
  logRpcs: number;
  byOutcome: { admitted: PhaseRpcs; rejected: PhaseRpcs };
  /** the experiment plugin's round trips in the same gateway */
  experiment: PhaseRpcs;
  /** per request, both plugins together (the harness's per-request count) */
  combined: PhaseRpcs;
  requests: { admitted: number; rejected: number };
  /** upstream 503 share of the admitted step */
  failureShare: number;
}

/** Loopback upstream answering the status the request asks for (x-bench-status); counts its hits. */
function statusUpstream(hits: { n: number }): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer((req, res) => {
    req.resume();
    hits.n++;
    const status = Number(req.headers['x-bench-status'] ?? 200) || 200;
    res.writeHead(status, { 'content-type': 'application/json' }).end('{"ok":' + (status < 500) + '}');
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as any).port })));
}

function sendWithBody(url: string, req: BenchRequest, status: number): Promise<{ status: number; body: string }> {
  const headers: Record<string, string> = { 'x-bench-status': String(status) };
  for (const [k, v] of Object.entries(req.kongHeaders)) headers[k] = v[0];
  return new Promise((resolve, reject) => {
    const r = http.request(url + req.path, { method: 'GET', headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    r.on('error', reject);
    r.end();
  });
}

/**
 * `experiment` (checkout policy) and `circuit-breaker` (BREAKER_CONFIG, key `upstream`:
 * the variant the experiment picked) on one gateway, as `tandem simulate --via kong`
 * and `tandem render` set them up. Each plugin server's bridge is wrapped to count its
 * own round trips (the harness counts per request and phase, summed over plugins).
 *  1. admitted: 100 requests of the 80/10/10 mix, ~5% answered 503 by the upstream
 *     (the breakers stay closed: every answer must be the upstream's);
 *  2. rejected: every upstream answer 503 until the breakers of both variants are open
 *     (requests answered by the fallback are rejected ones), then 30 more requests.
 */
export async function kongBreakerRpcs(): Promise<KongBreakerRpcs> {
  const hits = { n: 0 };
  const v1 = await statusUpstream(hits);
  const v2 = await statusUpstream(hits);
  const checkout = checkoutExperiment();
  const breakerConfig = { ...BREAKER_CONFIG, variantUpstreams: { stable: 'api-v1', canary: 'api-v2' } };
  const gw = await startKong({
    plugins: [
      { name: 'experiment', dir: distPath('kong/experiment'), config: checkout },
      { name: 'circuit-breaker', dir: distPath('kong/circuit-breaker'), config: breakerConfig },
    ],
    upstreams: { 'api-v1': { host: '127.0.0.1', port: v1.port }, 'api-v2': { host: '127.0.0.1', port: v2.port } },
    defaultUpstream: 'api-v1',
    retries: 0,
  });
  // Per plugin round trips of the current request: wrap each plugin server's bridge.
  const counts: Record<string, Record<string, number>> = {};
  for (const name of ['experiment', 'circuit-breaker']) {
    const srv = gw.pluginServer(name);
    const orig = srv.bridge.bind(srv);
    const c: Record<string, number> = (counts[name] = {});
    srv.bridge = ((iid: number, phase: string, onCall: any, onRoundTrip?: () => void) =>
      orig(iid, phase, onCall, () => {
        c[phase] = (c[phase] ?? 0) + 1;
        onRoundTrip?.();
      })) as typeof srv.bridge;
  }
  const max = (a: PhaseRpcs, access: number, log: number) => {
    a.access = Math.max(a.access, access);
    a.log = Math.max(a.log, log);
  };
  const byOutcome = { admitted: { access: 0, log: 0 }, rejected: { access: 0, log: 0 } };
  const experiment = { access: 0, log: 0 };
  const combined = { access: 0, log: 0 };
  const requests = { admitted: 0, rejected: 0 };
  const one = async (req: BenchRequest, status: number): Promise<boolean> => {
    gw.resetStats();
    for (const c of Object.values(counts)) for (const k of Object.keys(c)) delete c[k];
    const before = hits.n;
    const r = await sendWithBody(gw.url, req, status);
    await gw.logDone();
    const rejected = r.body === FALLBACK_BODY;
    if (rejected ? r.status !== 503 || hits.n !== before : r.status !== status || hits.n !== before + 1) {
      throw new Error(`kong-breaker: unexpected answer ${r.status} ${JSON.stringify(r.body)} (upstream asked for ${status}, ${hits.n - before} upstream hits)`);
    }
    const cb = counts['circuit-breaker'];
    const ex = counts.experiment;
    max(rejected ? byOutcome.rejected : byOutcome.admitted, cb.access ?? 0, cb.log ?? 0);
    max(experiment, ex.access ?? 0, ex.log ?? 0);
    const st = gw.rpcStats();
    max(combined, st.access[0] ?? 0, st.log[0] ?? 0);
    if ((st.access[0] ?? 0) !== (cb.access ?? 0) + (ex.access ?? 0) || (st.log[0] ?? 0) !== (cb.log ?? 0) + (ex.log ?? 0)) {
      throw new Error(`kong-breaker: per-plugin counts ${JSON.stringify(counts)} do not add up to the request's ${JSON.stringify(st)}`);
    }
    requests[rejected ? 'rejected' : 'admitted']++;
    return rejected;
  };
  let failureShare = 0;
  try {
    // 1. admitted, ~5% upstream failures: nothing may be rejected
    const r = rng(0x0b5e);
    const mix = makeMix(100, 0xcb01);
    let failed = 0;
    for (const req of mix) {
      const status = r() < BREAKER_FAILURE_SHARE ? 503 : 200;
      if (status === 503) failed++;
      if (await one(req, status)) throw new Error('kong-breaker: a request was rejected while the breakers should be closed');
    }
    failureShare = failed / mix.length;
    // 2. every answer a failure until both variants' breakers are open, then 30 more
    const more = makeMix(2000, 0xcb02);
    let i = 0;
    let streak = 0;
    for (; i < more.length && streak < 30; i++) streak = (await one(more[i], 503)) ? streak + 1 : 0;
    for (let j = 0; j < 30 && i < more.length; j++, i++) await one(more[i], 503);
    if (requests.rejected < 30) throw new Error(`kong-breaker: only ${requests.rejected} requests rejected after ${i} failing ones`);
    if (gw.logs('err').length) throw new Error(`kong-breaker: errors logged: ${JSON.stringify(gw.logs('err'))}`);
  } finally {
    await gw.close();
    v1.server.close();
    v2.server.close();
  }
  progress(`kong-rpcs: circuit-breaker ${JSON.stringify(byOutcome)} over ${requests.admitted} admitted / ${requests.rejected} rejected; experiment ${JSON.stringify(experiment)}; per request ${JSON.stringify(combined)}`);
  return {
    accessRpcs: Math.max(byOutcome.admitted.access, byOutcome.rejected.access),
    logRpcs: Math.max(byOutcome.admitted.log, byOutcome.rejected.log),
    byOutcome,
    experiment,
    combined,
    requests,
    failureShare,
  };
}

// ------------------------------------------------------------------ throughput

type Pdk = (method: string, args: any[]) => any;

/** Kong's config for StartInstance: the stored config plus Kong's own keys. */
async function startPlugin(dir: string): Promise<{ server: PluginServer; iid: number; name: string }> {
  const [info] = await PluginServer.query(dir);
  const server = await PluginServer.start(dir, { poolSize: 64 });
  const stored = storedConfig(configFieldsOf(info), info.Name === 'experiment' ? checkoutExperiment() : {});
  const ids = { workspaceId: 'ws-bench', routeId: 'route-bench', serviceId: 'service-bench' };
  const conf = kongConf({ name: info.Name, scope: 'route', id: `plugin-${info.Name}`, stored }, ids, 1);
  const iid = await server.startInstance(info.Name, conf);
  return { server, iid, name: info.Name };
}

/** The fake PDK: the request's headers for get_headers, nil for everything else. */
function fakePdk(req: BenchRequest, calls?: string[]): Pdk {
  return (method) => {
    calls?.push(method);
    return method === 'kong.request.get_headers' ? req.kongHeaders : null;
  };
}

async function runConcurrent(p: { server: PluginServer; iid: number }, mix: BenchRequest[], offset: number, n: number, concurrency: number): Promise<number> {
  let next = 0;
  const t0 = process.hrtime.bigint();
  const worker = async () => {
    while (next < n) {
      const i = next++;
      const req = mix[(offset + i) % mix.length];
      await p.server.handleEvent(p.iid, 'access', fakePdk(req));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return Number(process.hrtime.bigint() - t0);
}

/**
 * CPU time (user + system, in clock ticks of 10 ms) a process has used so far, from
 * /proc/<pid>/stat; null where there is no /proc.
 */
function cpuTicks(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' '); // f[0] is field 3 (state)
    return Number(f[11]) + Number(f[12]); // utime, stime (fields 14, 15)
  } catch {
    return null;
  }
}
const TICK_US = 10_000; // CLK_TCK = 100 on Linux

export interface KongThroughput {
  throughputRatio: number;
  experimentReqPerSec: number;
  baselineReqPerSec: number;
  rounds: number;
  requestsPerRound: number;
  concurrency: number;
  ratioMin: number;
  ratioMax: number;
  /** CPU time of each plugin-server process per request, summed over all timed rounds */
  experimentCpuUsPerRequest: number | null;
  baselineCpuUsPerRequest: number | null;
  /** CPU time of this (driving) process per request, both plugins' rounds */
  driverCpuUsPerRequest: number;
}

export async function kongThroughput(rounds = 40, perRound = 1500, concurrency = 64): Promise<KongThroughput> {
  const mix = makeMix(1000, 0x7b1d);
  const exp = await startPlugin(distPath('kong/experiment'));
  const base = await startPlugin(BASELINE_DIR);
  try {
    // The baseline must make the same calls as experiment, request kind by request kind.
    for (const req of mix.slice(0, 30)) {
      const a: string[] = [];
      const b: string[] = [];
      await exp.server.handleEvent(exp.iid, 'access', fakePdk(req, a));
      await base.server.handleEvent(base.iid, 'access', fakePdk(req, b));
      if (a.join() !== b.join()) throw new Error(`kong: baseline calls differ for a ${req.kind} request:\n  experiment ${a.join(' ')}\n  baseline   ${b.join(' ')}`);
    }
    for (const p of [exp, base, exp, base]) await runConcurrent(p, mix, 0, perRound, concurrency); // warm-up
    const ratios: number[] = [];
    const expRate: number[] = [];
    const baseRate: number[] = [];
    const cpu = { exp: 0, base: 0, ok: true };
    const timedRound = async (p: typeof exp, off: number) => {
      const c0 = cpuTicks(p.server.pid);
      const ns = await runConcurrent(p, mix, off, perRound, concurrency);
      const c1 = cpuTicks(p.server.pid);
      if (c0 === null || c1 === null) cpu.ok = false;
      else if (p === exp) cpu.exp += c1 - c0;
      else cpu.base += c1 - c0;
      return ns;
    };
    const driver0 = process.cpuUsage();
    for (let r = 0; r < rounds; r++) {
      const off = (r * perRound) % mix.length;
      let te: number, tb: number;
      if (r % 2 === 0) {
        te = await timedRound(exp, off);
        tb = await timedRound(base, off);
      } else {
        tb = await timedRound(base, off);
        te = await timedRound(exp, off);
      }
      expRate.push((perRound * 1e9) / te);
      baseRate.push((perRound * 1e9) / tb);
      ratios.push(tb / te); // (n/te) / (n/tb)
      if (r % 10 === 9) progress(`kong throughput: round ${r + 1}/${rounds} ratio ${(tb / te).toFixed(3)}`);
    }
    return {
      throughputRatio: median(ratios),
      experimentReqPerSec: median(expRate),
      baselineReqPerSec: median(baseRate),
      rounds,
      requestsPerRound: perRound,
      concurrency,
      ratioMin: Math.min(...ratios),
      ratioMax: Math.max(...ratios),
      experimentCpuUsPerRequest: cpu.ok ? (cpu.exp * TICK_US) / (rounds * perRound) : null,
      baselineCpuUsPerRequest: cpu.ok ? (cpu.base * TICK_US) / (rounds * perRound) : null,
      driverCpuUsPerRequest: (() => {
        const d = process.cpuUsage(driver0);
        return (d.user + d.system) / (2 * rounds * perRound);
      })(),
    };
  } finally {
    await exp.server.close();
    await base.server.close();
  }
}
