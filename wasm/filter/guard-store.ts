// Canary guard states in Envoy shared data: the GuardGate of the `experiment` filter.
// One state per guarded variant, shared by every worker VM through compare-and-swap
// (./breaker-store.ts does the reading, CAS writing and retrying; a guard is a breaker
// with one key, the empty one, so each guard owns exactly one name):
//     tandem:guard:<configId>:0000
// configId: a hash of the experiment's configuration text and the guard's index, so a
// configuration change starts every guard afresh and two guards never share a state.
import { GuardGate } from "../core/guard";
import { GuardSettings } from "../core/experiment-settings";
import { Admission } from "../core/breaker/machine";
import { fmix32 } from "../core/hash";
import { BreakerStore, GUARD_PREFIX } from "./breaker-store";

export class EnvoyGuards extends GuardGate {
  stores: StaticArray<BreakerStore>;

  constructor(guards: StaticArray<GuardSettings>, configHash: u32) {
    super();
    this.stores = new StaticArray<BreakerStore>(guards.length);
    for (let i = 0; i < guards.length; i++) {
      this.stores[i] = new BreakerStore(guards[i].breaker, fmix32(configHash ^ <u32>(i + 1)), GUARD_PREFIX);
    }
  }

  // After MAX_TRIES CAS mismatches the store fails open (admitted, untracked): the
  // request keeps its variant.
  admit(g: GuardSettings, nowMs: f64): Admission {
    return unchecked(this.stores[g.index]).admit(0, 0, nowMs);
  }
}
