// Fault-injection sections.
//  fault-overhead:  tandem.wasm's `fault-injection` root id on requests no fault applies
//                   to (a header match the requests never carry), per request ÷ the
//                   SDK's no-op filter, in the Envoy harness's direct API, rounds
//                   alternating (as `envoy`). Target: faultOverheadRatio <= 1.10.
//  fault-delays:    concurrently delayed requests: 10,000 streams through the filter in
//                   the Envoy harness on wall time (each root timer a real setTimeout for
//                   the period the filter sets, as Envoy's dispatcher timer), and 1,000
//                   HTTP requests through the Kong harness's real plugin server; each
//                   delayed 2,000 ms. Lateness = resume time - due time (ms), as a
//                   distribution; lost = requests not resumed / not answered 200.
import http from 'node:http';
import { StatsStore, WasmHost } from '../sim/envoy/index';
import { PluginServer, startKong, storedConfig } from '../sim/kong/index';
import { configFieldsOf, kongConf } from '../sim/kong/plugin-registry';
import { loadNoop, lifecycle } from './envoy';
import { distPath, progress } from './common';
import { makeMix, median, type BenchRequest } from './requests';

const NO_FAULT = { faults: [{ name: 'chaos', match: { header: { 'x-chaos': { exact: 'on' } } }, abort: { status: 503, percent: 100 } }] };
const DELAY_MS = 2000;

function timed(host: WasmHost, mix: BenchRequest[], offset: number, n: number): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) lifecycle(host, mix[(offset + i) % mix.length]);
  return Number(process.hrtime.bigint() - t0);
}

export async function faultOverhead(rounds = 40, perRound = 5000, warmup = 20000) {
  const mix = makeMix(1000);
  const fault = await WasmHost.load({ wasm: distPath('wasm/tandem.wasm'), rootId: 'fault-injection', configuration: JSON.stringify(NO_FAULT) });
  const noop = await loadNoop();
  // sanity: no request of the mix gets a fault, and the filter does run
  for (const req of mix.slice(0, 50)) {
    const r = fault.newStream().requestHeaders(req.envoy, true);
    if (r.action !== 'continue') throw new Error('a mix request got a fault');
  }
  for (const h of [fault, noop, fault, noop]) timed(h, mix, 0, warmup / 2);
  const ratios: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const off = (r * perRound) % mix.length;
    let t: number, n: number;
    if (r % 2 === 0) { t = timed(fault, mix, off, perRound); n = timed(noop, mix, off, perRound); }
    else { n = timed(noop, mix, off, perRound); t = timed(fault, mix, off, perRound); }
    ratios.push(t / n);
    if (r % 20 === 19) progress(`fault-overhead: round ${r + 1}/${rounds} ratio ${(t / n).toFixed(3)}`);
  }
  return { faultOverheadRatio: median(ratios), ratioMin: Math.min(...ratios), ratioMax: Math.max(...ratios), rounds, requestsPerRound: perRound };
}

function quantiles(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => (s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.floor(p * s.length))]);
  return { n: s.length, min: s[0], p50: q(0.5), p90: q(0.9), p99: q(0.99), max: s[s.length - 1] };
}

