// Whether a response may be stored for the cache fallback, and for how long it may be
// served (RFC 9111 with RFC 5861's stale-if-error), decided on the response head so
// the adapter knows before the body whether to buffer it:
//   - status in cache.statuses;
//   - never Cache-Control no-store, private or no-cache (a stored answer would need a
//     validation the failed upstream cannot give), never a Set-Cookie (another user's
//     session), never Vary: * or a Vary naming a header outside cache.varyHeaders (the
//     entry could reach another combination of those headers);
//   - a Content-Length above cache.maxBodyBytes: not buffered, streams through;
//   - how long: ttlMs from now, shortened by what the upstream said: with
//     must-revalidate / proxy-revalidate only while fresh (s-maxage, else max-age,
//     minus Age: RFC 9111 5.2.2.2 forbids serving it stale); with stale-if-error=N,
//     freshness + N seconds minus Age (RFC 5861 4). Nothing left: not stored.
// The request side (method, Authorization) is decided with the key (./key.ts).
import { Directives, decimal } from "./cache-control";
import { PairsReader, nameIs } from "./pairs";
import { CacheSettings } from "./settings";
import { MAX_CACHE_HEADERS, MAX_CACHE_HEADER_BYTES } from "./settings";
import { CACHE_HEADER, AGE_HEADER } from "../contract";
import { utf8 } from "../text/bytes";

export const STORE_OK = 0;
export const STORE_STATUS = 1;
export const STORE_NO_STORE = 2;
export const STORE_PRIVATE = 3;
export const STORE_NO_CACHE = 4;
export const STORE_SET_COOKIE = 5;
export const STORE_VARY = 6;
export const STORE_TOO_LARGE = 7;
export const STORE_NO_LIFETIME = 8;
export const STORE_HEADERS = 9;       // more than MAX_CACHE_HEADERS fields or bytes, or a malformed list
// Their names, by number, for reports (simulate, explain).
export const STORE_REASONS: StaticArray<string> = [
  "stored", "status", "no-store", "private", "no-cache", "set-cookie", "vary", "too-large", "no-lifetime", "headers",
];

const CACHE_CONTROL = utf8("cache-control");
const SET_COOKIE = utf8("set-cookie");
const VARY = utf8("vary");
const AGE = utf8(AGE_HEADER);
const CONTENT_LENGTH = utf8("content-length");
const FALLBACK = utf8(CACHE_HEADER);
// Not replayed: framing and hop-by-hop fields belong to the connection the answer
// goes out on (RFC 9110 7.6.1), Age is recomputed, x-tandem-fallback set on serving;
// the gateways' own timing fields (Envoy's router adds x-envoy-upstream-service-time to
// the upstream's headers before filters see them; Kong its x-kong-* latencies) describe
// the call that stored the entry, not the answer served later.
const DROPPED: StaticArray<StaticArray<u8>> = [
  utf8("connection"), utf8("keep-alive"), utf8("proxy-connection"), utf8("te"), utf8("trailer"),
  utf8("transfer-encoding"), utf8("upgrade"), CONTENT_LENGTH, AGE, FALLBACK,
  utf8("x-envoy-upstream-service-time"), utf8("x-kong-upstream-latency"), utf8("x-kong-proxy-latency"),
];

export class Storability {
  reason: i32 = STORE_OK;
  lifetimeMs: f64 = 0;       // from storage: the entry is served while age since storing < this
  initialAgeS: i64 = 0;      // the Age the upstream sent
  contentLength: i64 = -1;   // -1 unknown
  keptCount: i32 = 0;        // headers replayed
  keptBytes: i32 = 0;        // their name + value bytes
}

export class StorageRules {
  private d: Directives = new Directives();
  private rd: PairsReader = new PairsReader();
  out: Storability = new Storability();

  constructor(public settings: CacheSettings) {}

