// A configured breaker with its per-key states: what the Kong plugin server keeps
// (one per plugin config, in module scope, shared by all Kong workers) and what
// `tandem simulate --via core` drives. The Envoy filter uses the machine directly on
// a state decoded from shared data (./codec.ts) instead of the table.
//
// Per call: allow() before proxying, then record() with the admission's flags and
// generation when the outcome is known (Kong: log phase). No allocation in steady state.
import { BreakerSettings } from "./settings";
import { BreakerState } from "./state";
import { BreakerTable } from "./keys";
import { Admission, allow, classify, record } from "./machine";

export class Breaker {
  table: BreakerTable;
  admission: Admission = new Admission();   // the last allow() answer (reused)
  private scratch: Admission = new Admission();

  constructor(public settings: BreakerSettings, seed: u32 = 0) {
    this.table = new BreakerTable(settings, seed);
  }

  // Admission for the key of `len` bytes at `ptr`, at nowMs. Creates the key's state.
  allow(ptr: usize, len: i32, nowMs: f64): Admission {
    return allow(this.settings, this.table.get(ptr, len), nowMs, this.admission);
  }

  // The outcome of a call admitted with (flags, generation): status (0 = none) or a
  // transport error (ERROR_*), latency in ms. A key evicted meanwhile is not recreated.
  // Returns the classification (OUTCOME_*); -1 when nothing was recorded for a missing key.
  record(ptr: usize, len: i32, flags: i32, generation: u32, status: i32, error: i32, latencyMs: f64, nowMs: f64): i32 {
    const s = this.settings;
    const outcome = classify(s, status, error);
    const st = this.table.find(ptr, len);
    if (st === null) return -1;
    record(s, st, this.scratch.restore(flags, generation), outcome, latencyMs, nowMs);
    return outcome;
  }

  // The key's state without marking it used, or null.
  state(ptr: usize, len: i32): BreakerState | null {
    return this.table.peek(ptr, len);
  }
}