async function envoyDelays(n = 10000) {
  let host!: WasmHost;
  let timer: NodeJS.Timeout | null = null;
  const env = {
    hasCluster: () => false,
    httpCall: () => ({ cancel() {} }),
    // Envoy's dispatcher timer for the root: re-created on every period change.
    onTickPeriod: (_vm: unknown, root: { tickPeriodMs: number }) => {
      if (timer) clearTimeout(timer);
      timer = null;
      if (root.tickPeriodMs > 0) timer = setTimeout(() => { timer = null; host.tick(); check(); }, root.tickPeriodMs);
    },
  };
  host = await WasmHost.load({ wasm: distPath('wasm/tandem.wasm'), rootId: 'fault-injection', stats: new StatsStore(), env: env as never,
    configuration: JSON.stringify({ faults: [{ name: 'slow', delay: { fixedMs: DELAY_MS, percent: 100 } }] }) });
  const pending = new Map<number, { s: ReturnType<WasmHost['newStream']>; due: number }>();
  const lateness: number[] = [];
  function check(): void {
    const now = Date.now();
    for (const [i, p] of pending) if (p.s.resumed.request) { lateness.push(now - p.due); p.s.done(); pending.delete(i); }
  }
  // arrivals spread over ~1 s, in batches, as concurrent clients would
  for (let i = 0; i < n; i++) {
    const s = host.newStream();
    // due from the time before the call: the filter's own due is at or after it, so a
    // descheduled process can only overstate lateness, never hide it
    const due = Date.now() + DELAY_MS;
    s.requestHeaders([[':method', 'GET'], [':path', '/'], [':authority', 'shop'], ['x-request-id', `r${i}`]], true);
    pending.set(i, { s, due });
    if (i % 100 === 99) await new Promise((ok) => setTimeout(ok, 10));
  }
  const deadline = Date.now() + DELAY_MS + 30000;
  while (pending.size > 0 && Date.now() < deadline) await new Promise((ok) => setTimeout(ok, 50));
  return { requests: n, lost: pending.size, latenessMs: quantiles(lateness) };
}

// `delayed`: every request delayed DELAY_MS; else the same requests with a fault that
// never applies (the harness's own time for 1,000 requests at once: the baseline).
async function kongDelays(n = 1000, delayed = true) {
  const up = http.createServer((q, s) => { q.resume(); s.end('ok'); });
  // The delays end together, so the harness opens up to n upstream connections at once:
  // a backlog that holds them all, or the kernel drops SYNs beyond 512 (Node's default)
  // and the section would time the upstream's SYN retries (>= 1 s), not the delay.
  await new Promise<void>((ok) => up.listen({ port: 0, host: '127.0.0.1', backlog: 16384 }, ok));
  const port = (up.address() as { port: number }).port;
  const gw = await startKong({
    plugins: [{ name: 'fault-injection', dir: distPath('kong/fault-injection'), config: delayed ? { faults: [{ name: 'slow', delay: { fixedMs: DELAY_MS, percent: 100 } }] } : NO_FAULT }],
    upstreams: { svc: { host: '127.0.0.1', port } }, defaultUpstream: 'svc',
  });
  const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
  const lateness: number[] = [];
  let ok = 0;
  // Why a request did not count: its status ("status 502"), or the client error's code
  // ("ECONNRESET"); and 200s answered before the delay could have elapsed (the fault was
  // not applied: Kong skips a plugin whose RPC fails, and so does the harness).
  const lostBy: Record<string, number> = {};
  let early = 0;
  const count = (k: string) => (lostBy[k] = (lostBy[k] ?? 0) + 1);
  const t0all = Date.now();
  try {
    await Promise.all(Array.from({ length: n }, (_, i) => new Promise<void>((done) => {
      const t0 = Date.now();
      const r = http.request(`http://127.0.0.1:${gw.port}/`, { agent, headers: { 'x-request-id': `k${i}` } }, (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode === 200) {
            ok++;
            const ms = Date.now() - t0;
            if (delayed && ms < DELAY_MS) early++;
            lateness.push(ms - (delayed ? DELAY_MS : 0));
          } else count(`status ${res.statusCode}`);
          done();
        });
        res.on('error', (e: NodeJS.ErrnoException) => (count(e.code ?? e.message), done()));
      });
      r.on('error', (e: NodeJS.ErrnoException) => (count(e.code ?? e.message), done()));
      r.end();
    })));
  } finally {
    await gw.close();
    await new Promise((ok2) => up.close(ok2));
  }
  const wallMs = Date.now() - t0all;
  // the gateway's own error log (e.g. an RPC to the plugin server that failed), first lines
  const errors = gw.logs('err').map((e) => e.message.slice(0, 160));
  // lateness here includes the gateway round trip (proxying, the plugin server's RPCs)
  return { requests: n, lost: n - ok, lostBy, early, wallMs, gatewayErrors: errors.length, gatewayErrorSample: [...new Set(errors)].slice(0, 5), latenessMs: quantiles(lateness) };
}

