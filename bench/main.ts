// Entry of the bench bundle (bench/run.mjs builds it into bench/.build/bench.cjs and
// runs one section per process): `node bench.cjs <section>` prints one JSON line.
import { distPath } from './common';
import { coreBench } from './core';
import { envoyBreakerOverhead, envoyOverhead, envoyRulesOverhead, memoryGrowth } from './envoy';
import { kongBreakerRpcs, kongRpcs, kongThroughput } from './kong';
import { envoyGuardOverhead } from './envoy-guard';
import { peersBench } from './peers';
import { soak } from './soak';
import { hostCalls } from './host-calls';
import { faultDelays, faultOverhead } from './fault';
import { metricsOverhead } from './metrics';
import { cacheOverhead } from './cache';
import { kongCache } from './kong-cache';
import { playgroundLoad } from './playground';
import { addedLatency } from './added-latency';
import { metricsMemory } from './metrics-memory';

const sections: Record<string, () => unknown> = {
  core: () => coreBench(distPath('wasm/tandem-core.wasm')),
  envoy: () => envoyOverhead(),
  'envoy-breaker': () => envoyBreakerOverhead(),
  'envoy-rules': () => envoyRulesOverhead(),
  'envoy-guard': () => envoyGuardOverhead(),
  memory: () => memoryGrowth(),
  // experiment alone, then experiment + circuit-breaker on one gateway
  'kong-rpcs': async () => ({ ...(await kongRpcs()), breaker: await kongBreakerRpcs() }),
  'kong-throughput': () => kongThroughput(),
  peers: () => peersBench(),
  'host-calls': () => hostCalls(),
  // not in the default run (minutes): npm run bench -- --only=soak
  soak: () => soak(),
  'fault-overhead': () => faultOverhead(),
  'metrics-overhead': () => metricsOverhead(),
  'cache-overhead': () => cacheOverhead(),
  // Kong's buffered fallback-cache path: throughput with it ÷ the same route without it
  'kong-cache': () => kongCache(),
  'fault-delays': () => faultDelays(),
  'playground-load': () => playgroundLoad(),
  'added-latency': () => addedLatency(),
  // issue 14: metrics memory over 1,000,000 requests with 100,000 distinct breaker keys
  'metrics-memory': () => metricsMemory(),
};

const name = process.argv[2];
const run = sections[name];
if (!run) {
  process.stderr.write(`unknown section "${name}" (${Object.keys(sections).join(', ')})\n`);
  process.exit(2);
}
Promise.resolve()
  .then(run)
  .then((r) => {
    process.stdout.write(JSON.stringify(r) + '\n');
    process.exit(0);
  })
  .catch((e) => {
    process.stderr.write(`[bench] ${name} failed: ${(e as Error).stack ?? e}\n`);
    process.exit(1);
  });
