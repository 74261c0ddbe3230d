// Per-request fault decision: the first fault (declared order) that applies wins.
// A fault applies when it is enabled, `nowMs` is inside its schedule, its match holds,
// the request was routed to its variant (the experiment's variant header), and either
// a verified control token asks for it or a coin wins: delay and abort each have their
// own coin, bucket = murmur3_32(key, seed of "<name>/delay" | "<name>/abort") scaled
// onto [0, 10000), applied when below percent x 100. The key is the request id (by:
// request: reproducible per request) or the sticky user key (by: user: the same users
// every time; a new user's key is the id the experiment mints from the request id).
// maxActive: a delay is not injected while that many of this fault's delays are in
// flight (Envoy's max_active_faults), counted by a DelayGate: by default the counts the
// adapter reports in FaultRuntime.active (the Kong plugin server: one process per Kong
// node, shared by its workers); the Envoy filter's gate counts across worker VMs in
// shared data (wasm/filter/delay-gate.ts).
// Allocation: none (scratch buffers sized at configure time).
import { Bytes } from "../text/bytes";
import { FactSource } from "../request/facts";
import { murmur3_32, scale } from "../hash/hash";
import { RuleMatcher } from "../rules/rules";
import { Rule } from "../rules/settings";
import { HmacSha256 } from "../hmac/hmac";
import { ID_HEX_LEN } from "../experiment/settings";
import { writeGeneratedId } from "../experiment/experiment";
import { KeySourceReader } from "../experiment/key-source";
import { BP_ALL, BY_USER, Fault, FaultSettings, MAX_DELAY_MS } from "./settings";

// Why fault i did not apply (FaultRuntime.why[i]) or how it did (decision.reason).
export const WHY_NOT_REACHED = 0;   // an earlier fault applied
export const WHY_DISABLED = 1;
export const WHY_SCHEDULE = 2;
export const WHY_MATCH = 3;
export const WHY_VARIANT = 4;
export const WHY_COIN = 5;          // both coins lost (or no key to toss them with)
export const WHY_MAX_ACTIVE = 6;    // the delay's coin won but maxActive delays are in flight
export const WHY_PERCENT = 7;       // applied: a coin won
export const WHY_HEADER = 8;        // applied: a verified control token asked for it

export class FaultDecision {
  fault: i32 = -1;                  // index into settings.faults, -1: none applies
  delayMs: i32 = -1;                // -1: no delay
  abortStatus: i32 = 0;             // 0: no abort
  reason: i32 = WHY_NOT_REACHED;    // WHY_PERCENT | WHY_HEADER when fault >= 0
  strip: bool = false;              // a control header is present: remove it
  needsEntropy: bool = false;       // a coin needs the request id and the facts lack it
}

const NOT_TOSSED = -1;

// Whether one more delay of fault `i` may start while at most `max` are in flight. A
// gate that counts by itself takes the place when it says yes; the adapter gives it back
// when that delay ends (resumed, or the stream reset while paused).
export class DelayGate {
  // The default: the count the adapter keeps in rt.active (+1 when a delay starts, -1
  // when it ends, tandem_fault_active); nothing is taken here.
  admit(rt: FaultRuntime, i: i32, max: i32): bool {
    return unchecked(rt.active[i]) < max;
  }
}
const LOCAL_DELAYS = new DelayGate();

export class FaultRuntime {
  decision: FaultDecision = new FaultDecision();
  matcher: RuleMatcher;
  rules: StaticArray<Rule>;
  // Per fault: the delays in flight the adapter counts (maxActive), and why it did not
  // apply to the last request (WHY_*), its buckets (-1: not tossed).
  active: StaticArray<i32>;
  why: StaticArray<i32>;
  delayBucket: StaticArray<i32>;
  abortBucket: StaticArray<i32>;
  private key: Bytes = new Bytes();
  private idBuf: StaticArray<u8> = new StaticArray<u8>(ID_HEX_LEN);
  private keys: KeySourceReader = new KeySourceReader();
  gate: DelayGate = LOCAL_DELAYS;

  constructor(public settings: FaultSettings) {
    const n = settings.faults.length;
    const rules = new StaticArray<Rule>(n);
    for (let i = 0; i < n; i++) rules[i] = settings.faults[i].rule;
    this.rules = rules;
    this.matcher = new RuleMatcher(rules, settings.needs);
    this.active = new StaticArray<i32>(n);
    this.why = new StaticArray<i32>(n);
    this.delayBucket = new StaticArray<i32>(n);
    this.abortBucket = new StaticArray<i32>(n);
  }

  decide(facts: FactSource, nowMs: f64): FaultDecision {
    const s = this.settings;
    const d = this.decision;
    s.needs.begin(facts);
    d.fault = -1;
    d.delayMs = -1;
    d.abortStatus = 0;
    d.reason = WHY_NOT_REACHED;
    d.needsEntropy = false;
    d.strip = false;
    for (let i = 0; i < s.stripSlots.length; i++) if (s.needs.get(unchecked(s.stripSlots[i])).present) d.strip = true;
    const faults = s.faults;
    for (let i = 0; i < faults.length; i++) {
      unchecked(this.why[i] = WHY_NOT_REACHED);
      unchecked(this.delayBucket[i] = NOT_TOSSED);
      unchecked(this.abortBucket[i] = NOT_TOSSED);
    }
    for (let i = 0; i < faults.length; i++) {
      const f = unchecked(faults[i]);
      const why = this.applies(i, f, nowMs);
      unchecked(this.why[i] = why);
      if (why == WHY_PERCENT || why == WHY_HEADER) {
        d.fault = i;
        d.reason = why;
        return d;
      }
      if (d.needsEntropy) return d;
    }
    return d;
  }

