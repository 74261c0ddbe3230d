// Per-request work of a sticky weighted experiment:
//   key   = the first present stickiness source (cookie, header, query, ip), else a new
//           id derived from request entropy and issued as a cookie;
//   bucket = murmur3_32(UTF-8 key, seed = fnv1a32(UTF-8 seed)) scaled onto [0, 10000);
//   variant = the first whose cumulative weight (basis points, declared order) exceeds
//           the bucket. Raising a variant's weight while others do not rise never moves
//           a user out of it: its range only widens (docs/policy.md proves it).
// Allocation: none, except the Set-Cookie value for a user who has no key yet.
import { LOG_BP_ALL, LOG_NEEDS_ENTROPY, LOG_NO, LOG_YES, logSampled } from "../decision-log/sample";
import { Bytes, lower, writeHex32 } from "../text/bytes";
import { FactSource } from "../request/facts";
import { murmur3_32, scale } from "../hash/hash";
import {
  ExperimentSettings, HashMode, ID_HEX_LEN, REASON_OVERRIDE, REASON_RAMP, REASON_RULE0, REASON_SPLIT, WeightTable,
} from "./settings";
import { RuleMatcher } from "../rules/rules";
import { GrowthBookSplit } from "../hash/growthbook";
import { UnleashHash } from "../hash/unleash";
import { HmacSha256 } from "../hmac/hmac";
import { GuardGate, tracks } from "../guard/guard";
import { isLongLived } from "../request/long-lived";
import { REASON_GUARD } from "./settings";
import { KeySourceReader } from "./key-source";
import { isOptionsMethod } from "../request/preflight";
import { isGrpcContentType } from "../request/grpc";
import { KEY_SOURCE_NEEDS_METHOD } from "../contract";

export const NO_VARIANT = -1;
export const KEY_GENERATED = -1;   // keySource: a new id was generated (and maybe issued)
// keySource: no key and no entropy to mint one from: no decision (out of scope, nothing
// consulted). An adapter that fetches entropy only on demand (Kong: its request id, one
// RPC) decides again with it; the others always pass entropy.
export const KEY_NEEDS_ENTROPY = -2;
// keySource: the request carries Access-Control-Request-Method and the adapter left the
// method out (an on-demand need): no decision; decide again with it (../request/preflight.ts).
export const KEY_NEEDS_METHOD = KEY_SOURCE_NEEDS_METHOD;
const BUCKETS: u32 = 10000;
// An override expiry in Unix seconds: at most 12 digits (year 33658), so f64 holds it exactly.
const MAX_EXPIRY_DIGITS = 12;

export class ExperimentDecision {
  inScope: bool = false;
  variant: i32 = NO_VARIANT;
  reason: i32 = REASON_SPLIT;       // REASON_* (experiment-settings.ts)
  bucket: i32 = -1;                 // tandem hash: [0, 10000); growthbook: n x 10000
  keySource: i32 = KEY_GENERATED;
  stripOverride: bool = false;      // the request carried the override header: remove it
  expose: StaticArray<u8> | null = null;  // value of the x-tandem-decision response header
  // Set-Cookie value to add to the response; setCookieLen 0 = none.
  setCookie: StaticArray<u8> = new StaticArray<u8>(0);
  setCookieLen: i32 = 0;
  // Canary guard (./guard.ts): the guard consulted (index into settings.guards, -1:
  // none), its admission (hand flags and generation back with the outcome when
  // guardTracked) and its state after admitting (0 closed, 1 open, 2 half_open).
  guard: i32 = -1;
  guardFlags: i32 = 0;
  guardGeneration: u32 = 0;
  guardState: i32 = 0;
  guardTracked: bool = false;
  // The decision log (../decision-log/sample.ts): LOG_YES when this decided request is
  // sampled, LOG_NEEDS_ENTROPY when telling needs the request id the adapter left out.
  log: i32 = LOG_NO;
}

// Scratch shared by all requests of one settings object. Requests are decided one at a
// time per VM / per plugin server, so reuse is safe and saves per-request allocation.
export class ExperimentRuntime {
  decision: ExperimentDecision = new ExperimentDecision();
  key: Bytes = new Bytes();
  tmp: Bytes = new Bytes();
  idBuf: StaticArray<u8> = new StaticArray<u8>(ID_HEX_LEN);
  private keys: KeySourceReader = new KeySourceReader();
  matcher: RuleMatcher;
  // Where guard states live (the adapter's choice); null: guards never reroute.
  gate: GuardGate | null = null;
  // Whether the adapter decides a guard probe at its response headers (Envoy): then any
  // request may probe; else (Kong's log phase) a long-lived one is never a probe
  // (../request/long-lived.ts, docs/policy.md "Streams").
  probesAtHeaders: bool = true;

