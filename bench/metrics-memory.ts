// Section metrics-memory (issue 14: "memory stays flat over 1,000,000 requests with
// bounded label sets"). Not in the default run (tens of seconds): npm run bench --
// --only=metrics-memory.
//
// Kong: the registry each plugin server keeps (core-js/metrics.ts TandemMetrics, the
// prom-client registry the plugins record into) fed what 1,000,000 requests record, with
// label values from the requests: 100,000 distinct breaker keys (KeyLabels caps them at
// maxKeys, the rest are `other`), a variant the policy does not name now and then, and a
// scrape every 100,000 requests. Heap after a full GC at each checkpoint, and the
// series in the exposition. Only the metrics part of a plugin server: the whole server
// under real traffic is the soak (bench/soak.ts, plugin-server RSS).
//
// Envoy: 1,000,000 proxied streams (upstream.address set, so every request records its
// latency sample) through root id `experiment` with metrics on, and the same streams
// through root id `circuit-breaker` keyed by a header carrying 100,000 distinct values,
// every call failing so each key opens and rejects (maxKeys 1024: the stats' key labels
// and the shared-data slots both bounded); each VM's linear
// memory pages and the number of stats Envoy holds at each checkpoint.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { WasmHost } from '../sim/envoy/index';
import { HeaderMap } from '../sim/envoy/header-map';
import { KeyLabels, TandemMetrics } from '../core-js/metrics';
import { BREAKER_CONFIG, checkoutExperiment, distPath, progress } from './common';
import { RESPONSE_HEADERS, RESPONSE_MAP, makeMix } from './requests';

const REQUESTS = 1_000_000;
const CHECKPOINT = 100_000;
const DISTINCT_KEYS = 100_000;
const MAX_KEYS = 1024;
const PROPS = { 'source.address': '10.1.2.3:51234', 'upstream.address': '10.9.8.7:8080' };

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function heapKb(): number {
  gc();
  gc();
  return Math.round(process.memoryUsage().heapUsed / 1024);
}

const seriesIn = (text: string) => text.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length;

async function kongSide() {
  const m = new TandemMetrics();
  const keys = new KeyLabels(MAX_KEYS);
  const policy = 'checkout';
  const experiment = 'checkout';
  const variants = ['stable', 'canary'];
  m.declareExperiment(policy, experiment, variants, [0, 1, 4]);
  m.declarePlugin('experiment', policy);
  m.declarePlugin('circuit-breaker', policy);
  const checkpoints: Array<{ requests: number; heapKb: number; series: number }> = [];
  for (let i = 1; i <= REQUESTS; i++) {
    // `other` (a variant the policy does not name, as the plugin bounds it) every 97th
    // request: with the 503s (every 40th) and reason 3 (every 50th) every combination of
    // the bounded labels occurs within the first checkpoint (lcm 19,400), so growth after
    // it is what the breaker keys, whose new values keep coming to the end, would add.
    const variant = i % 97 === 0 ? 'other' : variants[i % 10 === 0 ? 1 : 0];
    m.request(policy, experiment, variant, i % 50 === 0 ? 3 : 1, i % 40 === 0 ? 503 : 200);
    m.latency(policy, experiment, variant, (i % 300) + 1);
    m.assignment(policy, experiment, variant, i % 3 === 0 ? 4 : 0);
    // 100,000 distinct keys over the run, a new one every 10 requests until the end
    const key = keys.label(`user-${Math.floor((i - 1) / 10) % DISTINCT_KEYS}`);
    if (i % 10 === 0) m.breakerRejection(policy, key);
    if (i % 1000 === 0) m.breakerTransition(policy, key, 'closed', 'open');
    if (i % CHECKPOINT === 0) {
      const series = seriesIn(await m.text());
      checkpoints.push({ requests: i, heapKb: heapKb(), series });
      progress(`metrics-memory kong: ${i} requests, heap ${checkpoints.at(-1)!.heapKb} kB, ${series} series`);
    }
  }
  return summary(checkpoints.map((c) => ({ requests: c.requests, memory: c.heapKb, series: c.series })));
}

