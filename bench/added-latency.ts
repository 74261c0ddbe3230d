// Section `added-latency`: the latency tandem adds per request through each gateway
// harness under 64 concurrent connections, against the same harness with no plugin.
//   kong:  the Kong harness (real kong-js-pluginserver per plugin) with `experiment` +
//          `circuit-breaker` (checkout policy, BREAKER_CONFIG), against the harness with
//          no plugin (nginx's proxy path alone);
//   envoy: the Envoy harness (2 worker VMs) with tandem.wasm's `experiment` +
//          `circuit-breaker`, against the harness with no HTTP filter but the router.
// Both sides get the same seeded request mix (80/10/10 returning / header / new) over 64
// keep-alive connections, 64 requests in flight. Rounds alternate (A B, B A, ...) so load
// from elsewhere hits both alike. Figures: p50 and p99 of each side over every round's
// requests, the difference (ms added) and the ratio. These are times of the simulators on
// a shared machine: the difference says what tandem costs in each harness, not what it
// costs in a real Kong or Envoy (docs/performance.md).
import http from 'node:http';
import { startKong } from '../sim/kong/index';
import { startEnvoy } from '../sim/envoy/index';
import { BREAKER_CONFIG, checkoutExperiment, distPath, progress } from './common';
import { makeMix, type BenchRequest } from './requests';
import { VARIANT_HEADER } from '../core-js/tandem-core';

const CONNECTIONS = 64;
const PER_ROUND = 1000;
const ROUNDS = 4;              // per side
const WARMUP = 300;

interface Side { p50: number; p99: number }
export interface AddedLatency { with: Side; without: Side; addedP50Ms: number; addedP99Ms: number; p50Ratio: number; p99Ratio: number; requests: number; errors: number }

function upstream(): Promise<http.Server> {
  const s = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  });
  return new Promise((ok) => s.listen(0, '127.0.0.1', () => ok(s)));
}
const portOf = (s: http.Server) => (s.address() as { port: number }).port;

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** Sends `reqs` over `agent`, CONNECTIONS in flight; each request's ms, and how many failed. */
async function drive(port: number, agent: http.Agent, reqs: BenchRequest[]): Promise<{ ms: number[]; errors: number }> {
  const ms: number[] = [];
  let errors = 0;
  let next = 0;
  const one = (r: BenchRequest) => new Promise<void>((done) => {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(r.kongHeaders)) headers[k] = v[0];
    const t0 = process.hrtime.bigint();
    const q = http.request({ host: '127.0.0.1', port, path: r.path, method: 'GET', headers, agent }, (res) => {
      res.resume();
      res.on('end', () => {
        if (res.statusCode === 200) ms.push(Number(process.hrtime.bigint() - t0) / 1e6); else errors++;
        done();
      });
    });
    q.on('error', () => { errors++; done(); });
    q.end();
  });
  await Promise.all(Array.from({ length: CONNECTIONS }, async () => {
    while (next < reqs.length) await one(reqs[next++]);
  }));
  return { ms, errors };
}

async function compare(name: string, withPort: number, withoutPort: number): Promise<AddedLatency> {
  const agents = [withPort, withoutPort].map(() => new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS }));
  const mix = makeMix(PER_ROUND);
  try {
    await drive(withPort, agents[0], mix.slice(0, WARMUP));
    await drive(withoutPort, agents[1], mix.slice(0, WARMUP));
    const all: [number[], number[]] = [[], []];
    let errors = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? [0, 1] : [1, 0];
      for (const side of order) {
        const r = await drive(side === 0 ? withPort : withoutPort, agents[side], mix);
        all[side].push(...r.ms);
        errors += r.errors;
      }
      progress(`added-latency ${name}: round ${round + 1}/${ROUNDS}`);
    }
    const [w, wo] = all.map((xs) => [...xs].sort((a, b) => a - b));
    const side = (s: number[]): Side => ({ p50: +percentile(s, 0.5).toFixed(3), p99: +percentile(s, 0.99).toFixed(3) });
    const a = side(w);
    const b = side(wo);
    return {
      with: a, without: b,
      addedP50Ms: +(a.p50 - b.p50).toFixed(3), addedP99Ms: +(a.p99 - b.p99).toFixed(3),
      p50Ratio: +(a.p50 / b.p50).toFixed(3), p99Ratio: +(a.p99 / b.p99).toFixed(3),
      requests: w.length + wo.length, errors,
    };
  } finally {
    for (const a of agents) a.destroy();
  }
}

export async function addedLatency(): Promise<{ kong: AddedLatency; envoy: AddedLatency; connections: number }> {
  const [v1, v2] = await Promise.all([upstream(), upstream()]);
  const clusters = { 'api-v1': { host: '127.0.0.1', port: portOf(v1) }, 'api-v2': { host: '127.0.0.1', port: portOf(v2) } };
  const experiment = checkoutExperiment();
  try {
    const kongWith = await startKong({
      plugins: [
        { name: 'experiment', dir: distPath('kong/experiment'), config: experiment },
        { name: 'circuit-breaker', dir: distPath('kong/circuit-breaker'), config: BREAKER_CONFIG },
      ],
      upstreams: clusters, defaultUpstream: 'api-v1', retries: 0,
    });
    const kongWithout = await startKong({ plugins: [], upstreams: clusters, defaultUpstream: 'api-v1', retries: 0 });
    let kong: AddedLatency;
    try {
      kong = await compare('kong', kongWith.port, kongWithout.port);
    } finally {
      await Promise.allSettled([kongWith.close(), kongWithout.close()]);
    }
    const wasm = distPath('wasm/tandem.wasm');
    const routes = [{ header: { name: VARIANT_HEADER, value: 'canary' }, cluster: 'api-v2' }, { cluster: 'api-v1' }];
    const envoyWith = await startEnvoy({
      filters: [
        { wasm, rootId: 'experiment', configuration: JSON.stringify(experiment) },
        { wasm, rootId: 'circuit-breaker', configuration: JSON.stringify(BREAKER_CONFIG) },
      ],
      clusters, routes,
    });
    const envoyWithout = await startEnvoy({ filters: [], clusters, routes });
    let envoy: AddedLatency;
    try {
      envoy = await compare('envoy', envoyWith.port, envoyWithout.port);
    } finally {
      await Promise.allSettled([envoyWith.close(), envoyWithout.close()]);
    }
    return { kong, envoy, connections: CONNECTIONS };
  } finally {
    v1.close(); v2.close();
  }
}