  constructor(public settings: ExperimentSettings) {
    this.matcher = new RuleMatcher(settings.rules, settings.needs);
    const c = settings.cookie;
    if (c !== null) this.decision.setCookie = new StaticArray<u8>(c.prefix.length + ID_HEX_LEN + c.suffix.length);
  }

  // `nowMs` matters only for a time-based rollout, canary guards and override expiries (settings.clock).
  decide(facts: FactSource, nowMs: f64): ExperimentDecision {
    const s = this.settings;
    const d = this.decision;
    s.needs.begin(facts);
    d.variant = NO_VARIANT;
    d.reason = REASON_SPLIT;
    d.bucket = -1;
    d.setCookieLen = 0;
    d.keySource = KEY_GENERATED;
    d.stripOverride = false;
    d.expose = null;
    d.guard = -1;
    d.guardTracked = false;
    d.log = LOG_NO;
    d.inScope = this.inScope();
    if (s.overrideSlot >= 0) d.stripOverride = s.needs.get(s.overrideSlot).present;
    if (!d.inScope) return d;
    if (this.preflight(d)) { d.inScope = false; return d; }

    const key = this.key;
    key.clear();
    const sources = s.sources;
    for (let i = 0; i < sources.length; i++) {
      if (this.readSource(i, key) && key.len > 0) { d.keySource = i; break; }
      key.clear();
    }
    if (!key.present && !this.generateKey(key)) {
      d.inScope = false;
      d.keySource = KEY_NEEDS_ENTROPY;
      return d;
    }

    if (d.stripOverride && this.overridden(d, nowMs)) return this.exposed(d);
    const rule = this.matcher.first();
    if (rule >= 0) {
      const r = unchecked(s.rules[rule]);
      d.reason = REASON_RULE0 + rule;
      if (r.variant >= 0) d.variant = r.variant;
      else d.variant = unchecked(r.splitVariants[this.pick(r.splitUpperBp, unchecked(s.ruleGb[rule]))]);
      return this.exposed(this.guarded(d, nowMs));
    }
    const t = this.table(nowMs);
    d.variant = this.pick(t.upperBp, t.gb);
    if (s.rollout) d.reason = REASON_RAMP;
    return this.exposed(this.guarded(d, nowMs));
  }

  // A tagging experiment (./tagging.ts) assigning another experiment's `key`, on the
  // request whose facts that one is reading: decide()'s steps after the key (rules,
  // else the weights at nowMs), without scope, override or guard. The variant index.
  assign(key: Bytes, nowMs: f64): i32 {
    const s = this.settings;
    const d = this.decision;
    this.key.set(key.ptr, key.len);
    d.bucket = -1;
    d.reason = s.rollout ? REASON_RAMP : REASON_SPLIT;
    const rule = this.matcher.first();
    if (rule >= 0) {
      const r = unchecked(s.rules[rule]);
      d.reason = REASON_RULE0 + rule;
      d.variant = r.variant >= 0 ? r.variant : unchecked(r.splitVariants[this.pick(r.splitUpperBp, unchecked(s.ruleGb[rule]))]);
    } else {
      const t = this.table(nowMs);
      d.variant = this.pick(t.upperBp, t.gb);
    }
    return d.variant;
  }

  // Index into `upperBp` (cumulative basis points) for the request's key: tandem's
  // bucket (or Unleash's target, ./unleash.ts, on the same ranges), or GrowthBook's
  // hash and ranges when hash: growthbook-v2.
  private pick(upperBp: StaticArray<i32>, gb: GrowthBookSplit | null): i32 {
    const key = this.key;
    const d = this.decision;
    if (this.settings.hash == HashMode.GrowthBook) {
      const g = changetype<GrowthBookSplit>(gb);
      const n = g.hash(key.ptr, key.len);
      const i = g.chooseHash(n);
      d.bucket = <i32>Math.round(n * 10000);
      return i >= 0 ? i : 0;   // outside every range (float edge): the first variant
    }
    const s = this.settings;
    const bucket = s.hash == HashMode.Unleash
      ? changetype<UnleashHash>(s.unleash).bucket(key.ptr, key.len)   // Unleash's target, in bp
      : <i32>scale(murmur3_32(key.ptr, key.len, s.seedHash), BUCKETS);
    d.bucket = bucket;
    for (let i = 0; i < upperBp.length; i++) if (bucket < unchecked(upperBp[i])) return i;
    return 0;
  }