  // The response head: status and headers (pairs list at p, n bytes; pseudo-headers
  // such as :status are skipped).
  check(status: i32, p: usize, n: i32): Storability {
    const o = this.out;
    const s = this.settings;
    o.reason = STORE_OK; o.lifetimeMs = 0; o.initialAgeS = 0; o.contentLength = -1; o.keptCount = 0; o.keptBytes = 0;
    if (status < 0 || status >= 600 || !s.statusOk[status]) { o.reason = STORE_STATUS; return o; }
    const d = this.d;
    d.reset();
    const rd = this.rd;
    if (!rd.reset(p, n)) { o.reason = STORE_HEADERS; return o; }
    while (rd.next()) {
      const np = rd.namePtr, nl = rd.nameLen, vp = rd.valuePtr, vl = rd.valueLen;
      if (nl > 0 && load<u8>(np) == 0x3a) continue;
      if (nameIs(np, nl, CACHE_CONTROL)) d.add(vp, vl);
      else if (nameIs(np, nl, SET_COOKIE)) { o.reason = STORE_SET_COOKIE; return o; }
      else if (nameIs(np, nl, VARY)) { if (!this.varyCovered(vp, vl)) { o.reason = STORE_VARY; return o; } }
      else if (nameIs(np, nl, AGE)) { const a = decimal(vp, vl); if (a > o.initialAgeS) o.initialAgeS = a; }
      else if (nameIs(np, nl, CONTENT_LENGTH)) o.contentLength = decimal(vp, vl);
      if (!dropped(np, nl)) { o.keptCount++; o.keptBytes += nl + vl; }
    }
    if (d.noStore) { o.reason = STORE_NO_STORE; return o; }
    if (d.private_) { o.reason = STORE_PRIVATE; return o; }
    if (d.noCache) { o.reason = STORE_NO_CACHE; return o; }
    if (o.keptCount > MAX_CACHE_HEADERS || o.keptBytes > MAX_CACHE_HEADER_BYTES) { o.reason = STORE_HEADERS; return o; }
    if (o.contentLength > <i64>s.maxBodyBytes) { o.reason = STORE_TOO_LARGE; return o; }
    let life = s.ttlMs;
    const fresh = d.freshness;
    const ageMs = <f64>o.initialAgeS * 1000;
    if (d.mustRevalidate) life = min(life, <f64>max<i64>(fresh, 0) * 1000 - ageMs);
    else if (d.staleIfError >= 0) life = min(life, <f64>(max<i64>(fresh, 0) + d.staleIfError) * 1000 - ageMs);
    if (life <= 0) { o.reason = STORE_NO_LIFETIME; return o; }
    o.lifetimeMs = life;
    return o;
  }

  // Every field a Vary value names is one of the key's vary headers ("*" never is).
  private varyCovered(p: usize, n: i32): bool {
    let i = 0;
    const vary = this.settings.vary;
    while (i < n) {
      while (i < n && (load<u8>(p + i) == 0x2c || load<u8>(p + i) == 0x20 || load<u8>(p + i) == 0x09)) i++;
      const s = i;
      while (i < n && load<u8>(p + i) != 0x2c && load<u8>(p + i) != 0x20 && load<u8>(p + i) != 0x09) i++;
      if (i == s) continue;
      let found = false;
      for (let k = 0; k < vary.length && !found; k++) found = nameIsStr(p + s, i - s, vary[k]);
      if (!found) return false;
    }
    return true;
  }
}

export function dropped(p: usize, n: i32): bool {
  if (n > 0 && load<u8>(p) == 0x3a) return true;   // pseudo-headers
  for (let i = 0; i < DROPPED.length; i++) if (nameIs(p, n, unchecked(DROPPED[i]))) return true;
  return false;
}

function nameIsStr(p: usize, n: i32, lower: string): bool {
  if (n != lower.length) return false;
  for (let i = 0; i < n; i++) {
    let c = <u32>load<u8>(p + i);
    if (c - 0x41 < 26) c |= 0x20;
    if (c != <u32>lower.charCodeAt(i)) return false;
  }
  return true;
}
