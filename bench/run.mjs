// npm run bench [-- --json] [-- --only=envoy,envoy-rules,kong-rpcs] [-- --help]
// This script:
//   0. builds (scripts/build.mjs, as `npm run build`), after reading its arguments, so
//      --help and a wrong argument answer at once;
//   1. copies the build under test (dist/wasm/*.wasm, dist/kong/<plugin>/) into
//      bench/.build/dist, so every section measures the same bytes even if dist/ is
//      rebuilt meanwhile;
//   2. bundles bench/main.ts (which imports the harnesses in sim/) with esbuild
//      into bench/.build/bench.cjs;
//   3. runs each section in its own Node process, one after the other (the machine has
//      2 cores: nothing else of ours runs while a section measures);
//   4. prints a table, or with --json exactly one JSON object on stdout.
// Progress goes to stderr. Exit code: 0 when every section ran (targets missed or not;
// the table and `pass` say which), 1 when a section failed.
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const out = path.join(here, '.build');
const snap = path.join(out, 'dist');
const names = ['core', 'envoy', 'envoy-breaker', 'envoy-rules', 'envoy-guard', 'memory', 'kong-rpcs', 'kong-throughput', 'peers', 'host-calls', 'fault-overhead', 'metrics-overhead', 'cache-overhead', 'fault-delays', 'playground-load', 'added-latency', 'kong-cache', 'metrics-memory'];
const USAGE = `usage: npm run bench [-- --json] [-- --only=<section>,...]
  --json        print one JSON object (the last line of stdout) instead of the table
  --only=a,b    run only these sections: ${names.join(', ')}, soak (minutes; only when named)
Builds first (npm run build), then runs each section in its own process. Progress on stderr.
`;
let args;
try {
  args = parseArgs({ args: process.argv.slice(2), options: { json: { type: 'boolean' }, only: { type: 'string' }, help: { type: 'boolean', short: 'h' } } }).values;
} catch (e) {
  process.stderr.write(`bench: ${e.message}\n${USAGE}`);
  process.exit(2);
}
if (args.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const json = !!args.json;
const only = args.only !== undefined ? new Set(args.only.split(',')) : null;
for (const n of only ?? []) {
  if (!names.includes(n) && n !== 'soak') {
    process.stderr.write(`bench: --only: no section ${JSON.stringify(n)}\n${USAGE}`);
    process.exit(2);
  }
}
const built = spawnSync(process.execPath, [path.join(root, 'scripts', 'build.mjs')], { cwd: root, stdio: ['ignore', 2, 2] });
if (built.status !== 0) {
  process.stderr.write('bench: the build failed\n');
  process.exit(1);
}
const t0 = Date.now();

const log = (msg) => process.stderr.write(`[bench] ${msg}\n`);

// ---------------------------------------------------------------- 1. snapshot
const artifacts = ['wasm/tandem.wasm', 'wasm/noop.wasm', 'wasm/noop-lean.wasm', 'wasm/tandem-core.wasm', 'kong/experiment', 'kong/circuit-breaker', 'kong/fault-injection', 'kong/fallback-cache'];
for (const a of artifacts) {
  if (!existsSync(path.join(root, 'dist', a))) {
    log(`dist/${a} is missing: run \`npm run build\` first (npm run bench does)`);
    process.exit(1);
  }
}
rmSync(snap, { recursive: true, force: true });
mkdirSync(path.join(snap, 'wasm'), { recursive: true });
mkdirSync(path.join(snap, 'kong'), { recursive: true });
for (const a of artifacts) cpSync(path.join(root, 'dist', a), path.join(snap, a), { recursive: true });

// ---------------------------------------------------------------- 2. bundle
await build({
  entryPoints: [path.join(here, 'main.ts')],
  outfile: path.join(out, 'bench.cjs'),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  external: ['kong-pdk', 'kong-pdk/*', 'assemblyscript', 'assemblyscript/*'],
  logLevel: 'warning',
});

// ---------------------------------------------------------------- 3. sections
function runSection(name, timeoutMs = 180_000) {
  return new Promise((resolve) => {
    const started = Date.now();
    log(`${name} ...`);
    const child = spawn(process.execPath, [path.join(out, 'bench.cjs'), name], {
      cwd: root,
      env: { ...process.env, TANDEM_ROOT: root, TANDEM_BENCH_DIST: snap },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d) => (stdout += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const seconds = (Date.now() - started) / 1000;
      const line = stdout.trim().split('\n').pop();
      if (code === 0 && line) {
        try {
          log(`${name} done in ${seconds.toFixed(1)} s`);
          return resolve({ ok: true, seconds, value: JSON.parse(line) });
        } catch {
          /* fall through */
        }
      }
      const error = signal ? `killed (${signal}) after ${seconds.toFixed(0)} s` : `exit ${code}`;
      log(`${name} FAILED: ${error}`);
      resolve({ ok: false, seconds, error });
    });
  });
}

const res = {};
const errors = {};
const seconds = {};
// The soak (minutes, invariants rather than speed) runs only when asked: --only=soak.
if (only?.has('soak')) names.push('soak');
for (const n of names) {
  if (only && !only.has(n)) continue;
  const r = await runSection(n, n === 'soak' ? 1_800_000 : undefined);
  seconds[n] = Math.round(r.seconds * 10) / 10;
  if (r.ok) res[n] = r.value;
  else errors[n] = r.error;
}

// ---------------------------------------------------------------- 4. report
const size = (rel) => statSync(path.join(snap, rel)).size;
const e = res.envoy ?? {};
const eb = res['envoy-breaker'] ?? {};
const er = res['envoy-rules'] ?? {};
const eg = res['envoy-guard'] ?? {};
const m = res.memory ?? {};
const kr = res['kong-rpcs'] ?? {};
const kt = res['kong-throughput'] ?? {};
const kb = kr.breaker ?? {};
const c = res.core ?? {};
const pe = res.peers ?? {};
const so = res.soak ?? null;
const hc = res['host-calls'] ?? {};
const fo = res['fault-overhead'] ?? {};
const mo = res['metrics-overhead'] ?? {};
const co = res['cache-overhead'] ?? {};
const kc = res['kong-cache'] ?? null;
const fd = res['fault-delays'] ?? null;
const pl = res['playground-load'] ?? {};
const al = res['added-latency'] ?? null;
const round = (x, d = 3) => (typeof x === 'number' ? Math.round(x * 10 ** d) / 10 ** d : null);

const result = {
  envoy: {
    overheadRatio: round(e.overheadRatio),
    tandemNsPerRequest: round(e.tandemNsPerRequest, 0),
    noopNsPerRequest: round(e.noopNsPerRequest, 0),
    overheadRatioVsLeanNoop: round(e.overheadRatioVsLeanNoop),
    leanNoopNsPerRequest: round(e.leanNoopNsPerRequest, 0),
    ratioMin: round(e.ratioMin),
    ratioMax: round(e.ratioMax),
    rounds: e.rounds ?? null,
    requestsPerRound: e.requestsPerRound ?? null,
    breakerOverheadRatio: round(eb.breakerOverheadRatio),
    breakerOverheadRatioVsLeanNoop: round(eb.breakerOverheadRatioVsLeanNoop),
    breakerNsPerRequest: round(eb.breakerNsPerRequest, 0),
    breakerNoopNsPerRequest: round(eb.noopNsPerRequest, 0),
    breakerLeanNoopNsPerRequest: round(eb.leanNoopNsPerRequest, 0),
    breakerRatioMin: round(eb.ratioMin),
    breakerRatioMax: round(eb.ratioMax),
    breakerRounds: eb.rounds ?? null,
    breakerRequestsPerRound: eb.requestsPerRound ?? null,
    breakerFailureShare: round(eb.failureShare),
    breakerRejected: eb.rejected ?? null,
    breakerKeys: eb.keys ?? null,
    breakerSharedDataGetsPerRequest: round(eb.sharedDataOps?.getsPerRequest, 2),
    breakerSharedDataSetsPerRequest: round(eb.sharedDataOps?.setsPerRequest, 2),
    rulesOverhead: round(er.rulesOverhead),
    faultOverheadRatio: round(fo.faultOverheadRatio),
    metricsOverheadRatio: round(mo.metricsOverheadRatio),
    metricsRatioMin: round(mo.ratioMin),
    metricsRatioMax: round(mo.ratioMax),
    cacheOverheadRatio: round(co.cacheOverheadRatio),
    cacheRatioMin: round(co.ratioMin),
    cacheRatioMax: round(co.ratioMax),
    cacheNsPerRequest: round(co.cacheNsPerRequest, 0),
    cacheNoopNsPerRequest: round(co.noopNsPerRequest, 0),
    metricsOnNsPerRequest: round(mo.onNsPerRequest, 0),
    metricsOffNsPerRequest: round(mo.offNsPerRequest, 0),
    faultRatioMin: round(fo.ratioMin),
    faultRatioMax: round(fo.ratioMax),
    rulesNsPerRequest: round(er.rulesNsPerRequest, 0),
    noRulesNsPerRequest: round(er.noRulesNsPerRequest, 0),
    rulesOverheadMin: round(er.rulesOverheadMin),
    rulesOverheadMax: round(er.rulesOverheadMax),
    rulesCount: er.rules ?? null,
    rulesRounds: er.rounds ?? null,
    rulesRequestsPerRound: er.requestsPerRound ?? null,
    rulesReasons: er.reasons ?? null,
    rulesProbesMatched: er.probesMatched ?? null,
    rulesCodecNs: round(er.codecNs, 0),
    rulesCodecShare: round(er.codecShare),
    guardOverheadRatio: round(eg.guardOverheadRatio),
    guardCostRatio: round(eg.guardCostRatio),
    guardedNsPerRequest: round(eg.guardedNsPerRequest, 0),
    unguardedNsPerRequest: round(eg.unguardedNsPerRequest, 0),
    guardNoopNsPerRequest: round(eg.noopNsPerRequest, 0),
    guardRatioMin: round(eg.ratioMin),
    guardRatioMax: round(eg.ratioMax),
    guardRounds: eg.rounds ?? null,
    guardRequestsPerRound: eg.requestsPerRound ?? null,
    guardFailureShare: round(eg.failureShare),
    guardSharedDataGetsPerRequest: round(eg.sharedDataOps?.getsPerRequest, 2),
    guardSharedDataSetsPerRequest: round(eg.sharedDataOps?.setsPerRequest, 2),
  },
  kong: {
    accessRpcs: kr.accessRpcs ?? null,
    accessRpcsScoped: kr.accessRpcsScoped ?? null,
    // max per request of the log phase, all plugins on the request: experiment alone,
    // and experiment + circuit-breaker on one gateway
    logRpcs: typeof kr.logRpcs === 'number' && kb.combined ? Math.max(kr.logRpcs, kb.combined.log) : null,
    experimentLogRpcs: kr.logRpcs ?? null,
    breakerAccessRpcs: kb.accessRpcs ?? null,
    breakerLogRpcs: kb.logRpcs ?? null,
    breakerRpcsByOutcome: kb.byOutcome ?? null,
    breakerRequests: kb.requests ?? null,
    withBreakerAccessRpcs: kb.combined?.access ?? null,
    withBreakerLogRpcs: kb.combined?.log ?? null,
    accessRpcsMean: round(kr.accessRpcsMean, 2),
    accessRpcsByKind: kr.accessRpcsByKind ?? null,
    throughputRatio: round(kt.throughputRatio),
    experimentReqPerSec: round(kt.experimentReqPerSec, 0),
    baselineReqPerSec: round(kt.baselineReqPerSec, 0),
    throughputRatioMin: round(kt.ratioMin),
    throughputRatioMax: round(kt.ratioMax),
    experimentCpuUsPerRequest: round(kt.experimentCpuUsPerRequest, 1),
    baselineCpuUsPerRequest: round(kt.baselineCpuUsPerRequest, 1),
    cpuRatio: typeof kt.experimentCpuUsPerRequest === 'number' && kt.baselineCpuUsPerRequest ? round(kt.experimentCpuUsPerRequest / kt.baselineCpuUsPerRequest) : null,
    driverCpuUsPerRequest: round(kt.driverCpuUsPerRequest, 1),
    rounds: kt.rounds ?? null,
    requestsPerRound: kt.requestsPerRound ?? null,
    concurrency: kt.concurrency ?? null,
    // section kong-cache: the route with the buffered fallback-cache plugin ÷ without it
    cacheThroughputRatio: kc ? round(kc.small.throughputRatio) : null,
    cacheThroughputRatioLargeBody: kc ? round(kc.large.throughputRatio) : null,
    cache: kc,
  },
  wasm: {
    sizeBytes: size('wasm/tandem.wasm'),
    noopSizeBytes: size('wasm/noop.wasm'),
    memoryGrowthPages: m.memoryGrowthPages ?? null,
    pagesAfterWarmup: m.pagesAfterWarmup ?? null,
    pagesAfterRun: m.pagesAfterRun ?? null,
    memoryRequests: m.requests ?? null,
  },
  core: {
    decideNs: round(c.decideNs, 0),
    baselineNs: round(c.baselineNs, 0),
    breakerNs: round(c.breakerNs, 0),
    breakerKeys: c.breakerKeys ?? null,
    breakerFailureShare: round(c.breakerFailureShare),
  },
  // concurrently delayed requests: lateness distribution (ms), requests lost
  fault: fd,
  peers: {
    bucketRatio: round(pe.bucketRatio),
    tandemBucketNs: round(pe.tandemBucketNs, 0),
    growthbookNs: round(pe.growthbookNs, 0),
    unleashRatio: round(pe.unleashRatio),
    tandemUnleashNs: round(pe.tandemUnleashNs, 0),
    unleashNs: round(pe.unleashNs, 0),
    breakerRatio: round(pe.breakerRatio),
    tandemBreakerNs: round(pe.tandemBreakerNs, 0),
    opossumNs: round(pe.opossumNs, 0),
    rounds: pe.rounds ?? null,
  },
  soak: so,
  // p50/p99 per request through each harness, 64 connections, with tandem vs no plugin (no target: reported)
  latency: al,
  // the playground's load generator: pairs (one request to each gateway) completed a second
  playground: {
    loadPairsPerSec: pl.echo?.pairsPerSec ?? null,
    gatewayPairsPerSec: pl.gateways?.pairsPerSec ?? null,
    echo: pl.echo ?? null,
    gateways: pl.gateways ?? null,
  },
};
// Boundary crossings per request: Envoy host calls over one stream vs Kong round trips
// (access + log) for the same kind of request.
result.envoy.hostCalls = hc.byKind ?? null;
result.envoy.hostCallsDetail = hc.detail ?? null;
const kongTrips = {
  returning: (kr.accessRpcsByKind?.returning ?? NaN) + (kr.logRpcs ?? NaN),
  header: (kr.accessRpcsByKind?.header ?? NaN) + (kr.logRpcs ?? NaN),
  new: (kr.accessRpcsByKind?.new ?? NaN) + (kr.logRpcs ?? NaN),
  breaker: (kb.accessRpcs ?? NaN) + (kb.logRpcs ?? NaN),
};
result.kong.roundTripsByKind = Object.fromEntries(Object.entries(kongTrips).map(([k, v]) => [k, Number.isFinite(v) ? v : null]));
const excess = hc.byKind ? Object.keys(kongTrips).map((k) => (hc.byKind[k] ?? 0) - (result.kong.roundTripsByKind[k] ?? Infinity)) : null;

const targets = [
  ['envoy.overheadRatio', result.envoy.overheadRatio, '<=', 1.5],
  ['envoy.breakerOverheadRatio', result.envoy.breakerOverheadRatio, '<=', 2.0],
  ['envoy.rulesOverhead', result.envoy.rulesOverhead, '<=', 0.25],
  ['envoy.faultOverheadRatio', result.envoy.faultOverheadRatio, '<=', 1.10],
  ['envoy.metricsOverheadRatio', result.envoy.metricsOverheadRatio, '<=', 1.15],
  ['envoy.cacheOverheadRatio', result.envoy.cacheOverheadRatio, '<=', 2.5],
  // held to the breaker's target: the same state machine and shared-data round trips
  ['envoy.guardOverheadRatio', result.envoy.guardOverheadRatio, '<=', 2.0],
  ['kong.accessRpcs', result.kong.accessRpcs, '<=', 5],
  ['kong.logRpcs', result.kong.logRpcs, '<=', 3],
  ['kong.throughputRatio', result.kong.throughputRatio, '>=', 0.9],
  ['wasm.sizeBytes', result.wasm.sizeBytes, '<=', 98304],
  ['wasm.memoryGrowthPages', result.wasm.memoryGrowthPages, '<=', 1],
  ['envoy.hostCallsOverKong', excess ? Math.max(...excess) : null, '<=', 0],
  ['peers.bucketRatio', result.peers.bucketRatio, '>=', 1],
  ['peers.unleashRatio', result.peers.unleashRatio, '>=', 1],
  ['peers.breakerRatio', result.peers.breakerRatio, '>=', 10],
  ['playground.loadPairsPerSec', result.playground.loadPairsPerSec, '>=', 1000],
  ['playground.gatewayPairsPerSec', result.playground.gatewayPairsPerSec, '>=', 1000],
];
// Concurrently delayed requests (bench/fault.ts, section fault-delays): none lost.
if (fd) {
  targets.push(['fault.envoy.lost', fd.envoy.lost, '<=', 0]);
  targets.push(['fault.kong.lost', fd.kong.lost, '<=', 0]);
  targets.push(['fault.kongServer.lost', fd.kongServer.lost, '<=', 0]);
}
// Metrics memory over 1,000,000 requests with bounded label sets (bench/metrics-memory.ts).
const mm = res['metrics-memory'] ?? null;
result.metricsMemory = mm;
if (mm) {
  targets.push(['metricsMemory.kongHeapGrowthKb', mm.kong.memoryGrowth, '<=', 1024]);
  targets.push(['metricsMemory.envoyPagesGrowth', mm.envoy.memoryGrowth, '<=', 1]);
  targets.push(['metricsMemory.seriesGrowth', Math.max(mm.kong.seriesLast - mm.kong.seriesFirst, mm.envoy.seriesLast - mm.envoy.seriesFirst), '<=', 0]);
}
if (so) {
  const lost = (side) => side.requests - side.responses;
  const growth = (mem) => Math.max(...Object.values(mem).map(([a, b]) => b - a));
  targets.push(['soak.unanswered', lost(so.kong) + lost(so.envoy), '<=', 0]);
  targets.push(['soak.kongRssGrowthKb', growth(so.kong.memory), '<=', 16384]);
  targets.push(['soak.envoyPagesGrowth', growth(so.envoy.memory), '<=', 1]);
}
result.targets = {};
for (const [key, value, op, limit] of targets) {
  const pass = value === null ? false : op === '<=' ? value <= limit : value >= limit;
  result.targets[key] = { value, target: `${op} ${limit}`, pass };
}
result.pass = Object.values(result.targets).every((t) => t.pass);
result.meta = {
  node: process.version,
  cpus: os.cpus().length,
  seconds: Math.round((Date.now() - t0) / 100) / 10,
  sectionSeconds: seconds,
  ...(Object.keys(errors).length ? { errors } : {}),
};

if (json) {
  // one line: `npm run bench -- --json` also puts npm's banner and the build's line on
  // stdout before it, so the object is the last line (`| tail -n 1`).
  process.stdout.write(JSON.stringify(result) + '\n');
} else {
  const fmt = (v) => (v === null || v === undefined ? 'n/a' : typeof v === 'number' ? String(v) : JSON.stringify(v));
  const us = (ns) => (typeof ns === 'number' ? `${(ns / 1000).toFixed(2)} µs` : 'n/a');
  const ctx = {
    'envoy.overheadRatio': `tandem ${us(result.envoy.tandemNsPerRequest)} ÷ noop ${us(result.envoy.noopNsPerRequest)} per stream; median of ${fmt(result.envoy.rounds)} rounds × ${fmt(result.envoy.requestsPerRound)} (range ${fmt(result.envoy.ratioMin)}–${fmt(result.envoy.ratioMax)}); ÷ a no-op on tandem's dispatcher ${us(result.envoy.leanNoopNsPerRequest)}: ${fmt(result.envoy.overheadRatioVsLeanNoop)}`,
    'kong.accessRpcs': `max over checkout.yaml's kinds; by kind ${fmt(result.kong.accessRpcsByKind)}; mean over the 80/10/10 mix ${fmt(result.kong.accessRpcsMean)}; with a path scope (one more get_path_with_query): kong.accessRpcsScoped ${fmt(result.kong.accessRpcsScoped)}`,
    'envoy.breakerOverheadRatio': `circuit-breaker ${us(result.envoy.breakerNsPerRequest)} ÷ noop ${us(result.envoy.breakerNoopNsPerRequest)} per stream, shared data included (${fmt(result.envoy.breakerSharedDataGetsPerRequest)} gets + ${fmt(result.envoy.breakerSharedDataSetsPerRequest)} sets per request); median of ${fmt(result.envoy.breakerRounds)} rounds × ${fmt(result.envoy.breakerRequestsPerRound)} (range ${fmt(result.envoy.breakerRatioMin)}–${fmt(result.envoy.breakerRatioMax)}); ${fmt(result.envoy.breakerFailureShare)} of responses 503, ${fmt(result.envoy.breakerRejected)} rejected, all keys closed; ÷ a no-op on tandem's dispatcher ${us(result.envoy.breakerLeanNoopNsPerRequest)}: envoy.breakerOverheadRatioVsLeanNoop ${fmt(result.envoy.breakerOverheadRatioVsLeanNoop)}`,
    'envoy.rulesOverhead': `checkout policy + ${fmt(result.envoy.rulesCount)} rules ${us(result.envoy.rulesNsPerRequest)} ÷ without rules ${us(result.envoy.noRulesNsPerRequest)} per stream, − 1 (exposeHeader on both); no request of the mix matches a rule (reasons with rules ${fmt(result.envoy.rulesReasons?.rules)}), each rule's probe matches it (${fmt(result.envoy.rulesProbesMatched)}); median of ${fmt(result.envoy.rulesRounds)} rounds × ${fmt(result.envoy.rulesRequestsPerRound)} (range ${fmt(result.envoy.rulesOverheadMin)}–${fmt(result.envoy.rulesOverheadMax)}); requests reach the filters as codec-built header maps (made before timing, for both alike, as Envoy's codec does before the filter chain; the rules' one pairs call copies their bytes): that codec step ${us(result.envoy.rulesCodecNs)} per request, envoy.rulesCodecShare ${fmt(result.envoy.rulesCodecShare)} of the time without rules`,
    'envoy.guardOverheadRatio': `experiment with a canary guard on the variant every request lands on ${us(result.envoy.guardedNsPerRequest)} ÷ noop ${us(result.envoy.guardNoopNsPerRequest)} per stream, shared data included (${fmt(result.envoy.guardSharedDataGetsPerRequest)} gets + ${fmt(result.envoy.guardSharedDataSetsPerRequest)} sets per request), ${fmt(result.envoy.guardFailureShare)} of responses 503, guard closed; median of ${fmt(result.envoy.guardRounds)} rounds × ${fmt(result.envoy.guardRequestsPerRound)} (range ${fmt(result.envoy.guardRatioMin)}–${fmt(result.envoy.guardRatioMax)}); the same policy without the guard ${us(result.envoy.unguardedNsPerRequest)}: guarded ÷ unguarded ${fmt(result.envoy.guardCostRatio)}`,
    'kong.logRpcs': `max per request over both plugins' log phases: experiment alone ${fmt(result.kong.experimentLogRpcs)} (HandleEvent; + serialize with a canary guard), experiment + circuit-breaker ${fmt(result.kong.withBreakerLogRpcs)}`,
    'kong.throughputRatio': `experiment ${fmt(result.kong.experimentReqPerSec)} req/s ÷ kong-baseline ${fmt(result.kong.baselineReqPerSec)} req/s; ${fmt(result.kong.concurrency)} in flight, median of ${fmt(result.kong.rounds)} rounds (range ${fmt(result.kong.throughputRatioMin)}–${fmt(result.kong.throughputRatioMax)}); plugin-server CPU per request ${fmt(result.kong.experimentCpuUsPerRequest)} µs vs ${fmt(result.kong.baselineCpuUsPerRequest)} µs (×${fmt(result.kong.cpuRatio)}), driver ${fmt(result.kong.driverCpuUsPerRequest)} µs`,
    'wasm.sizeBytes': `noop.wasm ${fmt(result.wasm.noopSizeBytes)} bytes`,
    'envoy.hostCallsOverKong': `most host calls per stream above Kong's round trips (access + log) for the same kind of request; Envoy ${fmt(result.envoy.hostCalls)} vs Kong ${fmt(result.kong.roundTripsByKind)}`,
    'peers.bucketRatio': `tandem decideVariant through tandem-core.wasm from JS (hash: growthbook-v2; the variant, no decision object) ${us(result.peers.tandemBucketNs)} vs @growthbook/growthbook hash + getBucketRanges + chooseVariation ${us(result.peers.growthbookNs)}, same keys, same variants; median of ${fmt(result.peers.rounds)} interleaved rounds`,
    'peers.unleashRatio': `tandem (hash: unleash) ${us(result.peers.tandemUnleashNs)} vs unleash-client selectVariantDefinition ${us(result.peers.unleashNs)}, same keys, same variants`,
    'peers.breakerRatio': `tandem admitCall + recordCall (the adapters' lean calls) ${us(result.peers.tandemBreakerNs)} vs opossum fire() of a resolved action, awaited ${us(result.peers.opossumNs)}`,
    'playground.loadPairsPerSec': `the load generator against two minimal HTTP servers, asking ${fmt(pl.askedEcho)} pairs/s: ${fmt(pl.echo)}`,
    'playground.gatewayPairsPerSec': `through the playground's Kong (3 plugin servers) and Envoy (3 filters), playground.yaml, asking ${fmt(pl.askedGateways)} pairs/s: ${fmt(pl.gateways)}`,
    'wasm.memoryGrowthPages': `${fmt(result.wasm.pagesAfterWarmup)} pages after 10,000 streams → ${fmt(result.wasm.pagesAfterRun)} after ${fmt(result.wasm.memoryRequests)} more`,
  };
  if (so) {
    const side = (x) => `${x.responses}/${x.requests} answered (${JSON.stringify(x.byStatus)}), ${x.errors} client errors, slowest ${x.maxMs} ms, ${x.seconds.toFixed(0)} s`;
    ctx['soak.unanswered'] = `Kong ${side(so.kong)}; Envoy ${side(so.envoy)}; ${so.concurrency} in flight, a canary that fails, resets, hangs and lags`;
    ctx['soak.kongRssGrowthKb'] = `plugin-server resident set after warm-up → after the run (kB): ${JSON.stringify(so.kong.memory)}`;
    ctx['soak.envoyPagesGrowth'] = `wasm pages per VM after warm-up → after the run: ${JSON.stringify(so.envoy.memory)}`;
  }
  const rows = [['figure', 'value', 'target', 'pass', 'context']];
  for (const [key, { value, target, pass }] of Object.entries(result.targets)) rows.push([key, fmt(value), target, pass ? 'PASS' : 'FAIL', ctx[key] ?? '']);
  rows.push(['kong.breakerAccessRpcs', fmt(result.kong.breakerAccessRpcs), '', '', `circuit-breaker plugin's own access round trips, max over admitted / rejected: ${fmt(result.kong.breakerRpcsByOutcome)} (${fmt(result.kong.breakerRequests)} requests); with experiment, per request: kong.withBreakerAccessRpcs ${fmt(result.kong.withBreakerAccessRpcs)}`]);
  rows.push(['kong.breakerLogRpcs', fmt(result.kong.breakerLogRpcs), '', '', 'circuit-breaker plugin\'s own log round trips (HandleEvent + serialize), max over admitted / rejected']);
  const signed = (x) => (typeof x === 'number' && x >= 0 ? `+${x}` : fmt(x));
  const lat = (g) => (al?.[g] ? `${signed(al[g].addedP50Ms)} ms p50 (${al[g].without.p50} → ${al[g].with.p50}), ${signed(al[g].addedP99Ms)} ms p99 (${al[g].without.p99} → ${al[g].with.p99}), ${al[g].requests} requests, ${al[g].errors} errors` : 'n/a');
  rows.push(['latency.kong', signed(al?.kong.addedP50Ms), '', '', `added by experiment + circuit-breaker through the Kong harness, ${fmt(al?.connections)} connections, vs no plugin: ${lat('kong')}`]);
  rows.push(['latency.envoy', signed(al?.envoy.addedP50Ms), '', '', `added by tandem.wasm experiment + circuit-breaker through the Envoy harness, ${fmt(al?.connections)} connections, vs the router alone: ${lat('envoy')}`]);
  if (kc) {
    const sz = (x) => `${x.bodyBytes} B bodies: with ${fmt(round(x.withReqPerSec, 0))} req/s ÷ without ${fmt(round(x.withoutReqPerSec, 0))} req/s, median of ${kc.rounds} rounds (range ${fmt(round(x.ratioMin))}–${fmt(round(x.ratioMax))}); RPCs per request with ${JSON.stringify(x.rpcs.with)} vs without ${JSON.stringify(x.rpcs.without)}`;
    rows.push(['kong.cacheThroughputRatio', fmt(result.kong.cacheThroughputRatio), '', '', `route with the buffered fallback-cache plugin ÷ the same route without it (circuit-breaker on both), ${kc.concurrency} in flight; ${sz(kc.small)}`]);
    rows.push(['kong.cacheThroughputRatioLargeBody', fmt(result.kong.cacheThroughputRatioLargeBody), '', '', sz(kc.large)]);
  }
  rows.push(['core.decideNs', fmt(result.core.decideNs), '', '', `one decideExperiment through tandem-core.wasm; the same bridge deciding nothing: core.baselineNs ${fmt(result.core.baselineNs)} ns`]);
  rows.push(['core.breakerNs', fmt(result.core.breakerNs), '', '', `one admitted call as the Kong plugin makes it: admitCall (key text, generation, ticket read) + recordCall by ticket through tandem-core.wasm (two bridge crossings), ${fmt(result.core.breakerKeys)} keys, ${fmt(result.core.breakerFailureShare)} failures, all closed; trivial-call baseline core.baselineNs ${fmt(result.core.baselineNs)} ns`]);
  const w = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i].length)));
  const line = (r) => r.map((cell, i) => (i < 4 ? cell.padEnd(w[i]) : cell)).join('  ');
  const lines = [
    `tandem bench — node ${process.version}, ${os.cpus().length} cpus, ${result.meta.seconds} s (ratios are against baselines measured in the same run)`,
    '',
    line(rows[0]),
    line(w.map((n) => '-'.repeat(n)).concat('-------')),
    ...rows.slice(1).map(line),
    '',
    `${result.pass ? 'all targets met' : 'some targets missed'}${Object.keys(errors).length ? `; FAILED sections: ${Object.entries(errors).map(([k, v]) => `${k} (${v})`).join(', ')}` : ''}`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
}
process.exit(Object.keys(errors).length ? 1 : 0);
