// Unleash-compatible variant assignment (`hash: unleash`): the variant the Unleash Node
// SDK (unleash-client 6, lib/variant.js selectVariantDefinition) gives the same groupId
// (tandem's seed, which defaults to the experiment name as groupId defaults to the
// feature name), stickiness value (tandem's key) and weights:
//
//   target  = murmur3_x86_32("<groupId>:<key>", seed 86028157) % totalWeight + 1
//   variant = the first (weight-0 ones skipped) whose cumulative weight >= target
//
// The SDK's murmur3 (murmurhash3js 3.0.1) reads `str.charCodeAt(i) & 0xff`: the LOW BYTE
// of each UTF-16 code unit, with the unit count as the length. For ASCII that is the
// UTF-8 bytes; for other text it is not. So the key, UTF-8 bytes from the gateway, is
// decoded as the app's TextDecoder would (WHATWG: one U+FFFD per invalid sequence), each
// code unit's low byte written after "<groupId>:" in a scratch buffer, and that hashed
// with the core's murmur3_32. O(key bytes); the buffer grows only for a longer key
// than any before.
//
// Weights: Unleash's are integers where 1000 = 100% (tenths of a percent); tandem's
// basis points map as bp / 10 (config/experiment.ts rejects weights that are not whole
// tenths). Tandem's weights always sum to 100%, so totalWeight is 1000, and with
// b = (hash % 1000) * 10 in basis points, "cumulative >= target" is "b < upper bp":
// the same range walk as tandem's own buckets (experiment.ts pick()).
import { murmur3_32 } from "./hash";

const VARIANT_SEED: u32 = 86028157;     // unleash-client strategy/util.js VARIANT_SEED
const TOTAL: u32 = 1000;                // Unleash weight of 100%
const BP_PER_WEIGHT = 10;               // basis points per Unleash weight unit
const SPARE = 256;                      // key bytes the scratch holds before growing

export class UnleashHash {
  private buf: StaticArray<u8>;         // "<groupId>:" then the key's code-unit low bytes
  private prefixLen: i32;

  constructor(groupId: string) {
    const n = groupId.length;
    this.prefixLen = n + 1;
    this.buf = new StaticArray<u8>(n + 1 + SPARE);
    for (let i = 0; i < n; i++) this.buf[i] = <u8>groupId.charCodeAt(i);   // low byte
    this.buf[n] = 0x3a;                  // ':'
  }

  // The request's position in basis points, [0, 10000) in steps of 10.
  bucket(ptr: usize, len: i32): i32 {
    // a key of len bytes decodes to at most len code units
    if (this.buf.length < this.prefixLen + len) this.grow(this.prefixLen + len + SPARE);
    const base = changetype<usize>(this.buf);
    const units = unitLowBytes(ptr, len, base + <usize>this.prefixLen);
    const h = murmur3_32(base, this.prefixLen + units, VARIANT_SEED);
    return <i32>(h % TOTAL) * BP_PER_WEIGHT;
  }

  private grow(size: i32): void {
    const next = new StaticArray<u8>(size);
    memory.copy(changetype<usize>(next), changetype<usize>(this.buf), this.prefixLen);
    this.buf = next;
  }
}

// Decodes `len` UTF-8 bytes at `ptr` (WHATWG decoder: each maximal invalid subsequence
// is one U+FFFD) and writes the low byte of each UTF-16 code unit to `dst`. Returns the
// code-unit count.
function unitLowBytes(ptr: usize, len: i32, dst: usize): i32 {
  let out = dst;
  let need = 0, cp: u32 = 0, lower: u32 = 0x80, upper: u32 = 0xbf;
  let i = 0;
  while (i < len) {
    const b = <u32>load<u8>(ptr + <usize>i);
    if (need == 0) {
      i++;
      if (b < 0x80) { store<u8>(out, <u8>b); out++; }
      else if (b >= 0xc2 && b <= 0xdf) { need = 1; cp = b & 0x1f; }
      else if (b >= 0xe0 && b <= 0xef) {
        if (b == 0xe0) lower = 0xa0;
        if (b == 0xed) upper = 0x9f;    // no surrogates encoded in UTF-8
        need = 2; cp = b & 0x0f;
      } else if (b >= 0xf0 && b <= 0xf4) {
        if (b == 0xf0) lower = 0x90;
        if (b == 0xf4) upper = 0x8f;    // nothing above U+10FFFF
        need = 3; cp = b & 0x07;
      } else { store<u8>(out, 0xfd); out++; }
      continue;
    }
    if (b < lower || b > upper) {
      // the sequence ends early: U+FFFD, and this byte starts over (not consumed)
      need = 0; lower = 0x80; upper = 0xbf;
      store<u8>(out, 0xfd); out++;
      continue;
    }
    i++;
    lower = 0x80; upper = 0xbf;
    cp = (cp << 6) | (b & 0x3f);
    if (--need == 0) {
      if (cp < 0x10000) { store<u8>(out, <u8>cp); out++; }
      else {
        // a surrogate pair: D800 + high ten bits, DC00 + low ten bits (their low bytes)
        const v = cp - 0x10000;
        store<u8>(out, <u8>(v >> 10)); out++;
        store<u8>(out, <u8>(v & 0x3ff)); out++;
      }
    }
  }
  if (need != 0) { store<u8>(out, 0xfd); out++; }
  return <i32>(out - dst);
}
