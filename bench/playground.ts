// Section `playground-load`: how many request pairs a second the playground's load
// generator (cli/playground/load-worker.ts, in its worker thread) completes — each pair
// is one request to Kong and the same one to Envoy.
//   echo:     against two minimal HTTP servers, asking 2,000 pairs/s: the generator's
//             own ceiling (target ≥ 1,000 a second per side);
//   gateways: through the playground's two gateways (Kong harness + 3 plugin servers,
//             Envoy harness + tandem.wasm; deploy/examples/playground.yaml), each in its
//             own worker thread as the playground runs them (cli/playground/gateway-thread.ts),
//             asking 1,000 pairs/s: what the page sees on this machine.
// Counts over a timed window after a warm-up (the worker's own per-second reports);
// `skipped` counts pairs the generator held back because 256 were in flight.
import http from 'node:http';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { GatewayThread } from '../cli/playground/gateway-thread';
import { LoadGenerator } from '../cli/playground/load';
import type { LoadSecond, LoadTarget } from '../cli/playground/load-shape';
import type { PolicyDoc } from '../cli/policy-file';
import { ROOT, distPath, planPart } from './common';
import { VARIANT_HEADER } from '../core-js/tandem-core';

const WARMUP_S = 3;
const MEASURE_S = 8;

interface Run { pairsPerSec: number; skippedPerSec: number; kongPerSec: number; envoyPerSec: number; errors: number }

async function drive(target: Omit<LoadTarget, 'generation'>, rps: number): Promise<Run> {
  const seconds: LoadSecond[] = [];
  // the worker is built beside the CLI bundle (npm run build, which bench/run.mjs runs first)
  const load = new LoadGenerator({ rps, users: 10000, returning: 0.8 }, (s) => seconds.push(s), path.join(ROOT, 'dist', 'cli'));
  load.aim({ ...target, generation: 1 });
  await new Promise((r) => setTimeout(r, (WARMUP_S + MEASURE_S) * 1000 + 300));
  await load.close();
  const w = seconds.slice(WARMUP_S, WARMUP_S + MEASURE_S);
  const n = (g: 'kong' | 'envoy') => w.reduce((a, s) => a + Object.values(s[g].variants).reduce((b, v) => b + v.n, 0), 0) / w.length;
  return {
    pairsPerSec: Math.round(Math.min(n('kong'), n('envoy'))),
    kongPerSec: Math.round(n('kong')),
    envoyPerSec: Math.round(n('envoy')),
    skippedPerSec: Math.round(w.reduce((a, s) => a + s.skipped, 0) / w.length),
    errors: w.reduce((a, s) => a + s.kong.errors + s.envoy.errors, 0),
  };
}

function echo(): Promise<http.Server> {
  const s = http.createServer((req, res) => { req.resume(); res.writeHead(200, { [VARIANT_HEADER]: 'stable' }).end('{}'); });
  return new Promise((ok) => s.listen(0, '127.0.0.1', () => ok(s)));
}
const portOf = (s: http.Server) => (s.address() as { port: number }).port;

export async function playgroundLoad(): Promise<{ echo: Run; gateways: Run; askedEcho: number; askedGateways: number }> {
  const key = { kind: 'header' as const, name: 'x-user-id' };
  const [a, b] = await Promise.all([echo(), echo()]);
  const echoRun = await drive({ kongPort: portOf(a), envoyPort: portOf(b), path: '/', host: null, key, cookie: 'tandem-uid', variantHeader: VARIANT_HEADER }, 2000);
  a.close(); b.close();

  const doc = parse(readFileSync(path.join(ROOT, 'deploy', 'examples', 'playground.yaml'), 'utf8')) as PolicyDoc;
  const [v1, v2] = await Promise.all([echo(), echo()]);
  const addrs = { 'api-v1': { host: '127.0.0.1', port: portOf(v1) }, 'api-v2': { host: '127.0.0.1', port: portOf(v2) } };
  // the gateway threads' script is built beside the CLI bundle, as the load worker's
  const threads = path.join(ROOT, 'dist', 'cli');
  const kong = await GatewayThread.kong({
    plugins: [
      { name: 'experiment', dir: distPath('kong/experiment'), config: planPart(doc, 'experiment')!.kong },
      { name: 'circuit-breaker', dir: distPath('kong/circuit-breaker'), config: planPart(doc, 'circuit-breaker')!.kong },
      // its fault is off: a disabled entity, as render writes it and the playground runs it
      { name: 'fault-injection', dir: distPath('kong/fault-injection'), config: planPart(doc, 'fault-injection')!.kong, enabled: planPart(doc, 'fault-injection')!.enabled },
    ],
    upstreams: addrs, defaultUpstream: 'api-v1', keepHistory: false, // as cli/playground/stack.ts
  }, [], threads);
  const wasm = distPath('wasm/tandem.wasm');
  const envoy = await GatewayThread.envoy({
    filters: [
      { wasm, rootId: 'experiment', configuration: JSON.stringify(planPart(doc, 'experiment')!.config), failurePolicy: 'FAIL_OPEN' },
      { wasm, rootId: 'circuit-breaker', configuration: JSON.stringify(planPart(doc, 'circuit-breaker')!.config), failurePolicy: 'FAIL_OPEN' },
      { wasm, rootId: 'fault-injection', configuration: JSON.stringify(planPart(doc, 'fault-injection')!.config), failurePolicy: 'FAIL_OPEN' },
    ],
    clusters: addrs,
    routes: [{ header: { name: VARIANT_HEADER, value: 'canary' }, cluster: 'api-v2' }, { cluster: 'api-v1' }],
  }, threads);
  try {
    const gw = await drive({ kongPort: kong.port, envoyPort: envoy.port, path: '/', host: null, key, cookie: 'tandem-uid', variantHeader: VARIANT_HEADER }, 1000);
    return { echo: echoRun, gateways: gw, askedEcho: 2000, askedGateways: 1000 };
  } finally {
    await Promise.allSettled([kong.close(), envoy.close()]);
    v1.close(); v2.close();
  }
}
