// Thompson NFA simulation (Pike VM without captures) over bytes in linear memory.
//
// All threads advance in lockstep, one input byte at a time; a thread is just a program
// counter and each pc enters the next list at most once per byte, so a search costs
// O(program length x input length) whatever the pattern: `(a+)+$` on 100 KB of 'a' is
// a few threads per byte, not 2^n paths. The answer is yes/no (RE2 PartialMatch), so
// the search stops at the first MATCH and thread priority does not matter.
//
// The lists, closure stack and marks belong to the Matcher (dfa.ts), sized by the
// program at compile time (16 bytes per instruction); nothing here allocates. These
// functions take raw pointers into those arrays (which never move): managed references
// in a hot loop cost a shadow-stack store per use under the incremental GC, which
// measured 2x slower.
import { countSteps } from "../text/steps";
import { ANY_E0, ANY_ED, ANY_F0, ANY_F4, ANY_T1, ANY_T2, ANY_T3, OP_ANY, OP_BOL, OP_BYTE, OP_EOL, OP_MASK, OP_MATCH, OP_SPLIT } from "./program";

// Continuation-chain entry for a UTF-8 lead byte 0xC0..0xFF (-1: not a valid lead).
const LEAD: StaticArray<i32> = [
  -1, -1, ANY_T1, ANY_T1, ANY_T1, ANY_T1, ANY_T1, ANY_T1, ANY_T1, ANY_T1, ANY_T1, ANY_T1, ANY_T1, ANY_T1, ANY_T1, ANY_T1,   // C0-CF
  ANY_T1, ANY_T1, ANY_T1, ANY_T1, ANY_T1, ANY_T1, ANY_T1, ANY_T1, ANY_T1, ANY_T1, ANY_T1, ANY_T1, ANY_T1, ANY_T1, ANY_T1, ANY_T1, // D0-DF
  ANY_E0, ANY_T2, ANY_T2, ANY_T2, ANY_T2, ANY_T2, ANY_T2, ANY_T2, ANY_T2, ANY_T2, ANY_T2, ANY_T2, ANY_T2, ANY_ED, ANY_T2, ANY_T2, // E0-EF
  ANY_F0, ANY_T3, ANY_T3, ANY_T3, ANY_F4, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,                                             // F0-FF
];

// @ts-ignore: decorator
@inline export function at32(base: usize, i: i32): i32 { return load<i32>(base + (<usize>i << 2)); }
// @ts-ignore: decorator
@inline export function set32(base: usize, i: i32, v: i32): void { store<i32>(base + (<usize>i << 2), v); }

// Adds pc0 and everything reachable from it without input (splits, true assertions) to
// the list at `list` (n entries, generation g; mark[pc] == g means "already in it").
// Returns the new length, or -1 when MATCH is reachable.
export function addThread(code: usize, mark: usize, stack: usize, list: usize, n: i32, g: i32, pc0: i32, pos: i32, len: i32): i32 {
  if (at32(mark, pc0) == g) return n;
  set32(mark, pc0, g);
  let sp = 1;
  set32(stack, 0, pc0);
  while (sp > 0) {
    countSteps(1);
    const pc = at32(stack, --sp);
    const ins = code + (<usize>pc << 4);
    const op = load<i32>(ins);
    let t1 = -1, t2 = -1;
    if (op == OP_SPLIT) { t1 = load<i32>(ins, 4); t2 = load<i32>(ins, 8); }
    else if (op == OP_BOL) { if (pos == 0) t1 = load<i32>(ins, 12); }
    else if (op == OP_EOL) { if (pos == len) t1 = load<i32>(ins, 12); }
    else if (op == OP_MATCH) return -1;
    else { set32(list, n++, pc); continue; }   // consumes a byte (or FAIL)
    if (t2 >= 0 && at32(mark, t2) != g) { set32(mark, t2, g); set32(stack, sp++, t2); }
    if (t1 >= 0 && at32(mark, t1) != g) { set32(mark, t1, g); set32(stack, sp++, t1); }
  }
  return n;
}

// The successor of the consuming instruction `ins` on byte b, or -1.
// @ts-ignore: decorator
@inline export function stepByte(ins: usize, masks: usize, b: i32): i32 {
  const op = load<i32>(ins);
  if (op == OP_BYTE) {
    if (b >= load<i32>(ins, 4) && b <= load<i32>(ins, 8)) return load<i32>(ins, 12);
  } else if (op == OP_MASK) {
    if (b < 0x80 && (load<u32>(masks + (<usize>(load<i32>(ins, 4) + (b >> 5)) << 2)) >>> (b & 31)) & 1) return load<i32>(ins, 12);
  } else if (op == OP_ANY) {
    if (b < 0x80) {
      const m = load<i32>(ins, 4);
      if (m >= 0 && (load<u32>(masks + (<usize>(m + (b >> 5)) << 2)) >>> (b & 31)) & 1) return load<i32>(ins, 12);
    } else if (b >= 0xc0) {
      const k = unchecked(LEAD[b - 0xc0]);
      if (k >= 0) return load<i32>(ins, 8) + k;
    }
  }
  return -1;
}

// The NFA simulation from position pos0, where the list `cur` (cn entries) holds the
// threads at pos0 with marks of generation g. The list at position p always has
// generation g - pos0 + p, so the caller can hand over mid-input (see dfa.ts).
export function runNfa(code: usize, masks: usize, mark: usize, stack: usize, cur: usize, nxt: usize,
                       entry: i32, anchored: bool, g: i32, ptr: usize, len: i32, pos0: i32, cn: i32): bool {
  for (let pos = pos0; pos <= len; pos++) {
    if (pos == 0 || !anchored) {
      cn = addThread(code, mark, stack, cur, cn, g, entry, pos, len);
      if (cn < 0) return true;
    }
    if (cn == 0) {
      if (anchored) return false;
      g++;              // the (empty) list at pos + 1 has the next generation
      continue;
    }
    if (pos == len) break;
    const b = <i32>load<u8>(ptr + <usize>pos);
    const ng = g + 1;
    let nn = 0;
    countSteps(cn + 1);
    for (let i = 0; i < cn; i++) {
      const t = stepByte(code + (<usize>at32(cur, i) << 4), masks, b);
      if (t >= 0) {
        nn = addThread(code, mark, stack, nxt, nn, ng, t, pos + 1, len);
        if (nn < 0) return true;
      }
    }
    const tmp = cur; cur = nxt; nxt = tmp;
    cn = nn;
    g = ng;
  }
  return false;
}
