// Core section: one experiment decision through tandem-core.wasm from Node, the way the
// Kong plugin calls it (core-js/tandem-core.ts TandemCore.decideExperiment), and,
// for context, a call of the same bridge shape that decides nothing: arena + fact
// table written through views over its memory, one trivial export call, the views checked.
// And the circuit breaker the way the Kong `circuit-breaker` plugin drives it: one
// admitted call = admitCall (key from the request facts, admission; the key text, the
// generation and the ticket read from lastCall for the carry) in access plus recordCall
// (the outcome, by the ticket) in log: TandemCore's lean calls (core-js/breaker-call.ts).
import { answerNeeds } from '../core-js/answer-needs';
import { TandemCore, callAdmitted, callFlags, type ExperimentPlan } from '../core-js/tandem-core';
import { BREAKER_CONFIG, BREAKER_FAILURE_SHARE, BREAKER_KEYS, checkoutExperiment, progress } from './common';
import { makeMix, median, rng } from './requests';
import { VARIANT_HEADER } from '../core-js/tandem-core';

/** decideExperiment with the decision replaced by a trivial export (the bridge alone:
 * facts written into the arena and fact table, one call, memory views checked): the
 * binding's public TandemCore.bridgeOnly. */
function bridgeOnly(core: TandemCore, plan: ExperimentPlan, facts: ReadonlyArray<string | undefined>): number {
  return core.bridgeOnly(plan, facts);
}

export interface CoreResult {
  decideNs: number;
  baselineNs: number;
  /** one admitted call: admitCall + recordCall (two bridge crossings) */
  breakerNs: number;
  breakerKeys: number;
  breakerFailureShare: number;
  rounds: number;
  callsPerRound: number;
}

/** Sanity and state checks of the breaker part. */
interface BreakerCheck { rejected: number; recorded: number; failures: number }

export function coreBench(wasmPath: string, rounds = 24, perRound = 50_000): CoreResult {
  const core = TandemCore.fromFile(wasmPath);
  const plan = core.configureExperiment(JSON.stringify(checkoutExperiment()));
  const facts = makeMix(1000, 0xc03e).map((r) => {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(r.kongHeaders)) headers[k] = v[0];
    return answerNeeds(plan.needs, { headers, path: r.path, method: 'GET', ip: '10.1.2.3' });
  });
  // sanity: new users get a cookie, the others none
  const d0 = core.decideExperiment(plan, facts[0], 0);
  const d1 = core.decideExperiment(plan, facts[1], 0);
  if (d0.setCookie === null || d1.setCookie !== null || d0.variant < 0 || d1.variant < 0) throw new Error('core: unexpected decisions');

  // The breaker: key `upstream` (x-tandem-variant, else Host), rotating over a few
  // keys; ~5% of the outcomes are 503 (failures), so every breaker stays closed and
  // every call is admitted and recorded.
  const bplan = core.configureBreaker(JSON.stringify(BREAKER_CONFIG), 0x5eed);
  const keyFacts = BREAKER_KEYS.map((k) => answerNeeds(bplan.needs, { headers: { host: 'shop.example.com', [VARIANT_HEADER]: k } }));
  const br = rng(0xb4e7);
  const calls = Array.from({ length: 1000 }, (_, i) => ({ facts: keyFacts[i % BREAKER_KEYS.length], status: br() < BREAKER_FAILURE_SHARE ? 503 : 200 }));
  const a0 = core.admitBreaker(bplan, keyFacts[1], 1);
  if (a0.key !== BREAKER_KEYS[1] || !a0.admitted || !a0.permitted || !bplan.records) throw new Error(`core: unexpected breaker admission ${JSON.stringify(a0)}`);
  const check: BreakerCheck = { rejected: 0, recorded: 0, failures: 0 };
  let clock = 1_700_000_000_000;

  let sink = 0;
  const decide = (off: number, n: number) => {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) sink += core.decideExperiment(plan, facts[(off + i) % 1000], 1_700_000_000_000).variant;
    return Number(process.hrtime.bigint() - t0) / n;
  };
  const bridge = (off: number, n: number) => {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) sink += bridgeOnly(core, plan, facts[(off + i) % 1000]);
    return Number(process.hrtime.bigint() - t0) / n;
  };
  const breaker = (off: number, n: number) => {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      const c = calls[(off + i) % 1000];
      const now = clock++;
      const a = core.admitCall(bplan, c.facts, now);
      if (!callAdmitted(a)) { check.rejected++; continue; }
      const last = core.lastCall;
      const key = last.key;
      const outcome = core.recordCall(bplan, last.ticket, callFlags(a), last.generation, c.status, 0, 12, now, key);
      check.recorded++;
      if (outcome === 1) check.failures++;
    }
    return Number(process.hrtime.bigint() - t0) / n;
  };
  const fns = [decide, bridge, breaker];
  for (let i = 0; i < 3; i++) for (const f of fns) f(0, perRound);
  const out: number[][] = [[], [], []];
  // every order of the three in turn (rounds a multiple of 6): load from elsewhere
  // hits each alike
  const orders = [[0, 1, 2], [1, 2, 0], [2, 0, 1], [0, 2, 1], [2, 1, 0], [1, 0, 2]];
  for (let r = 0; r < rounds; r++) {
    for (const j of orders[r % orders.length]) out[j].push(fns[j](r * 37, perRound));
  }
  const [d, b, k] = out.map(median);
  // The breaker really was closed throughout: nothing rejected, every key closed,
  // the failures counted.
  const states = BREAKER_KEYS.map((key) => core.breakerState(bplan, key));
  if (check.rejected > 0 || states.some((s) => s !== 'closed') || check.failures === 0) {
    throw new Error(`core: the breaker did not stay closed (rejected ${check.rejected}, states ${states.join(',')}, failures ${check.failures})`);
  }
  progress(`core: decide ${d.toFixed(0)} ns, bridge ${b.toFixed(0)} ns, breaker allow+record ${k.toFixed(0)} ns; ${check.recorded} breaker calls, ${(100 * check.failures / check.recorded).toFixed(1)}% failures, all admitted (sink ${sink & 1})`);
  return { decideNs: d, baselineNs: b, breakerNs: k, breakerKeys: BREAKER_KEYS.length, breakerFailureShare: check.failures / check.recorded, rounds, callsPerRound: perRound };
}