  // The weights in force at `nowMs`: the last table that started at or before it.
  private table(nowMs: f64): WeightTable {
    const ts = this.settings.tables;
    let i = ts.length - 1;
    while (i > 0 && !(unchecked(ts[i]).fromMs <= nowMs)) i--;
    return unchecked(ts[i]);
  }

  // QA override "<variant>.<mac>" or, expiring, "<variant>~<unix seconds>.<mac>", where
  // mac = hex HMAC-SHA256(everything before the last dot, secret): honoured only when
  // the MAC verifies and the expiry (if any) is after nowMs; the header is stripped
  // either way. `~` cannot occur in a variant name, so the two forms never overlap: a
  // token signed for one variant (or one expiry) verifies for no other.
  private overridden(d: ExperimentDecision, nowMs: f64): bool {
    const s = this.settings;
    const raw = s.needs.get(s.overrideSlot);
    let dot = -1;
    for (let i = raw.len - 1; i >= 0; i--) if (load<u8>(raw.ptr + i) == 0x2e) { dot = i; break; }
    if (dot <= 0) return false;
    let nameLen = dot;
    let expiryS: f64 = -1;
    for (let i = 0; i < dot; i++) {
      if (load<u8>(raw.ptr + i) != 0x7e) continue;   // '~'
      nameLen = i;
      const digits = dot - i - 1;
      if (digits < 1 || digits > MAX_EXPIRY_DIGITS) return false;
      let e: f64 = 0;
      for (let j = i + 1; j < dot; j++) {
        const c = <i32>load<u8>(raw.ptr + j) - 0x30;
        if (c < 0 || c > 9) return false;
        e = e * 10 + <f64>c;
      }
      expiryS = e;
      break;
    }
    if (expiryS < 0 && s.overrideRequiresExpiry) return false;
    const vs = s.variants;
    for (let v = 0; v < vs.length; v++) {
      const name = unchecked(vs[v]).nameBytes;
      if (name.length == nameLen && memory.compare(raw.ptr, changetype<usize>(name), nameLen) == 0) {
        if (!changetype<HmacSha256>(s.hmac).verifyHex(raw.ptr, dot, raw.ptr + dot + 1, raw.len - dot - 1)) return false;
        if (expiryS >= 0 && !(nowMs < expiryS * 1000)) return false;
        d.variant = v;
        d.reason = REASON_OVERRIDE;
        return true;
      }
    }
    return false;
  }

  // A guarded variant's guard admits the request or sends it to guard.to.
  private guarded(d: ExperimentDecision, nowMs: f64): ExperimentDecision {
    const gi = unchecked(this.settings.guardOf[d.variant]);
    const gate = this.gate;
    if (gi < 0 || gate === null) return d;
    const g = unchecked(this.settings.guards[gi]);
    const s = this.settings;
    const probeOk = this.probesAtHeaders || !isLongLived(s.needs.get(s.upgradeSlot), s.needs.get(s.acceptSlot)) ? 1 : 0;
    const a = gate.admit(g, nowMs, probeOk);
    d.guard = gi;
    d.guardFlags = a.flags;
    d.guardGeneration = a.generation;
    d.guardState = <i32>a.state;
    d.guardTracked = tracks(g, a);
    if (!a.admitted) {
      d.variant = g.to;
      d.reason = REASON_GUARD;
    }
    return d;
  }

  // Whether the decision log samples this decided request: by its id (the entropy fact;
  // on Envoy a header read, made only when the percent is strictly between 0 and 100).
  private logged(): i32 {
    const s = this.settings;
    if (s.logBp >= LOG_BP_ALL) return LOG_YES;
    const e = s.needs.get(s.entropySlot);
    if (!e.present) return LOG_NEEDS_ENTROPY;
    return logSampled(s.logBp, e.ptr, e.len) ? LOG_YES : LOG_NO;
  }

  private exposed(d: ExperimentDecision): ExperimentDecision {
    const s = this.settings;
    if (s.logBp > 0) d.log = this.logged();
    if (s.expose && d.variant >= 0) d.expose = unchecked(s.exposeValues[d.variant * s.reasonCount + d.reason]);
    return d;
  }

  // A CORS preflight (../request/preflight.ts) is out of scope: no variant, no cookie,
  // no guard. True also when the method is needed to tell (keySource KEY_NEEDS_METHOD).
  private preflight(d: ExperimentDecision): bool {
    const s = this.settings;
    if (!s.needs.get(s.preflightSlot).present) return false;
    const m = s.needs.get(s.methodSlot);
    if (!m.present) { d.keySource = KEY_NEEDS_METHOD; return true; }
    return isOptionsMethod(m.ptr, m.len);
  }

