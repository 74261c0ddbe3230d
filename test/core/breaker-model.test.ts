// Differential test: the wasm breaker core against the plain JavaScript model in
// test/support/breaker-model.ts, on thousands of random configurations and call
// sequences (out-of-order and lost outcomes, clocks going backwards, several keys with
// LRU eviction, state round trips through the codec). Every state is compared after
// every call.
import { describe, expect, it } from "vitest";
import { BreakerCore, type Admission } from "../support/breaker-core";
import { BreakerModel, type ModelAdmission, type ModelSettings } from "../support/breaker-model";
import { rng as mulberry32 } from "../support/rng";

const core = BreakerCore.load();


function randomConfig(r: () => number): Record<string, unknown> {
  const int = (n: number) => Math.floor(r() * n);
  const pick = <T>(xs: T[]): T => xs[int(xs.length)];
  const subset = <T>(xs: T[]): T[] => xs.filter(() => r() < 0.5);
  const cfg: Record<string, unknown> = {
    maxKeys: 1 + int(3),
    minimumCalls: 1 + int(12),
    failureRateThreshold: pick([0, 1, 20, 33.33, 50, 50, 66.67, 75, 100]),
    openDurationMs: 1 + int(2000),
    halfOpen: { permittedCalls: 1 + int(5), maxWaitMs: 1 + int(3000) },
    mode: pick(["enforce", "enforce", "enforce", "enforce", "enforce", "dry_run", "dry_run", "forced_open", "forced_closed"]),
  };
  if (r() < 0.5) cfg.window = { type: "count", size: 1 + int(12) };
  else {
    const buckets = 1 + int(6);
    cfg.window = { type: "time", buckets, sizeMs: buckets * pick([1, 10, 100, 250, 1000]) };
  }
  if (r() < 0.5) { cfg.slowCallDurationMs = 50 + int(300); cfg.slowCallRateThreshold = pick([0, 25, 50, 100]); }
  if (r() < 0.4) cfg.consecutiveFailures = 1 + int(5);
  if (r() < 0.5) cfg.openBackoff = { multiplier: pick([1, 1.5, 2, 3]), maxMs: (cfg.openDurationMs as number) + int(10000) };
  if (r() < 0.5) cfg.failure = { statuses: subset(["5xx", "429", "404", "503"]), ignoreStatuses: subset(["503", "404", "4xx"]), errors: subset(["connect", "reset", "timeout"]) };
  return cfg;
}

const KEYS = ["a", "b", "c", "d"];
const STATUSES = [200, 201, 404, 429, 500, 502, 503, 0, 600];

interface Pending { key: string; core: Admission; model: ModelAdmission }

function runSequence(seed: number, steps: number): { states: Set<string>; reasons: Set<string>; ops: number } {
  const r = mulberry32(seed);
  const int = (n: number) => Math.floor(r() * n);
  const cfg = randomConfig(r);
  const settings = core.configure(cfg) as ModelSettings;
  const model = new BreakerModel(settings);
  const keys = KEYS.slice(0, 1 + int(KEYS.length));
  const maxStep = [5, 50, 500, 3000][int(4)];
  const slowMs = settings.slowCallDurationMs || 200;
  const pending: Pending[] = [];
  const states = new Set<string>();
  const reasons = new Set<string>();
  let t = 1000;
  const fail = (step: number, what: string, got: unknown, want: unknown): never => {
    throw new Error(`seed ${seed} step ${step}: ${what}\nconfig ${JSON.stringify(cfg)}\ncore  ${JSON.stringify(got)}\nmodel ${JSON.stringify(want)}`);
  };
  const same = (step: number, what: string, got: unknown, want: unknown) => {
    if (JSON.stringify(got) !== JSON.stringify(want)) fail(step, what, got, want);
  };
  for (let step = 0; step < steps; step++) {
    const dice = r();
    if (dice < 0.1) t -= int(maxStep * 2);            // the clock goes back
    else if (dice < 0.75) t += int(maxStep);
    const key = keys[int(keys.length)];
    const op = r();
    if (op < 0.45 || pending.length === 0) {
      const a = core.allow(key, t);
      const m = model.allow(key, t);
      same(step, `allow ${key} @${t}`, { admitted: a.admitted, permitted: a.permitted, probe: a.probe, generation: a.generation, state: a.state }, m);
      if (a.admitted && r() < 0.9) pending.push({ key, core: a, model: m });   // some outcomes are lost
    } else if (op < 0.85) {
      const p = pending.splice(int(pending.length), 1)[0];
      const error = r() < 0.15 ? 1 + int(3) : 0;
      const status = STATUSES[int(STATUSES.length)];
      const latencyMs = int(slowMs * 2);
      const got = core.record(p.key, p.core, { status, error, latencyMs }, t);
      const want = model.record(p.key, p.model, status, error, latencyMs, t);
      same(step, `record ${p.key} ${status}/${error}/${latencyMs}ms @${t}`, got, want);
      if (r() < 0.05) {                                // a duplicate report of the same call
        same(step, "duplicate record", core.record(p.key, p.core, { status, error, latencyMs }, t), model.record(p.key, p.model, status, error, latencyMs, t));
      }
    } else if (op < 0.95) {
      same(step, `advance ${key} @${t}`, core.advance(key, t), model.advance(key, t));
    } else if (core.has(key)) {
      const bytes = core.encode(key)!;
      if (!core.decode(key, bytes)) fail(step, "decode", false, true);
      model.touch(key);
    }
    for (const k of keys) {
      const s = core.state(k);
      same(step, `state ${k}`, s, model.snapshot(k));
      if (s) { states.add(s.state); reasons.add(s.reason); }
    }
    same(step, "lru", core.lru(), model.lru());
  }
  return { states, reasons, ops: steps };
}

describe("breaker core vs JavaScript model", () => {
  it("agree on 3000 random configurations and call sequences", () => {
    const seen = new Map<string, number>();
    const reasons = new Set<string>();
    let ops = 0;
    for (let seed = 1; seed <= 3000; seed++) {
      const res = runSequence(seed, 200);
      ops += res.ops;
      for (const s of res.states) seen.set(s, (seen.get(s) ?? 0) + 1);
      for (const x of res.reasons) reasons.add(x);
    }
    // The sequences do reach every state, through every kind of transition.
    expect([...reasons].sort()).toEqual([
      "consecutive_failures", "failure_rate", "none", "open_elapsed", "probe_failures", "probe_slow_calls",
      "probe_timeout", "probes_passed", "slow_call_rate",
    ]);
    console.log(`breaker differential: ${ops} calls; sequences reaching OPEN ${seen.get("OPEN")}, HALF_OPEN ${seen.get("HALF_OPEN")}`);
    expect(seen.get("OPEN")).toBeGreaterThan(500);
    expect(seen.get("HALF_OPEN")).toBeGreaterThan(300);
    expect(ops).toBe(600000);
  }, 600_000);   // ~25 s alone; several times that on a loaded 2-core machine
});