// The plugin server alone: n access events of the real kong-js-pluginserver at once,
// each delayed DELAY_MS by the fault-injection plugin, sent the way Kong's bridge loop
// sends them (mp_rpc.lua: HandleEvent on a cosocket of its own, Kong opening a new
// connection when all are busy) but without the harness's HTTP proxy in front. So the
// lateness is the plugin server's own: the event's answer (`ret`) - (send time + delay),
// ms, the RPC round trips included; and from the last PDK call answered before the
// delay (what the server waited for before it could start its timer) to `ret`, - delay:
// the timer's own lateness plus one answer's trip. Arrivals in batches of 50 every 10 ms.
async function kongServerDelays(n = 1000) {
  const dir = distPath('kong/fault-injection');
  const [info] = await PluginServer.query(dir);
  const server = await PluginServer.start(dir, { poolSize: n });
  const lateness: number[] = [];
  const afterStep: number[] = [];
  const lostBy: Record<string, number> = {};
  let early = 0;
  try {
    const stored = storedConfig(configFieldsOf(info), { faults: [{ name: 'slow', delay: { fixedMs: DELAY_MS, percent: 100 } }] });
    const conf = kongConf({ name: info.Name, scope: 'route', id: 'plugin-fault', stored }, { workspaceId: 'ws-bench', routeId: 'route-bench', serviceId: 'service-bench' }, 1);
    const iid = await server.startInstance(info.Name, conf);
    const events: Promise<void>[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = Date.now();
      let tStep = t0;
      const headers = { host: 'shop', 'x-request-id': `k${i}` };
      events.push(server.handleEvent(iid, 'access', (m) => { tStep = Date.now(); return m === 'kong.request.get_headers' ? headers : null; }).then(
        (r) => {
          const end = Date.now();
          const ms = end - t0;
          if (r.exit) lostBy[`exit ${r.exit.status}`] = (lostBy[`exit ${r.exit.status}`] ?? 0) + 1;
          else { if (ms < DELAY_MS) early++; lateness.push(ms - DELAY_MS); afterStep.push(end - tStep - DELAY_MS); }
        },
        (e: Error) => { lostBy[e.message] = (lostBy[e.message] ?? 0) + 1; },
      ));
      if (i % 50 === 49) await new Promise((ok) => setTimeout(ok, 10));
    }
    await Promise.all(events);
  } finally {
    await server.close();
  }
  return { requests: n, lost: n - lateness.length, lostBy, early, latenessMs: quantiles(lateness), latenessAfterLastStepMs: quantiles(afterStep) };
}

export async function faultDelays() {
  progress('fault-delays: 10,000 streams in the Envoy harness');
  const envoy = await envoyDelays();
  progress('fault-delays: 1,000 requests through the Kong plugin server');
  const kong = await kongDelays();
  // The same 1,000 at once without a delay: what the harness itself takes to proxy them
  // (response time, ms). Kong's lateness above includes this; lateness minus it, per
  // quantile, is what the delay added beyond its 2 s (kong.latenessOverBaselineMs).
  progress('fault-delays: the same 1,000 without a delay (the harness baseline)');
  const base = await kongDelays(1000, false);
  const over = Object.fromEntries((['p50', 'p90', 'p99', 'max'] as const).map((q) => [q, kong.latenessMs[q] - base.latenessMs[q]]));
  progress('fault-delays: 1,000 access events delayed at once in the plugin server alone');
  const kongServer = await kongServerDelays();
  return { envoy, kong: { ...kong, baselineResponseMs: base.latenessMs, baselineLost: base.lost, latenessOverBaselineMs: over }, kongServer };
}
