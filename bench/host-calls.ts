// Host-calls section: boundary crossings per request on Envoy, the figure that holds on
// any host (a V8 in Envoy, the simulator here): every proxy-wasm host call tandem.wasm
// makes over one full stream (request headers, response headers, on_log, done), by
// request kind, named. Kong's counterpart is kong.accessRpcs / kong.logRpcs (every PDK
// call is one RPC round trip): the target is no more host calls than Kong round trips
// for the same request.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { WasmHost } from '../sim/envoy/index';
import { BREAKER_CONFIG, CHECKOUT_RULES, ROOT, checkoutExperiment, checkoutExperimentWithRules, distPath, progress, renderedCheckoutExperiment } from './common';
import { RESPONSE_MAP, makeMix, type BenchRequest } from './requests';

// A proxied stream: Envoy's router set the upstream host (upstream.address), as for every
// request that reached an upstream.
const PROPS = { 'source.address': '10.1.2.3:50000', 'upstream.address': '10.9.8.7:8080' };

async function load(rootId: string, config: unknown): Promise<WasmHost> {
  return WasmHost.load({ wasm: distPath('wasm/tandem.wasm'), rootId, configuration: JSON.stringify(config) });
}

// Host calls of one stream lifecycle, by import name.
function count(host: WasmHost, req: BenchRequest, status = '200'): Record<string, number> {
  const calls = new Map<string, number>();
  host.vm.hostCalls = calls;
  const s = host.newStream(PROPS);
  s.requestHeaders(req.envoy, true);
  s.responseHeaders(status === '200' ? RESPONSE_MAP : [[':status', status]], false);
  s.done();
  host.vm.hostCalls = null;
  return Object.fromEntries([...calls.entries()].map(([k, v]) => [k.replace(/^env\./, ''), v]));
}

const total = (c: Record<string, number>) => Object.values(c).reduce((a, b) => a + b, 0);

export interface HostCalls {
  /** total host calls per stream, by request kind */
  byKind: Record<string, number>;
  /** the same, by import name */
  detail: Record<string, Record<string, number>>;
}

export async function hostCalls(): Promise<HostCalls> {
  const mix = makeMix(60);
  const returning = mix.find((r) => r.kind === 'returning')!;
  const header = mix.find((r) => r.kind === 'header')!;
  const fresh = mix.find((r) => r.kind === 'new')!;
  // the checkout experiment as tandem render writes it (`hasFaults: false`: no fault filter
  // shares the policy, so on_log reads no fault mark)
  const plain = await load('experiment', renderedCheckoutExperiment());
  // the same policy with metrics off: the difference is what metrics cost per stream
  const quiet = await load('experiment', { ...renderedCheckoutExperiment(), metrics: false });
  // the bare spec.experiment (no `hasFaults`: a fault filter may share it, the mark is read)
  const faultsPossible = await load('experiment', checkoutExperiment());
  const rules = await load('experiment', checkoutExperimentWithRules());
  // the decision log (docs/metrics.md): every request sampled, and a share so small the
  // measured request is not (its sample still reads x-request-id)
  const logAll = await load('experiment', { ...checkoutExperiment(), decisionLog: { percent: 100 } });
  const logFew = await load('experiment', { ...checkoutExperiment(), decisionLog: { percent: 0.01 } });
  // the breaker as `tandem render` writes a policy without spec.faults (`hasFaults: false`,
  // wasm/core/plan.ts), like the experiment rows; the bare config reads a fault's mark
  const breaker = await load('circuit-breaker', { ...BREAKER_CONFIG, hasFaults: false });
  const breakerFaults = await load('circuit-breaker', BREAKER_CONFIG);
  const guardDoc = parse(readFileSync(path.join(ROOT, 'deploy', 'examples', 'canary-guard.yaml'), 'utf8'));
  const guarded = await load('experiment', guardDoc.spec.experiment);
  // the guard example keys users by x-user-id: a request that lands on its guarded canary
  let guardReq = header;
  for (const r of mix) {
    const probe = count(guarded, r);
    if ((probe.proxy_get_shared_data ?? 0) > 0) { guardReq = r; break; }
  }
  // warm: the first stream of a host pays one-time work (root context lookups)
  for (const h of [plain, quiet, faultsPossible, rules, breaker, breakerFaults, guarded, logAll, logFew]) count(h, returning);
  const detail: Record<string, Record<string, number>> = {
    returning: count(plain, returning),
    header: count(plain, header),
    new: count(plain, fresh),
    returningMetricsOff: count(quiet, returning),
    newMetricsOff: count(quiet, fresh),
    returningFaultsPossible: count(faultsPossible, returning),
    rules: count(rules, returning),
    breaker: count(breaker, returning),
    breakerFaultsPossible: count(breakerFaults, returning),
    guard: count(guarded, guardReq),
    decisionLogSampled: count(logAll, returning),
    decisionLogNotSampled: count(logFew, returning),
  };
  if ((detail.decisionLogSampled.proxy_log ?? 0) !== 1) throw new Error('host-calls: a sampled request wrote no decision line');
  if ((detail.decisionLogNotSampled.proxy_log ?? 0) !== 0) throw new Error('host-calls: the 0.01% request was sampled: pick another');
  if (CHECKOUT_RULES.length < 20) throw new Error('host-calls: the rules policy lost its rules');
  const byKind = Object.fromEntries(Object.entries(detail).map(([k, v]) => [k, total(v)]));
  progress(`host-calls: ${JSON.stringify(byKind)}`);
  return { byKind, detail };
}
