// Per-request work of a sticky weighted experiment:
//   key   = the first present stickiness source (cookie, header, query, ip), else a new
//           id derived from request entropy and issued as a cookie;
//   bucket = murmur3_32(UTF-8 key, seed = fnv1a32(UTF-8 seed)) scaled onto [0, 10000);
//   variant = the first whose cumulative weight (basis points, declared order) exceeds
//           the bucket. Raising a variant's weight while others do not rise never moves
//           a user out of it: its range only widens (docs/policy.md proves it).
// Allocation: none, except the Set-Cookie value for a user who has no key yet.
import { Bytes, isOws, lower, writeHex32 } from "./bytes";
import { findCookie } from "./cookie";
import { FactSource } from "./facts";
import { murmur3_32, scale } from "./hash";
import { findQuery } from "./query";
import { ExperimentSettings, ID_HEX_LEN, SourceKind } from "./experiment-settings";

export const NO_VARIANT = -1;
export const KEY_GENERATED = -1;   // keySource: a new id was generated (and maybe issued)
const BUCKETS: u32 = 10000;

export class ExperimentDecision {
  inScope: bool = false;
  variant: i32 = NO_VARIANT;
  bucket: i32 = -1;
  keySource: i32 = KEY_GENERATED;
  // Set-Cookie value to add to the response; setCookieLen 0 = none.
  setCookie: StaticArray<u8> = new StaticArray<u8>(0);
  setCookieLen: i32 = 0;
}

// Scratch shared by all requests of one settings object. Requests are decided one at a
// time per VM / per plugin server, so reuse is safe and saves per-request allocation.
export class ExperimentRuntime {
  decision: ExperimentDecision = new ExperimentDecision();
  key: Bytes = new Bytes();
  tmp: Bytes = new Bytes();
  idBuf: StaticArray<u8> = new StaticArray<u8>(ID_HEX_LEN);
  queryScratch: StaticArray<u8> = new StaticArray<u8>(0);

  constructor(public settings: ExperimentSettings) {
    const c = settings.cookie;
    if (c !== null) this.decision.setCookie = new StaticArray<u8>(c.prefix.length + ID_HEX_LEN + c.suffix.length);
  }

  decide(facts: FactSource): ExperimentDecision {
    const s = this.settings;
    const d = this.decision;
    s.needs.begin(facts);
    d.variant = NO_VARIANT;
    d.bucket = -1;
    d.setCookieLen = 0;
    d.keySource = KEY_GENERATED;
    d.inScope = this.inScope();
    if (!d.inScope) return d;

    const key = this.key;
    key.clear();
    const sources = s.sources;
    for (let i = 0; i < sources.length; i++) {
      if (this.readSource(i, key) && key.len > 0) { d.keySource = i; break; }
      key.clear();
    }
    if (!key.present) this.generateKey(key);

    const bucket = <i32>scale(murmur3_32(key.ptr, key.len, s.seedHash), BUCKETS);
    d.bucket = bucket;
    const vs = s.variants;
    for (let i = 0; i < vs.length; i++) {
      if (bucket < unchecked(vs[i]).upperBp) { d.variant = i; break; }
    }
    return d;
  }

  private readSource(i: i32, out: Bytes): bool {
    const s = this.settings;
    const src = unchecked(s.sources[i]);
    const raw = s.needs.get(src.slot);
    if (!raw.present) return false;
    if (src.kind == SourceKind.Cookie) return findCookie(raw, src.nameBytes, out);
    if (src.kind == SourceKind.Query) {
      if (this.queryScratch.length < raw.len) this.queryScratch = new StaticArray<u8>(raw.len + 64);
      return findQuery(raw, src.nameBytes, changetype<usize>(this.queryScratch), out);
    }
    // header and ip: the value, trimmed of optional whitespace
    let a = raw.ptr;
    let n = raw.len;
    while (n > 0 && isOws(load<u8>(a))) { a++; n--; }
    while (n > 0 && isOws(load<u8>(a + n - 1))) n--;
    out.set(a, n);
    return true;
  }

  // A 128-bit id derived from the gateway's per-request entropy. Issued as a cookie
  // when the experiment has one, so the next request carries it.
  private generateKey(key: Bytes): void {
    const s = this.settings;
    const d = this.decision;
    const e = s.needs.get(s.entropySlot);
    const ep = e.present ? e.ptr : 0;
    const el = e.present ? e.len : 0;
    const c = s.cookie;
    let dst: usize;
    if (c !== null) {
      const buf = changetype<usize>(d.setCookie);
      memory.copy(buf, changetype<usize>(c.prefix), c.prefix.length);
      dst = buf + c.prefix.length;
      memory.copy(dst + ID_HEX_LEN, changetype<usize>(c.suffix), c.suffix.length);
      d.setCookieLen = c.prefix.length + ID_HEX_LEN + c.suffix.length;
    } else {
      dst = changetype<usize>(this.idBuf);
    }
    let h: u32 = 0x7a3d_e5c1;
    for (let i = 0; i < 4; i++) {
      h = murmur3_32(ep, el, h + <u32>i);
      writeHex32(dst + (<usize>i << 3), h);
    }
    key.set(dst, ID_HEX_LEN);
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
      if (!p.present || !pathMatches(p, prefixes)) return false;
    }
    return true;
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

function pathMatches(path: Bytes, prefixes: StaticArray<StaticArray<u8>>): bool {
  let n = path.len;
  for (let i = 0; i < n; i++) {
    const c = load<u8>(path.ptr + i);
    if (c == 0x3f || c == 0x23) { n = i; break; }
  }
  for (let i = 0; i < prefixes.length; i++) {
    const want = unchecked(prefixes[i]);
    if (n >= want.length && memory.compare(path.ptr, changetype<usize>(want), want.length) == 0) return true;
  }
  return false;
}
