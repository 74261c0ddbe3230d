// The breaker's lean calls in the Node binding (TandemCore.admitCall / recordCall): an
// admission comes back as one integer (wasm/core/contract.ts CALL_*), and whatever else
// an adapter wants of it (the key's text, the generation, the ticket, the states, the
// reply's Retry-After) is read from the core's result area only when asked, through
// BreakerCallView. Most requests need the integer and two or three slots; building the
// whole BreakerCall object (15 fields, state names, the key string) cost more than the
// core's own work (issue 17, peers.breakerRatio).
import {
  ADMITTED, CALL_EFFECTS, CALL_EFFECTS_SHIFT, CALL_FLAGS, CALL_NEEDS_METHOD, CALL_PREFLIGHT, CALL_TRANSITION,
  EFFECT_RESPOND, FallbackKind, NEEDS_FACTS, PERMITTED, REPLY_REJECT, REPLY_RESPOND, TICKET_ENTRIES,
  R_EFFECTS, R_FALLBACK, R_FLAGS, R_GENERATION, R_KEY_LEN, R_KEY_PTR, R_OUTCOME, R_PREV_STATE, R_REASON,
  R_REPLY_RETRY_AFTER, R_RETRY_AFTER, R_STATE, R_TICKET_ENTRY, R_TICKET_SERIAL, R_TRANSITION,
} from "../wasm/core/contract";
import { STATE_NAMES, TRANSITION_NAMES } from "../wasm/core/contract-names";
import type { BreakerCall, BreakerStateName } from "./tandem-core";

// ---- the packed admission (TandemCore.admitCall's answer) ----
export const callFlags = (c: number): number => c & CALL_FLAGS;
export const callAdmitted = (c: number): boolean => (c & ADMITTED) !== 0;
export const callPermitted = (c: number): boolean => (c & PERMITTED) !== 0;
export const callEffects = (c: number): number => (c >> CALL_EFFECTS_SHIFT) & CALL_EFFECTS;
export const callTransition = (c: number): boolean => (c & CALL_TRANSITION) !== 0;
// A CORS preflight the breaker passes untouched (nothing admitted, nothing to record).
export const callPreflight = (c: number): boolean => (c & CALL_PREFLIGHT) !== 0;
// Whether the request is a preflight depends on its method: admit again with it.
export const callNeedsMethod = (c: number): boolean => (c & CALL_NEEDS_METHOD) !== 0;

// What the view reads through: the core's memory as i32 (fresh after a call that may
// have grown it) and a key's text from its bytes.
export interface ResultSource {
  view(): Int32Array;
  keyText(handle: number, p: number, n: number): string;
}

const STATES = STATE_NAMES as readonly BreakerStateName[];

// The last breaker call's result area (shared by all plans of one core), read field by
// field. Valid until the next breaker call of the same core: an adapter that awaits in
// between copies what it needs first. `key` is the last admission's (admitCall,
// allowBreaker), read from the plan's fact bytes: also valid only until that plan's next call.
export class BreakerCallView {
  handle = -1;          // the plan of the last admission (the key cache's)

  // The memory view last read through: kept while valid (growing memory detaches it:
  // length 0), so a field costs one array read.
  private v: Int32Array = new Int32Array(0);

  constructor(private readonly src: ResultSource, private readonly at: number) {}

  private view(): Int32Array {
    let v = this.v;
    if (v.length === 0) this.v = v = this.src.view();
    return v;
  }

  private slot(i: number): number { return this.view()[this.at + i]; }

  get flags(): number { return this.slot(R_FLAGS); }
  get admitted(): boolean { return (this.slot(R_FLAGS) & ADMITTED) !== 0; }
  get permitted(): boolean { return (this.slot(R_FLAGS) & PERMITTED) !== 0; }
  get needsFacts(): boolean { return (this.slot(R_FLAGS) & NEEDS_FACTS) !== 0; }
  get generation(): number { return this.slot(R_GENERATION) >>> 0; }
  get state(): BreakerStateName { return STATES[this.slot(R_STATE)]; }
  get prevState(): BreakerStateName { return STATES[this.slot(R_PREV_STATE)]; }
  // The reason, when the call changed the state; else null.
  get transition(): string | null { return this.slot(R_TRANSITION) === 1 ? TRANSITION_NAMES[this.slot(R_REASON)] : null; }
  get retryAfter(): number { return this.slot(R_RETRY_AFTER); }
  get answer(): FallbackKind { return this.slot(R_FALLBACK) as FallbackKind; }
  get outcome(): number { return this.slot(R_OUTCOME); }
  get effects(): number { return this.slot(R_EFFECTS); }
  get reply(): number { return (this.slot(R_EFFECTS) & EFFECT_RESPOND) !== 0 ? REPLY_RESPOND : REPLY_REJECT; }
  get replyRetryAfter(): number { return this.slot(R_REPLY_RETRY_AFTER); }
  // The admission's ticket (recordCall): serial * TICKET_ENTRIES + entry, exact below 2^48.
  get ticket(): number { return (this.slot(R_TICKET_SERIAL) >>> 0) * TICKET_ENTRIES + this.slot(R_TICKET_ENTRY); }
  get key(): string {
    const v = this.view();
    return this.src.keyText(this.handle, v[this.at + R_KEY_PTR] >>> 0, v[this.at + R_KEY_LEN]);
  }

  // The whole result as one object (TandemCore.admitBreaker / recordBreaker), as before
  // the lean calls: every field read at once.
  toCall(): BreakerCall {
    const v = this.view();
    const b = this.at;
    const flags = v[b + R_FLAGS];
    return {
      flags,
      admitted: (flags & ADMITTED) !== 0,
      permitted: (flags & PERMITTED) !== 0,
      needsFacts: (flags & NEEDS_FACTS) !== 0,
      generation: v[b + R_GENERATION] >>> 0,
      state: STATES[v[b + R_STATE]],
      prevState: STATES[v[b + R_PREV_STATE]],
      transition: v[b + R_TRANSITION] === 1 ? TRANSITION_NAMES[v[b + R_REASON]] : null,
      retryAfter: v[b + R_RETRY_AFTER],
      answer: v[b + R_FALLBACK] as FallbackKind,
      outcome: v[b + R_OUTCOME],
      effects: v[b + R_EFFECTS],
      reply: (v[b + R_EFFECTS] & EFFECT_RESPOND) !== 0 ? REPLY_RESPOND : REPLY_REJECT,
      replyRetryAfter: v[b + R_REPLY_RETRY_AFTER],
    };
  }
}
