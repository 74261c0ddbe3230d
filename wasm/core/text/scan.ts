// Substring search over request bytes, for `contains` conditions and the literal
// prefilter of regexes (regex/prefilter.ts). A loop over bytes costs ~1.5 ns a byte in
// V8 (measured on the bench's user-agents); here the literal's first byte is looked for
// 8 bytes per iteration (SWAR: the bytes of a word equal to it light up), and the rest
// of the literal is compared only where it occurs: ~0.2 ns a byte.

import { countSteps } from "./steps";

const ONES: u64 = 0x0101010101010101;
const LOW7: u64 = 0x7f7f7f7f7f7f7f7f;

// True when the `wl` bytes at `w` occur in the `n` bytes at `p`. With ignoreCase the
// literal is lowercase (configure time) and ASCII letters of the input fold to it.
export function containsBytes(p: usize, n: i32, w: usize, wl: i32, ignoreCase: bool): bool {
  if (wl == 0) return true;
  if (wl > n) return false;
  const first = <u64>load<u8>(w);
  // a lowercase letter also matches its uppercase form, which `| 0x20` folds onto it
  // (and no other byte)
  const fold: u64 = ignoreCase && first - 0x61 < 26 ? 0x20 * ONES : 0;
  const pat = first * ONES;
  const last = p + <usize>(n - wl);     // the last possible start
  const end = p + <usize>n;
  let q = p;
  while (q + 8 <= end) {
    countSteps(1);
    const x = (load<u64>(q) | fold) ^ pat;   // zero bytes: candidates
    let t = ~(((x & LOW7) + LOW7) | x | LOW7); // exactly their high bits
    while (t != 0) {
      const c = q + <usize>(ctz(t) >> 3);
      if (c > last) return false;
      if (eqAt(c + 1, w + 1, wl - 1, ignoreCase)) return true;
      t &= t - 1;
    }
    q += 8;
  }
  for (; q <= last; q++) {
    countSteps(1);
    if ((<u64>load<u8>(q) | (fold & 0xff)) == first && eqAt(q + 1, w + 1, wl - 1, ignoreCase)) return true;
  }
  return false;
}

// The `n` bytes at `p` equal those at `w` (ignoreCase: `w` lowercase). Literals and
// names are short: 4 bytes a step, one small copy of this code (memory.compare inlines
// ~150 bytes of code at each call site).
export function eqAt(p: usize, w: usize, n: i32, ignoreCase: bool): bool {
  let i = 0;
  if (!ignoreCase) for (; i + 4 <= n; i += 4) if (load<u32>(p + i) != load<u32>(w + i)) return false;
  for (; i < n; i++) {
    const c = <u32>load<u8>(p + i);
    if ((ignoreCase && c - 0x41 < 26 ? c | 0x20 : c) != <u32>load<u8>(w + i)) return false;
  }
  return true;
}