  private applies(i: i32, f: Fault, nowMs: f64): i32 {
    const s = this.settings;
    const d = this.decision;
    if (!f.enabled) return WHY_DISABLED;
    if (!(nowMs >= f.startMs && nowMs < f.endMs)) return WHY_SCHEDULE;
    if (!this.matcher.matches(f.rule)) return WHY_MATCH;
    if (f.variant >= 0) {
      const v = s.needs.get(s.variantSlot);
      const want = f.variantBytes;
      if (v.len != want.length || memory.compare(v.ptr, changetype<usize>(want), v.len) != 0) return WHY_VARIANT;
    }
    if (f.controlSlot >= 0 && this.controlled(i, f)) return WHY_HEADER;
    let delay = false;
    let abort = false;
    if (f.delayMs >= 0 && f.delayBp > 0) {
      const b = this.coin(f, f.delaySeed, f.delayBp);
      if (d.needsEntropy) return WHY_COIN;
      unchecked(this.delayBucket[i] = b);
      delay = b < f.delayBp;
    }
    if (f.abortStatus > 0 && f.abortBp > 0) {
      const b = this.coin(f, f.abortSeed, f.abortBp);
      if (d.needsEntropy) return WHY_COIN;
      unchecked(this.abortBucket[i] = b);
      abort = b < f.abortBp;
    }
    let maxed = false;
    if (delay && f.maxActive > 0 && !this.gate.admit(this, i, f.maxActive)) { delay = false; maxed = true; }
    if (!delay && !abort) return maxed ? WHY_MAX_ACTIVE : WHY_COIN;
    d.delayMs = delay ? f.delayMs : -1;
    d.abortStatus = abort ? f.abortStatus : 0;
    return WHY_PERCENT;
  }

  // The bucket [0, 10000) of this request's key for `seed`; 0 when percent is 100 (no
  // key needed), BP_ALL (never below a percent) when there is no key.
  private coin(f: Fault, seed: u32, bp: i32): i32 {
    if (bp >= BP_ALL) return 0;
    const k = this.key;
    if (!this.readKey(f, k)) return BP_ALL;
    return <i32>scale(murmur3_32(k.ptr, k.len, seed), <u32>BP_ALL);
  }

  // by: request -> the request id; by: user -> the first present stickiness source,
  // else the id the experiment mints for a new user from the request id. False (and
  // decision.needsEntropy) when the request id is needed and absent.
  private readKey(f: Fault, out: Bytes): bool {
    const s = this.settings;
    if (f.by == BY_USER) {
      for (let i = 0; i < s.sources.length; i++) if (this.readSource(i, out) && out.len > 0) return true;
    }
    const e = s.needs.get(s.entropySlot);
    if (!e.present) { this.decision.needsEntropy = true; return false; }
    if (f.by == BY_USER) {
      const dst = changetype<usize>(this.idBuf);
      writeGeneratedId(e.ptr, e.len, dst);
      out.set(dst, ID_HEX_LEN);
    } else out.set(e.ptr, e.len);
    return true;
  }

  // The same key as the experiment's (../experiment/key-source.ts).
  private readSource(i: i32, out: Bytes): bool {
    const s = this.settings;
    const src = unchecked(s.sources[i]);
    out.clear();
    return this.keys.read(src, s.needs.get(src.slot), out);
  }

  // Control token "<kind>=<n>.<hex HMAC-SHA256(<kind>=<n>, secret)>", kind delay (ms,
  // 0-30000) or abort (status 200-599). Honoured only when the MAC verifies; the
  // request gets exactly the fault the token names (maxActive still bounds delays).
  private controlled(i: i32, f: Fault): bool {
    const raw = this.settings.needs.get(f.controlSlot);
    if (!raw.present) return false;
    let dot = -1;
    for (let j = raw.len - 1; j >= 0; j--) if (load<u8>(raw.ptr + j) == 0x2e) { dot = j; break; }
    if (dot <= 0) return false;
    if (!changetype<HmacSha256>(f.hmac).verifyHex(raw.ptr, dot, raw.ptr + dot + 1, raw.len - dot - 1)) return false;
    const p = raw.ptr;
    let kind = 0;   // 1 delay, 2 abort
    let at = 0;
    if (dot > 6 && load<u32>(p) == 0x616c6564 && load<u8>(p + 4) == 0x79 && load<u8>(p + 5) == 0x3d) { kind = 1; at = 6; }        // "delay="
    else if (dot > 6 && load<u32>(p) == 0x726f6261 && load<u8>(p + 4) == 0x74 && load<u8>(p + 5) == 0x3d) { kind = 2; at = 6; }   // "abort="
    if (kind == 0 || dot - at > 5) return false;
    let n = 0;
    for (let j = at; j < dot; j++) {
      const c = <i32>load<u8>(p + j) - 0x30;
      if (c < 0 || c > 9) return false;
      n = n * 10 + c;
    }
    const d = this.decision;
    if (kind == 1) {
      if (n > MAX_DELAY_MS) return false;
      if (f.maxActive > 0 && !this.gate.admit(this, i, f.maxActive)) return false;
      d.delayMs = n;
    } else {
      if (n < 200 || n > 599) return false;
      d.abortStatus = n;
    }
    return true;
  }
}