  // A gRPC call (../request/grpc.ts): its client keeps no cookies, and a Set-Cookie in
  // a gRPC response is only noise in its metadata. Read only for a new user's cookie.
  private grpc(): bool {
    const s = this.settings;
    if (s.contentTypeSlot < 0) return false;
    const ct = s.needs.get(s.contentTypeSlot);
    return ct.len > 0 && isGrpcContentType(ct.ptr, ct.len);
  }

  private readSource(i: i32, out: Bytes): bool {
    const s = this.settings;
    const src = unchecked(s.sources[i]);
    return this.keys.read(src, s.needs.get(src.slot), out);
  }

  // A 128-bit id derived from the gateway's per-request entropy. Issued as a cookie
  // when the experiment has one, so the next request carries it; not to a gRPC call
  // (the same id and variant, no Set-Cookie).
  // False, writing nothing, when the gateway gave no entropy.
  private generateKey(key: Bytes): bool {
    const s = this.settings;
    const d = this.decision;
    const e = s.needs.get(s.entropySlot);
    if (!e.present) return false;
    const ep = e.ptr;
    const el = e.len;
    const c = s.cookie;
    let dst: usize;
    if (c !== null && !this.grpc()) {
      const buf = changetype<usize>(d.setCookie);
      memory.copy(buf, changetype<usize>(c.prefix), c.prefix.length);
      dst = buf + c.prefix.length;
      memory.copy(dst + ID_HEX_LEN, changetype<usize>(c.suffix), c.suffix.length);
      d.setCookieLen = c.prefix.length + ID_HEX_LEN + c.suffix.length;
    } else {
      dst = changetype<usize>(this.idBuf);
    }
    writeGeneratedId(ep, el, dst);
    key.set(dst, ID_HEX_LEN);
    return true;
  }

  private inScope(): bool {
    const s = this.settings;
    const hosts = s.scopeHosts;
    if (hosts !== null) {
      const h = s.needs.get(s.hostSlot);
      if (!h.present || !hostMatches(h, hosts)) return false;
    }
    const prefixes = s.scopePrefixes;
    if (prefixes !== null) {
      const p = s.needs.get(s.pathSlot);
      if (!p.present) return false;
      if (!pathMatches(this.matcher.normalizedPath(p), prefixes)) return false;   // as path rules see it
    }
    return true;
  }
}

// The ID_HEX_LEN hex digits of the id minted from `el` entropy bytes at `ep`, at `dst`:
// the value of a new user's cookie (faults by: user hash it the same way).
export function writeGeneratedId(ep: usize, el: i32, dst: usize): void {
  let h: u32 = 0x7a3d_e5c1;
  for (let i = 0; i < 4; i++) {
    h = murmur3_32(ep, el, h + <u32>i);
    writeHex32(dst + (<usize>i << 3), h);
  }
}

// Host header without port, compared ignoring ASCII case; "*.example.com" matches
// any name ending in ".example.com" with at least one more label character.
function hostMatches(h: Bytes, hosts: StaticArray<StaticArray<u8>>): bool {
  let n = h.len;
  const p = h.ptr;
  if (n > 0 && load<u8>(p) == 0x5b) {           // [v6]:port
    let close = 0;
    while (close < n && load<u8>(p + close) != 0x5d) close++;
    n = close < n ? close + 1 : n;
  } else {
    for (let i = n - 1; i >= 0; i--) {
      const c = load<u8>(p + i);
      if (c == 0x3a) { n = i; break; }
      if (c < 0x30 || c > 0x39) break;
    }
  }
  if (n > 0 && load<u8>(p + n - 1) == 0x2e) n--;  // trailing dot: same host
  for (let i = 0; i < hosts.length; i++) {
    const want = unchecked(hosts[i]);
    const wp = changetype<usize>(want);
    const wl = want.length;
    if (wl > 1 && load<u8>(wp) == 0x2a) {
      const sl = wl - 1;                           // ".example.com"
      if (n > sl && suffixEq(p + n - sl, wp + 1, sl)) return true;
    } else if (n == wl && suffixEq(p, wp, wl)) return true;
  }
  return false;
}

function suffixEq(a: usize, b: usize, n: i32): bool {
  for (let i = 0; i < n; i++) if (lower(load<u8>(a + i)) != <u32>load<u8>(b + i)) return false;
  return true;
}

// `path`: the normalized path (no query).
function pathMatches(path: Bytes, prefixes: StaticArray<StaticArray<u8>>): bool {
  const n = path.len;
  for (let i = 0; i < prefixes.length; i++) {
    const want = unchecked(prefixes[i]);
    if (n >= want.length && memory.compare(path.ptr, changetype<usize>(want), want.length) == 0) return true;
  }
  return false;
}
