// UTF-8 helpers for the regex compiler (configure time only).
import { SURR_HI, SURR_LO } from "./charclass";

// Length in bytes of the last successful decodeAt().
export let decodedLen: i32 = 0;

// Strict decode of one code point at p[i..n): shortest form, no surrogates, <= U+10FFFF.
// Returns -1 for anything else (the pattern is then rejected).
export function decodeAt(p: StaticArray<u8>, i: i32, n: i32): i32 {
  const b0 = <i32>p[i];
  if (b0 < 0x80) { decodedLen = 1; return b0; }
  let need = 0, cp = 0, min = 0;
  if (b0 >= 0xc2 && b0 <= 0xdf) { need = 1; cp = b0 & 0x1f; min = 0x80; }
  else if (b0 >= 0xe0 && b0 <= 0xef) { need = 2; cp = b0 & 0x0f; min = 0x800; }
  else if (b0 >= 0xf0 && b0 <= 0xf4) { need = 3; cp = b0 & 0x07; min = 0x10000; }
  else return -1;
  if (i + need >= n) return -1;   // truncated
  for (let k = 1; k <= need; k++) {
    const b = <i32>p[i + k];
    if ((b & 0xc0) != 0x80) return -1;
    cp = (cp << 6) | (b & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= SURR_LO && cp <= SURR_HI)) return -1;
  decodedLen = need + 1;
  return cp;
}

// Appends the UTF-8 bytes of cp.
export function encodeTo(cp: i32, out: Array<u8>): void {
  if (cp < 0x80) { out.push(<u8>cp); return; }
  if (cp < 0x800) { out.push(<u8>(0xc0 | (cp >> 6))); }
  else if (cp < 0x10000) { out.push(<u8>(0xe0 | (cp >> 12))); out.push(<u8>(0x80 | ((cp >> 6) & 0x3f))); }
  else {
    out.push(<u8>(0xf0 | (cp >> 18)));
    out.push(<u8>(0x80 | ((cp >> 12) & 0x3f)));
    out.push(<u8>(0x80 | ((cp >> 6) & 0x3f)));
  }
  out.push(<u8>(0x80 | (cp & 0x3f)));
}

function encLen(cp: i32): i32 { return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4; }

// Byte `k` (0-based) of cp's UTF-8 encoding of length `len`.
function encByte(cp: i32, len: i32, k: i32): i32 {
  const shift = 6 * (len - 1 - k);
  if (k == 0) {
    if (len == 1) return cp;
    const lead = len == 2 ? 0xc0 : len == 3 ? 0xe0 : 0xf0;
    return lead | (cp >> shift);
  }
  return 0x80 | ((cp >> shift) & 0x3f);
}

// Appends to `out` the byte-range sequences whose union is exactly the UTF-8 encodings
// of the code points in [lo, hi] (surrogates dropped), as [n, lo1, hi1, ..., loN, hiN].
// The split (by encoded length, then by continuation-byte alignment) is the one of
// Russ Cox's utf8-ranges / RE2; recursion depth is bounded by 4 levels x 2.
export function utf8Sequences(lo: i32, hi: i32, out: Array<i32>): void {
  if (lo > hi) return;
  if (lo <= SURR_HI && hi >= SURR_LO) {
    utf8Sequences(lo, SURR_LO - 1, out);
    utf8Sequences(SURR_HI + 1, hi, out);
    return;
  }
  if (lo <= 0x7f && hi > 0x7f) { utf8Sequences(lo, 0x7f, out); utf8Sequences(0x80, hi, out); return; }
  if (lo <= 0x7ff && hi > 0x7ff) { utf8Sequences(lo, 0x7ff, out); utf8Sequences(0x800, hi, out); return; }
  if (lo <= 0xffff && hi > 0xffff) { utf8Sequences(lo, 0xffff, out); utf8Sequences(0x10000, hi, out); return; }
  const len = encLen(lo);
  for (let i = 1; i < len; i++) {
    const m = (1 << (6 * i)) - 1;
    if ((lo & ~m) != (hi & ~m)) {
      if ((lo & m) != 0) { utf8Sequences(lo, lo | m, out); utf8Sequences((lo | m) + 1, hi, out); return; }
      if ((hi & m) != m) { utf8Sequences(lo, (hi & ~m) - 1, out); utf8Sequences(hi & ~m, hi, out); return; }
    }
  }
  out.push(len);
  for (let k = 0; k < len; k++) { out.push(encByte(lo, len, k)); out.push(encByte(hi, len, k)); }
}
