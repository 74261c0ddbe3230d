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
import { Utf16Units } from "../text/utf16";

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

const units = new Utf16Units();

// Writes the low byte of each UTF-16 code unit of the `len` UTF-8 bytes at `ptr` to
// `dst` (./utf16.ts: as TextDecoder decodes them). Returns the code-unit count.
function unitLowBytes(ptr: usize, len: i32, dst: usize): i32 {
  // ASCII bytes are their own code units (and leave the decoder at a boundary): copied
  // as they are up to the first other byte, the rest decoded.
  const end = ptr + <usize>len;
  let p = ptr;
  let out = dst;
  for (; p < end; p++) {
    const b = load<u8>(p);
    if (b >= 0x80) break;
    store<u8>(out++, b);
  }
  if (p == end) return <i32>(out - dst);
  const u = units.reset(p, <i32>(end - p));
  for (let c = u.next(); c >= 0; c = u.next()) store<u8>(out++, <u8>c);
  return <i32>(out - dst);
}
