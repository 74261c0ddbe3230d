// Peers section: tandem against the libraries users compare it with, measured in one
// process, interleaved, median of rounds (every figure a ratio of two timings taken
// side by side, so a loaded machine moves both alike).
//   bucket   tandem's experiment decision from JavaScript through tandem-core.wasm
//            (facts encoded, the call, the variant: decideVariant, the lean call that
//            builds no decision object, core-js/decision-view.ts; the SDKs too answer the
//            variant alone) with `hash: growthbook-v2`, against the GrowthBook SDK's own
//            hash + getBucketRanges + chooseVariation for the same keys (what its
//            `run()` evaluates per experiment); both must choose the same variants.
//   unleash  the same with `hash: unleash` against unleash-client's
//            selectVariantDefinition (what getVariant runs for strategy variants).
//   breaker  tandem's breaker admission + outcome record through the lean calls the
//            adapters use (admitCall, then recordCall with the admission's ticket, flags
//            and generation read from lastCall: core-js/breaker-call.ts) against
//            opossum's `fire()` of an already-resolved action, awaited: the per-call
//            overhead a Node service pays for opossum's breaker.
// Ratios are tandem's calls per second ÷ the peer's (> 1: tandem is faster).
import { createRequire } from 'node:module';
import path from 'node:path';
import CircuitBreaker from 'opossum';
import { answerNeeds } from '../core-js/answer-needs';
import { TandemCore, VARIANT_HEADER, callAdmitted, callFlags } from '../core-js/tandem-core';
import { ROOT, distPath, progress } from './common';
import { median } from './requests';

interface GbUtil {
  hash(seed: string, value: string, version: number): number | null;
  getBucketRanges(n: number, coverage: number | undefined, weights?: number[]): Array<[number, number]>;
  chooseVariation(n: number, ranges: Array<[number, number]>): number;
}
interface UnleashVariant { name: string; weight: number; stickiness?: string; weightType?: string }
interface UnleashVariantLib {
  selectVariantDefinition(groupId: string, stickiness: string | undefined, variants: UnleashVariant[], context: Record<string, unknown>): UnleashVariant | null;
}

const sdkRequire = createRequire(path.join(ROOT, 'package.json'));
const gb = sdkRequire(path.join(ROOT, 'node_modules/@growthbook/growthbook/dist/cjs/util.js')) as GbUtil;
const unleash = sdkRequire(path.join(ROOT, 'node_modules/unleash-client/lib/variant.js')) as UnleashVariantLib;

const KEYS = Array.from({ length: 1000 }, (_, i) => (i % 3 === 0 ? `user-${i}` : i % 3 === 1 ? `person${i}@example.com` : `${(i * 2654435761) >>> 0}`));

export interface PeersResult {
  bucketRatio: number; tandemBucketNs: number; growthbookNs: number;
  unleashRatio: number; tandemUnleashNs: number; unleashNs: number;
  breakerRatio: number; tandemBreakerNs: number; opossumNs: number;
  rounds: number; callsPerRound: number;
}

function timed(n: number, f: (i: number) => void): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) f(i);
  return Number(process.hrtime.bigint() - t0) / n;
}

async function timedAsync(n: number, f: (i: number) => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await f(i);
  return Number(process.hrtime.bigint() - t0) / n;
}

