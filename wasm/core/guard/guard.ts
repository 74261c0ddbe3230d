// Canary guards at request time: automatic rollback inside the proxy. A guard is the
// breaker state machine (./breaker/machine.ts) on one variant's outcomes:
//
//   decide    the experiment picked a guarded variant (split, ramp or rule; never an
//             override, which QA uses to reach a rolled-back canary): the guard admits
//             the request (CLOSED; HALF_OPEN: one of permittedCalls probes) or sends it
//             to guard.to (OPEN, or HALF_OPEN with every probe out), reason "guard".
//   record    the adapter reports the outcome of an admitted, tracked request (status,
//             transport error, latency) as it does for the breaker; a failure rate (or
//             slow-call rate, or consecutive failures) over the window opens the guard.
//   cooldown  after cooldownMs the guard is HALF_OPEN: permittedCalls users' requests
//             probe the canary again; all of them fine closes it (the canary is back),
//             enough failures re-open it for another cooldown.
//
// Where the state lives is the adapter's business (GuardGate): the Node-side core keeps
// it here (LocalGuards: the Kong plugin server's process, shared by all Kong workers);
// the Envoy filter keeps it in shared data with compare-and-swap
// (wasm/filter/guard-store.ts), shared by all worker VMs.
import { Admission, allow, classify, record, transportError } from "../breaker/machine";
import { BreakerMode } from "../breaker/settings";
import { BreakerState } from "../breaker/state";
import { GuardSettings } from "../experiment/settings";

// The admission of a request bound for a guarded variant.
// probeOk: as ../breaker/machine.ts allow's (1 may probe, 0 may not: admitted without
// a permit).
export abstract class GuardGate {
  abstract admit(g: GuardSettings, nowMs: f64, probeOk: i32): Admission;
}

// What the adapter hands back with an outcome (flags and generation of the admission)
// counts only when the guard records outcomes at all (not in the forced modes).
export function tracks(g: GuardSettings, a: Admission): bool {
  return a.admitted && a.permitted && g.breaker.mode < BreakerMode.ForcedOpen;
}

// Guards whose states live in this module instance (Kong, `tandem simulate --via core`).
export class LocalGuards extends GuardGate {
  states: StaticArray<BreakerState>;
  adm: Admission = new Admission();
  private replay: Admission = new Admission();

  constructor(public guards: StaticArray<GuardSettings>) {
    super();
    this.states = new StaticArray<BreakerState>(guards.length);
    for (let i = 0; i < guards.length; i++) this.states[i] = new BreakerState(guards[i].breaker);
  }

  admit(g: GuardSettings, nowMs: f64, probeOk: i32): Admission {
    return allow(g.breaker, unchecked(this.states[g.index]), nowMs, this.adm, probeOk);
  }

  // The outcome of a request guard `gi` admitted with (flags, generation): status (0 =
  // none) or a transport error (ERROR_*), latency in ms. Returns OUTCOME_*.
  record(gi: i32, flags: i32, generation: u32, status: i32, error: i32, latencyMs: f64, nowMs: f64): i32 {
    const g = unchecked(this.guards[gi]);
    const s = g.breaker;
    const outcome = classify(s, status, transportError(s, error));
    record(s, unchecked(this.states[gi]), this.replay.restore(flags, generation), outcome, latencyMs, nowMs);
    return outcome;
  }
}
