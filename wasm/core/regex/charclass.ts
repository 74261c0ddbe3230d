// Sets of Unicode code points as sorted, disjoint, inclusive ranges. Built at compile
// (configure) time only, so plain Arrays are fine here; nothing here runs per request.

export const MAX_CP: i32 = 0x10ffff;
export const SURR_LO: i32 = 0xd800;
export const SURR_HI: i32 = 0xdfff;

export class CodeSet {
  // Flat pairs [lo0, hi0, lo1, hi1, ...]; sorted and merged after normalize().
  r: Array<i32> = new Array<i32>(0);

  add(lo: i32, hi: i32): CodeSet { this.r.push(lo); this.r.push(hi); return this; }

  addSet(o: CodeSet): void {
    for (let i = 0; i < o.r.length; i++) this.r.push(unchecked(o.r[i]));
  }

  get count(): i32 { return this.r.length >> 1; }
  lo(i: i32): i32 { return unchecked(this.r[i << 1]); }
  hi(i: i32): i32 { return unchecked(this.r[(i << 1) + 1]); }

  // Sort by lower bound (insertion sort: classes have few ranges) and merge overlaps
  // and neighbours.
  normalize(): CodeSet {
    const n = this.count;
    const a = this.r;
    for (let i = 1; i < n; i++) {
      const lo = a[i << 1], hi = a[(i << 1) + 1];
      let j = i - 1;
      while (j >= 0 && a[j << 1] > lo) { a[(j + 1) << 1] = a[j << 1]; a[((j + 1) << 1) + 1] = a[(j << 1) + 1]; j--; }
      a[(j + 1) << 1] = lo; a[((j + 1) << 1) + 1] = hi;
    }
    const out = new Array<i32>(0);
    for (let i = 0; i < n; i++) {
      const lo = a[i << 1], hi = a[(i << 1) + 1];
      const m = out.length;
      if (m > 0 && lo <= out[m - 1] + 1) { if (hi > out[m - 1]) out[m - 1] = hi; }
      else { out.push(lo); out.push(hi); }
    }
    this.r = out;
    return this;
  }

  // Complement within [0, MAX_CP]. Surrogates stay in the complement here; they have no
  // UTF-8 encoding, so the compiler drops them (see utf8.ts).
  negate(): CodeSet {
    this.normalize();
    const out = new Array<i32>(0);
    let next = 0;
    for (let i = 0; i < this.count; i++) {
      if (this.lo(i) > next) { out.push(next); out.push(this.lo(i) - 1); }
      next = this.hi(i) + 1;
    }
    if (next <= MAX_CP) { out.push(next); out.push(MAX_CP); }
    this.r = out;
    return this;
  }

  // ASCII case folding only (the documented ignoreCase semantics): every A-Z in the set
  // brings its a-z and vice versa. Non-ASCII letters are not folded.
  foldAscii(): CodeSet {
    const n = this.count;
    for (let i = 0; i < n; i++) {
      const lo = this.lo(i), hi = this.hi(i);
      const ulo = max(lo, 0x41), uhi = min(hi, 0x5a);
      if (ulo <= uhi) this.add(ulo + 32, uhi + 32);
      const llo = max(lo, 0x61), lhi = min(hi, 0x7a);
      if (llo <= lhi) this.add(llo - 32, lhi - 32);
    }
    return this.normalize();
  }

  // True when the set (normalized) holds every code point in [lo, hi] except the
  // surrogates, which may be present or not.
  coversAll(lo: i32, hi: i32): bool {
    let next = lo;
    for (let i = 0; i < this.count; i++) {
      if (next >= SURR_LO && next <= SURR_HI) next = SURR_HI + 1;
      if (next > hi) return true;
      if (this.hi(i) < next) continue;
      if (this.lo(i) > next) return false;
      next = this.hi(i) + 1;
    }
    if (next >= SURR_LO && next <= SURR_HI) next = SURR_HI + 1;
    return next > hi;
  }
}

// The shorthand classes, RE2's ASCII definitions: \d [0-9], \w [0-9A-Za-z_],
// \s [\t\n\f\r ] (RE2 and Go leave out \v).
export function shorthand(c: i32): CodeSet | null {
  const s = new CodeSet();
  const lc = c | 0x20;
  if (lc == 0x64) s.add(0x30, 0x39);
  else if (lc == 0x77) s.add(0x30, 0x39).add(0x41, 0x5a).add(0x5f, 0x5f).add(0x61, 0x7a);
  else if (lc == 0x73) s.add(0x09, 0x0a).add(0x0c, 0x0d).add(0x20, 0x20);
  else return null;
  s.normalize();
  if (c != lc) s.negate();   // \D \W \S
  return s;
}
