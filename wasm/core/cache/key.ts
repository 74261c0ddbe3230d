// The cache key of a request: method, host, path with query and the values of the
// configured vary headers (spec.fallback[].cache.varyHeaders). Both gateways derive it
// here from the same facts, so an entry one stored is the entry the other would find.
//
// Encoding: per part a u32 length (0xffffffff: the header is absent, so "absent" and
// "empty" are different combinations) and the bytes. Host is lowercased (RFC 9110 4.2.3:
// case-insensitive); the path is normalized as for path rules (../request/path.ts: Kong
// hands the raw URI, Envoy its normalized :path) and the query is kept as sent. A header
// sent twice counts by its first value, as every fact does.
import { Bytes } from "../text/bytes";
import { Fact, FactSource, Needs } from "../request/facts";
import { PathNormalizer } from "../request/path";
import { murmur3_32 } from "../hash/hash";
import { CacheSettings, METHOD_GET, METHOD_HEAD } from "./settings";

export const MAX_CACHE_KEY_BYTES = 16384;
const ABSENT: u32 = 0xffffffff;
const AUTHORIZATION = "authorization";

// Why a request is not looked up nor stored (key length 0).
export const KEY_OK = 0;
export const KEY_METHOD = 1;          // method not in cache.methods
export const KEY_AUTHORIZATION = 2;   // Authorization without cacheAuthorized (RFC 9111 3.5)
export const KEY_TOO_LONG = 3;        // more than MAX_CACHE_KEY_BYTES

export class CacheKeyer {
  methodSlot: i32;
  hostSlot: i32;
  pathSlot: i32;
  authSlot: i32 = -1;
  varySlots: StaticArray<i32>;
  buf: StaticArray<u8> = new StaticArray<u8>(256);
  len: i32 = 0;
  why: i32 = KEY_OK;
  hashA: u32 = 0;
  hashB: u32 = 0;
  isHead: bool = false;
  private path: PathNormalizer = new PathNormalizer();
  private norm: Bytes = new Bytes();

  // Adds its needs to `needs` (sealed by the caller).
  constructor(public settings: CacheSettings, needs: Needs) {
    this.methodSlot = needs.add(Fact.Method, "");
    this.hostSlot = needs.add(Fact.Host, "");
    this.pathSlot = needs.add(Fact.Path, "");
    if (!settings.authorized) this.authSlot = needs.add(Fact.Header, AUTHORIZATION);
    const v = settings.vary;
    this.varySlots = new StaticArray<i32>(v.length);
    for (let i = 0; i < v.length; i++) this.varySlots[i] = needs.add(Fact.Header, v[i]);
  }

  // The key of the request whose facts `needs` reads (Needs.begin done by the caller):
  // its length, 0 when the request is neither looked up nor stored (this.why says why).
  derive(needs: Needs): i32 {
    this.len = 0;
    const m = needs.get(this.methodSlot);
    const bit = methodBit(m);
    this.isHead = bit == METHOD_HEAD;
    if ((bit & this.settings.methods) == 0) { this.why = KEY_METHOD; return 0; }
    if (this.authSlot >= 0 && needs.get(this.authSlot).present) { this.why = KEY_AUTHORIZATION; return 0; }
    this.why = KEY_OK;
    this.part(m.ptr, m.len, false);
    const h = needs.get(this.hostSlot);
    this.part(h.ptr, h.len, true);
    const p = needs.get(this.pathSlot);
    if (p.present) {
      this.path.normalize(p, this.norm);
      let q = 0;
      while (q < p.len && load<u8>(p.ptr + q) != 0x3f) q++;
      this.partTwo(this.norm.ptr, this.norm.len, p.ptr + q, p.len - q);
    } else this.part(0, -1, false);
    for (let i = 0; i < this.varySlots.length; i++) {
      const v = needs.get(unchecked(this.varySlots[i]));
      this.part(v.ptr, v.len, false);
    }
    if (this.len > MAX_CACHE_KEY_BYTES) { this.why = KEY_TOO_LONG; this.len = 0; return 0; }
    this.hashA = keyHashA(changetype<usize>(this.buf), this.len);
    this.hashB = keyHashB(changetype<usize>(this.buf), this.len);
    return this.len;
  }

  private room(n: i32): usize {
    if (this.buf.length < this.len + n) {
      const b = new StaticArray<u8>((this.len + n) * 2);
      memory.copy(changetype<usize>(b), changetype<usize>(this.buf), <usize>this.len);
      this.buf = b;
    }
    return changetype<usize>(this.buf) + <usize>this.len;
  }

  private part(p: usize, n: i32, lowerCase: bool): void {
    if (n < 0) { store<u32>(this.room(4), ABSENT); this.len += 4; return; }
    const d = this.room(4 + n);
    store<u32>(d, <u32>n);
    memory.copy(d + 4, p, <usize>n);
    if (lowerCase) for (let i = 0; i < n; i++) {
      const c = <u32>load<u8>(d + 4 + i);
      if (c - 0x41 < 26) store<u8>(d + 4 + i, <u8>(c | 0x20));
    }
    this.len += 4 + n;
  }

  private partTwo(p: usize, n: i32, q: usize, m: i32): void {
    const d = this.room(4 + n + m);
    store<u32>(d, <u32>(n + m));
    memory.copy(d + 4, p, <usize>n);
    memory.copy(d + 4 + n, q, <usize>m);
    this.len += 4 + n + m;
  }
}

export function methodBit(m: Bytes): i32 {
  if (m.len == 3 && load<u8>(m.ptr) == 0x47 && load<u8>(m.ptr + 1) == 0x45 && load<u8>(m.ptr + 2) == 0x54) return METHOD_GET;
  if (m.len == 4 && load<u32>(m.ptr) == 0x44414548) return METHOD_HEAD;   // "HEAD" little endian
  return 0;
}

// Two independent hashes of a key: A picks the set, A and B together name the key in
// the set's index (the entry keeps the whole key, so a double collision is a miss).
export function keyHashA(p: usize, n: i32): u32 { return murmur3_32(p, n, 0x63616368); }
export function keyHashB(p: usize, n: i32): u32 { return murmur3_32(p, n, 0x6b657932); }