async function envoySide() {
  const experiment = await WasmHost.load({
    wasm: distPath('wasm/tandem.wasm'), rootId: 'experiment', configuration: JSON.stringify({ ...checkoutExperiment(), policy: 'checkout' }),
  });
  const breaker = await WasmHost.load({
    wasm: distPath('wasm/tandem.wasm'), rootId: 'circuit-breaker',
    configuration: JSON.stringify({ ...BREAKER_CONFIG, minimumCalls: 5, key: 'header:x-user-id', maxKeys: MAX_KEYS, policy: 'checkout' }),
  });
  // Every breaker call fails: each key opens after its 5th call (a transition) and its
  // next 5 are rejections, so per-key stats are defined for as many keys as the VM allows.
  const failed = HeaderMap.encoded(RESPONSE_HEADERS.map(([k, v]) => (k === ':status' ? [k, '503'] : [k, v]) as [string, string]), 'response');
  let rejected = 0;
  const mix = makeMix(1000);
  // 100,000 distinct header values, built once (the requests differ only in this header)
  const keyed = Array.from({ length: DISTINCT_KEYS }, (_, i) => HeaderMap.encoded([[':method', 'GET'], [':path', '/api'], [':authority', 'shop'], ['x-user-id', `user-${i}`]], 'request'));
  const checkpoints: Array<{ requests: number; memory: number; series: number }> = [];
  for (let i = 1; i <= REQUESTS; i++) {
    const s = experiment.newStream(PROPS);
    s.requestHeaders(mix[i % mix.length].envoy, true);
    s.responseHeaders(RESPONSE_MAP, false);
    s.done();
    const b = breaker.newStream(PROPS);
    const r = b.requestHeaders(keyed[Math.floor((i - 1) / 10) % DISTINCT_KEYS], true);   // a new key every 10 streams, to the end
    if (r.localReply) rejected++;
    else b.responseHeaders(failed, false);
    b.done();
    if (i % 1000 === 0) { experiment.tick(); breaker.tick(); }   // Envoy ticks once a second: the counter flush
    if (i % CHECKPOINT === 0) {
      const pages = experiment.memoryPages() + breaker.memoryPages();
      const series = Object.keys(experiment.metrics).length + Object.keys(breaker.metrics).length;
      checkpoints.push({ requests: i, memory: pages, series });
      progress(`metrics-memory envoy: ${i} requests, ${pages} pages (both VMs), ${series} stats`);
    }
  }
  if (experiment.failed || breaker.failed) throw new Error('metrics-memory: a VM failed during the run');
  const counted = Object.entries(experiment.metrics).filter(([k]) => k.startsWith('wasmcustom.tandem_requests_total')).reduce((n, [, v]) => n + v, 0);
  if (counted !== REQUESTS) throw new Error(`metrics-memory: ${counted} requests counted, ${REQUESTS} sent`);
  if (rejected < REQUESTS / 3) throw new Error(`metrics-memory: only ${rejected} breaker rejections`);
  return { ...summary(checkpoints), breakerRejections: rejected };
}

// Growth is measured from the first checkpoint (100,000 requests: every bounded label
// combination has occurred, 10,000 of the 100,000 keys) to the last (90,000 keys later).
function summary(cs: Array<{ requests: number; memory: number; series: number }>) {
  const first = cs[0];
  const last = cs[cs.length - 1];
  return {
    requests: last.requests,
    checkpoints: cs,
    memoryGrowth: last.memory - first.memory,
    memoryMax: Math.max(...cs.map((c) => c.memory)),
    seriesFirst: first.series,
    seriesLast: last.series,
  };
}

export async function metricsMemory() {
  const kong = await kongSide();
  const envoy = await envoySide();
  return { kong: { ...kong, unit: 'heap kB after GC' }, envoy: { ...envoy, unit: 'wasm pages (64 KiB), both VMs' }, distinctKeys: DISTINCT_KEYS, maxKeys: MAX_KEYS };
}
