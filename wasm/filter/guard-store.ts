// Canary guard states in Envoy shared data: the GuardGate of the `experiment` filter.
// One state per guarded variant, shared by every worker VM through compare-and-swap
// (./breaker-store.ts does the reading, CAS writing and retrying; a guard is a breaker
// with one key, the empty one, so each guard owns exactly one name):
//     tandem:guard:<configId>:0000
// configId: a hash of the experiment's configuration text and the guard's index, so a
// configuration change starts every guard afresh and two guards never share a state.
import { GuardGate } from "../core/guard/guard";
import { GuardSettings } from "../core/experiment/settings";
import { Admission } from "../core/breaker/machine";
import { fmix32 } from "../core/hash/hash";
import { BreakerStore, GUARD_PREFIX } from "./breaker-store";
import { METRIC_COUNTER, NO_METRIC, defineMetric, incrementMetric } from "./host";
import { utf8 } from "../core/text/bytes";

// Counters (wasmcustom.<name>, process-wide across worker VMs): requests a guard sent
// to guard.to, and guard state transitions (counted by the worker whose write made them).
let mRerouted: u32 = NO_METRIC;
let mTransitions: u32 = NO_METRIC;

export class EnvoyGuards extends GuardGate {
  stores: StaticArray<BreakerStore>;

  constructor(guards: StaticArray<GuardSettings>, configHash: u32) {
    super();
    if (mRerouted == NO_METRIC) {
      mRerouted = defineMetric(METRIC_COUNTER, utf8("tandem_guard_rerouted"));
      mTransitions = defineMetric(METRIC_COUNTER, utf8("tandem_guard_transitions"));
    }
    this.stores = new StaticArray<BreakerStore>(guards.length);
    for (let i = 0; i < guards.length; i++) {
      this.stores[i] = new BreakerStore(guards[i].breaker, fmix32(configHash ^ <u32>(i + 1)), GUARD_PREFIX);
    }
  }

  // After MAX_TRIES CAS mismatches the store fails open (admitted, untracked): the
  // request keeps its variant.
  // (probeOk: always 1 here, the filter decides a guard probe at its response headers.)
  admit(g: GuardSettings, nowMs: f64, _probeOk: i32): Admission {
    const st = unchecked(this.stores[g.index]);
    const a = st.admit(0, 0, nowMs);
    if (st.transitions > 0) incrementMetric(mTransitions, st.transitions);
    if (!a.admitted) incrementMetric(mRerouted, 1);
    return a;
  }

  // The outcome of a request guard `gi` admitted (BreakerStore.record's arguments).
  record(gi: i32, slot: i32, hashA: u32, hashB: u32, flags: i32, generation: u32, status: i32, error: i32, latencyMs: f64, nowMs: f64): void {
    const st = unchecked(this.stores[gi]);
    st.record(slot, hashA, hashB, 0, flags, generation, status, error, latencyMs, nowMs);
    if (st.transitions > 0) incrementMetric(mTransitions, st.transitions);
  }
}
