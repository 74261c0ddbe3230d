// GrowthBook-compatible bucketing (`hash: growthbook-v2`): the same variation as the
// GrowthBook JavaScript SDK (@growthbook/growthbook, src/util.ts) for the same seed, key
// and weights with coverage 1, so apps that bucket with GrowthBook agree with the gateway.
//
//   n = hashFnv32a(String(hashFnv32a(seed + key))) % 10000 / 10000    (hash(seed, key, 2))
//   ranges = getBucketRanges(numVariations, coverage, weights); chooseVariation(n, ranges)
//
// The SDK's FNV-1a runs over UTF-16 code units (charCodeAt), xor-ing a whole unit into
// the state; its `hval += (hval<<1)+(hval<<4)+(hval<<7)+(hval<<8)+(hval<<24)` is
// hval * 16777619 mod 2^32 because every `^=` truncates to 32 bits again. Here the key
// arrives as UTF-8 bytes and is decoded to code units on the fly (WHATWG decoder, U+FFFD
// for bad bytes, exactly as TextDecoder / Buffer.toString would give the app), so a
// decision allocates nothing and costs O(key bytes). The seed's part of the hash is
// computed once: FNV-1a is a left fold, so hash(seed + key) continues from it.
//
// Ranges are built in f64 exactly as the SDK builds them (same additions in the same
// order), so boundary keys land where the SDK puts them. Weights are fractions like the
// SDK's; from tandem's percents use basis points / 10000 (see weightFromBp).

import { Utf16Units } from "../text/utf16";

const FNV_OFFSET: u32 = 0x811c9dc5;
const FNV_PRIME: u32 = 16777619;

// @ts-ignore: decorator
@inline function step(h: u32, unit: u32): u32 { return (h ^ unit) * FNV_PRIME; }

const units = new Utf16Units();

// FNV-1a over the UTF-16 code units of the UTF-8 bytes at ptr (WHATWG UTF-8 decode:
// each maximal invalid subsequence becomes one U+FFFD), continuing from h.
export function fnv1aUtf16OfUtf8(ptr: usize, len: i32, h: u32): u32 {
  // An ASCII byte is its own code unit and leaves the decoder at a boundary: the bytes
  // up to the first other one (all of them, for most keys) skip the decoder.
  const end = ptr + <usize>len;
  let p = ptr;
  for (; p < end; p++) {
    const b = <u32>load<u8>(p);
    if (b >= 0x80) break;
    h = step(h, b);
  }
  if (p == end) return h;
  const u = units.reset(p, <i32>(end - p));
  for (let c = u.next(); c >= 0; c = u.next()) h = step(h, <u32>c);
  return h;
}

// FNV-1a over the code units of an AssemblyScript (UTF-16) string, as the SDK does.
export function fnv1aUtf16(s: string, h: u32 = FNV_OFFSET): u32 {
  for (let i = 0; i < s.length; i++) h = step(h, <u32>s.charCodeAt(i));
  return h;
}

// FNV-1a over the decimal digits of v (JS `v + ""`: no leading zeros), no allocation.
// Digits come out least significant first by division by the constant 10 (a multiply;
// dividing by a varying power of ten cost ~20 hardware divisions a decision), then are
// hashed most significant first.
const digits = new StaticArray<u32>(10);
function fnv1aDecimal(v: u32): u32 {
  let n = 0;
  do {
    unchecked(digits[n++] = v % 10);
    v /= 10;
  } while (v != 0);
  let h = FNV_OFFSET;
  while (n > 0) h = step(h, 0x30 + unchecked(digits[--n]));
  return h;
}

// A tandem percent weight held as basis points (an integer) as the SDK's fraction:
// bp / 10000 is the double nearest the decimal fraction, i.e. what JSON "0.3334" parses
// to. (percent / 100 is not: 33.34 / 100 != 0.3334 in binary64.)
// @ts-ignore: decorator
@inline export function weightFromBp(bp: i32): f64 { return <f64>bp / 10000.0; }

export class GrowthBookSplit {
  private seedState: u32;
  starts: StaticArray<f64>;
  ends: StaticArray<f64>;

  // Configure time: the seed's hash state and the SDK's getBucketRanges(weights.length,
  // coverage, weights), including its fallbacks (coverage clamped to [0, 1]; weights
  // summing outside [0.99, 1.01] replaced by equal weights 1/n).
  constructor(seed: string, weights: StaticArray<f64>, coverage: f64 = 1.0) {
    this.seedState = fnv1aUtf16(seed);
    const n = weights.length;
    if (coverage < 0) coverage = 0;
    else if (coverage > 1) coverage = 1;
    let total: f64 = 0;
    for (let i = 0; i < n; i++) total = weights[i] + total;   // reduce((w, sum) => sum + w, 0)
    const equal = total < 0.99 || total > 1.01;
    this.starts = new StaticArray<f64>(n);
    this.ends = new StaticArray<f64>(n);
    let cumulative: f64 = 0;
    for (let i = 0; i < n; i++) {
      const w = equal ? 1.0 / <f64>n : weights[i];
      const start = cumulative;
      cumulative += w;
      this.starts[i] = start;
      this.ends[i] = start + coverage * w;
    }
  }

  // hash(seed, key, 2) for the UTF-8 key bytes at ptr: a multiple of 0.0001 in [0, 1).
  hash(ptr: usize, len: i32): f64 {
    const inner = fnv1aUtf16OfUtf8(ptr, len, this.seedState);
    return <f64>(fnv1aDecimal(inner) % 10000) / 10000.0;
  }

  // chooseVariation(hash, ranges): the first range with start <= n < end, else -1 (a
  // coverage gap, or weights summing below 1 within the SDK's tolerance).
  choose(ptr: usize, len: i32): i32 {
    return this.chooseHash(this.hash(ptr, len));
  }

  // The same for a hash(seed, key, 2) already computed (the decision keeps it as its
  // bucket too: one hash per decision).
  chooseHash(n: f64): i32 {
    const s = this.starts, e = this.ends;
    for (let i = 0; i < s.length; i++) {
      if (n >= unchecked(s[i]) && n < unchecked(e[i])) return i;
    }
    return -1;
  }
}