export async function peersBench(rounds = 12, perRound = 20_000): Promise<PeersResult> {
  const core = TandemCore.fromFile(distPath('wasm/tandem-core.wasm'));
  const weights = [0.5, 0.3, 0.2];
  const names = ['control', 'a', 'b'];
  const experiment = (hash: string) => ({
    name: 'peers', hash, stickiness: { sources: ['header:x-user-id'] },
    variants: names.map((name, i) => ({ name, weight: weights[i] * 100 })),
  });
  const gbPlan = core.configureExperiment(JSON.stringify(experiment('growthbook-v2')));
  const unPlan = core.configureExperiment(JSON.stringify(experiment('unleash')));
  const gbFacts = KEYS.map((k) => answerNeeds(gbPlan.needs, { headers: { 'x-user-id': k } }));
  const unFacts = KEYS.map((k) => answerNeeds(unPlan.needs, { headers: { 'x-user-id': k } }));
  const unVariants: UnleashVariant[] = names.map((name, i) => ({ name, weight: weights[i] * 1000, stickiness: 'default', weightType: 'variable' }));

  // Same keys, same variants: the comparison is between equal work.
  let agreeGb = 0, agreeUn = 0;
  for (let i = 0; i < KEYS.length; i++) {
    const t = core.decideExperiment(gbPlan, gbFacts[i], 0).variant;
    const g = gb.chooseVariation(gb.hash('peers', KEYS[i], 2) as number, gb.getBucketRanges(3, 1, weights));
    if (t === g) agreeGb++;
    const u = core.decideExperiment(unPlan, unFacts[i], 0).variant;
    const s = unleash.selectVariantDefinition('peers', 'default', unVariants, { userId: KEYS[i] })!.name;
    if (names[u] === s) agreeUn++;
  }
  if (agreeGb !== KEYS.length || agreeUn !== KEYS.length) throw new Error(`peers: variants differ from the SDKs (growthbook ${agreeGb}/${KEYS.length}, unleash ${agreeUn}/${KEYS.length})`);

  const bplan = core.configureBreaker(JSON.stringify({ window: { type: 'count', size: 100 }, minimumCalls: 20, failureRateThreshold: 50 }), 7);
  const bfacts = answerNeeds(bplan.needs, { headers: { host: 'shop.example.com', [VARIANT_HEADER]: 'canary' } });
  const opossum = new CircuitBreaker(async () => 1, { timeout: false, errorThresholdPercentage: 50, volumeThreshold: 20, rollingCountTimeout: 10_000 });
  let clock = 1_700_000_000_000;
  let sink = 0;
  const last = core.lastCall;

  const sections: Array<(off: number) => number | Promise<number>> = [
    (off) => timed(perRound, (i) => { sink += core.decideVariant(gbPlan, gbFacts[(off + i) % 1000], 0); }),
    (off) => timed(perRound, (i) => { sink += gb.chooseVariation(gb.hash('peers', KEYS[(off + i) % 1000], 2) as number, gb.getBucketRanges(3, 1, weights)); }),
    (off) => timed(perRound, (i) => { sink += core.decideVariant(unPlan, unFacts[(off + i) % 1000], 0); }),
    (off) => timed(perRound, (i) => { sink += unleash.selectVariantDefinition('peers', 'default', unVariants, { userId: KEYS[(off + i) % 1000] })!.name.length; }),
    // The clock advances 1 ms a call, as a fresh number per call the way an adapter's
    // Date.now() is: `base + i` is computed in the loop, where `clock++` on the
    // closure's variable stored a new heap number every call (≈ 5 ns no adapter pays).
    () => {
      const base = clock;
      clock += perRound;
      return timed(perRound, (i) => {
        const now = base + i;
        const a = core.admitCall(bplan, bfacts, now);
        if (callAdmitted(a)) sink += core.recordCall(bplan, last.ticket, callFlags(a), last.generation, 200, 0, 5, now);
      });
    },
    () => timedAsync(perRound, () => opossum.fire()),
  ];
  for (const s of sections) await s(0);                  // warm-up: JIT, wasm tiers
  const out: number[][] = sections.map(() => []);
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 ? [...sections.keys()].reverse() : [...sections.keys()];
    for (const j of order) out[j].push(await sections[j](r * 131));
  }
  opossum.shutdown();
  const [tb, g, tu, u, tk, o] = out.map(median);
  progress(`peers: growthbook ${g.toFixed(0)} ns vs tandem ${tb.toFixed(0)} ns; unleash ${u.toFixed(0)} ns vs tandem ${tu.toFixed(0)} ns; opossum ${o.toFixed(0)} ns vs tandem breaker ${tk.toFixed(0)} ns (sink ${sink & 1})`);
  return {
    bucketRatio: g / tb, tandemBucketNs: tb, growthbookNs: g,
    unleashRatio: u / tu, tandemUnleashNs: tu, unleashNs: u,
    breakerRatio: o / tk, tandemBreakerNs: tk, opossumNs: o,
    rounds, callsPerRound: perRound,
  };
}
