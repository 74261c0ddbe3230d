// Core section: one experiment decision through tandem-core.wasm from Node, the way the
// Kong plugin calls it (plugins/core/tandem-core.ts TandemCore.decideExperiment), and,
// for context, a call of the same bridge shape that decides nothing: arena + fact
// table + UTF-8 encoding of the same facts, one trivial export call, the out buffer read.
import { answerNeeds } from '../plugins/core/answer-needs';
import { TandemCore, type ExperimentPlan } from '../plugins/core/tandem-core';
import { checkoutExperiment, progress } from './common';
import { makeMix, median } from './requests';

interface CoreInternals {
  ex: {
    tandem_arena(size: number): number;
    tandem_fact_table(h: number): number;
    tandem_experiment_bucket(h: number): number;
  };
  enc: TextEncoder;
  bytes(): Uint8Array;
  out(): string;
}

/** decideExperiment with the decision replaced by a trivial export (the bridge alone). */
function bridgeOnly(core: TandemCore, plan: ExperimentPlan, facts: ReadonlyArray<string | undefined>): number {
  const c = core as unknown as CoreInternals;
  let size = 16;
  for (const f of facts) if (f !== undefined) size += f.length * 3;
  const base = c.ex.tandem_arena(size);
  const tablePtr = c.ex.tandem_fact_table(plan.handle);
  const mem = c.bytes();
  const table = new Int32Array(mem.buffer, tablePtr, facts.length * 2);
  let off = 0;
  for (let i = 0; i < facts.length; i++) {
    const f = facts[i];
    if (f === undefined) { table[2 * i] = 0; table[2 * i + 1] = -1; continue; }
    const n = c.enc.encodeInto(f, mem.subarray(base + off)).written;
    table[2 * i] = off;
    table[2 * i + 1] = n;
    off += n;
  }
  const v = c.ex.tandem_experiment_bucket(plan.handle);
  c.out();
  return v;
}

export interface CoreResult {
  decideNs: number;
  baselineNs: number;
  rounds: number;
  callsPerRound: number;
}

export function coreBench(wasmPath: string, rounds = 20, perRound = 50_000): CoreResult {
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
  for (let i = 0; i < 3; i++) { decide(0, perRound); bridge(0, perRound); }
  const d: number[] = [];
  const b: number[] = [];
  for (let r = 0; r < rounds; r++) {
    if (r % 2 === 0) { d.push(decide(r * 37, perRound)); b.push(bridge(r * 37, perRound)); }
    else { b.push(bridge(r * 37, perRound)); d.push(decide(r * 37, perRound)); }
  }
  progress(`core: decide ${median(d).toFixed(0)} ns, bridge ${median(b).toFixed(0)} ns (sink ${sink & 1})`);
  return { decideNs: median(d), baselineNs: median(b), rounds, callsPerRound: perRound };
}
