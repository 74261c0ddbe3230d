// Thompson NFA simulation (Pike VM without captures) over bytes in linear memory.
//
// All threads advance in lockstep, one input byte at a time; a thread is just a program
// counter and each pc enters the next list at most once per byte, so a search costs
// O(program length x input length) whatever the pattern: `(a+)+$` on 100 KB of 'a' is
// a few threads per byte, not 2^n paths. The answer is yes/no (RE2 PartialMatch), so
// the search stops at the first MATCH and thread priority does not matter.
//
// Memory: the two thread lists, the closure stack and the membership marks are sized
// by the program at compile time (16 bytes per instruction); a search allocates nothing.
import { ANY_E0, ANY_ED, ANY_F0, ANY_F4, ANY_T1, ANY_T2, ANY_T3, OP_ANY, OP_BOL, OP_BYTE, OP_EOL, OP_MASK, OP_MATCH, OP_SPLIT, Program } from "./program";

// Continuation-chain entry for a UTF-8 lead byte 0xC0..0xFF (-1: not a valid lead).
const LEAD: StaticArray<i32> = [
  -1, -1, ANY_T1, ANY_T1, ANY_T1, ANY_T1, ANY_T1, ANY_T1, ANY_T1, ANY_T1, ANY_T1, ANY_T1, ANY_T1, ANY_T1, ANY_T1, ANY_T1,   // C0-CF
  ANY_T1, ANY_T1, ANY_T1, ANY_T1, ANY_T1, ANY_T1, ANY_T1, ANY_T1, ANY_T1, ANY_T1, ANY_T1, ANY_T1, ANY_T1, ANY_T1, ANY_T1, ANY_T1, // D0-DF
  ANY_E0, ANY_T2, ANY_T2, ANY_T2, ANY_T2, ANY_T2, ANY_T2, ANY_T2, ANY_T2, ANY_T2, ANY_T2, ANY_T2, ANY_T2, ANY_ED, ANY_T2, ANY_T2, // E0-EF
  ANY_F0, ANY_T3, ANY_T3, ANY_T3, ANY_F4, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,                                             // F0-FF
];

export class Matcher {
  private code: StaticArray<i32>;
  private masks: StaticArray<u32>;
  private entry: i32;
  private anchored: bool;
  private listA: StaticArray<i32>;
  private listB: StaticArray<i32>;
  private stack: StaticArray<i32>;
  // mark[pc] == gen: pc is already in the list being built for generation `gen`. One
  // generation per input byte, so lists never need clearing.
  private mark: StaticArray<i32>;
  private gen: i32 = 0;
  private count: i32 = 0;     // size of the list add() last extended

  constructor(p: Program) {
    const n = p.length;
    this.code = p.code;
    this.masks = p.masks;
    this.entry = p.entry;
    this.anchored = p.anchored;
    this.listA = new StaticArray<i32>(n);
    this.listB = new StaticArray<i32>(n);
    this.stack = new StaticArray<i32>(n);
    this.mark = new StaticArray<i32>(n);
  }

  // Adds pc and everything reachable from it without input (splits, true assertions)
  // to `list` (currently `n` long, generation g). True when MATCH is reachable.
  private add(list: StaticArray<i32>, n: i32, g: i32, pc0: i32, pos: i32, len: i32): bool {
    const code = this.code, mark = this.mark, stack = this.stack;
    if (unchecked(mark[pc0]) == g) { this.count = n; return false; }
    unchecked(mark[pc0] = g);
    let sp = 0;
    unchecked(stack[sp++] = pc0);
    while (sp > 0) {
      const pc = unchecked(stack[--sp]);
      const at = pc << 2;
      const op = unchecked(code[at]);
      if (op == OP_MATCH) { this.count = n; return true; }
      let t1 = -1, t2 = -1;
      if (op == OP_SPLIT) { t1 = unchecked(code[at + 1]); t2 = unchecked(code[at + 2]); }
      else if (op == OP_BOL) { if (pos == 0) t1 = unchecked(code[at + 3]); }
      else if (op == OP_EOL) { if (pos == len) t1 = unchecked(code[at + 3]); }
      else { unchecked(list[n++] = pc); continue; }   // consumes a byte (or FAIL)
      if (t2 >= 0 && unchecked(mark[t2]) != g) { unchecked(mark[t2] = g); unchecked(stack[sp++] = t2); }
      if (t1 >= 0 && unchecked(mark[t1]) != g) { unchecked(mark[t1] = g); unchecked(stack[sp++] = t1); }
    }
    this.count = n;
    return false;
  }

  // True when the pattern matches somewhere in the `len` bytes at `ptr` (anchored only
  // where the pattern says ^ / $).
  search(ptr: usize, len: i32): bool {
    // Generations grow by len + 1 per search; restart them long before i32 overflow.
    if (<i64>this.gen + <i64>len + 2 >= 0x7fffffff) { this.mark.fill(0); this.gen = 0; }
    const code = this.code, masks = this.masks;
    let cur = this.listA, nxt = this.listB;
    let g = ++this.gen;
    let cn = 0;
    for (let pos = 0; ; pos++) {
      if (pos == 0 || !this.anchored) {
        if (this.add(cur, cn, g, this.entry, pos, len)) return true;
        cn = this.count;
      } else if (cn == 0) return false;
      if (pos >= len) return false;
      const b = <i32>load<u8>(ptr + <usize>pos);
      const ng = ++this.gen;
      let nn = 0;
      for (let i = 0; i < cn; i++) {
        const at = unchecked(cur[i]) << 2;
        const op = unchecked(code[at]);
        let t = -1;
        if (op == OP_BYTE) {
          if (b >= unchecked(code[at + 1]) && b <= unchecked(code[at + 2])) t = unchecked(code[at + 3]);
        } else if (op == OP_MASK) {
          if (b < 0x80 && (unchecked(masks[unchecked(code[at + 1]) + (b >> 5)]) >>> (b & 31)) & 1) t = unchecked(code[at + 3]);
        } else if (op == OP_ANY) {
          if (b < 0x80) {
            const m = unchecked(code[at + 1]);
            if (m >= 0 && (unchecked(masks[m + (b >> 5)]) >>> (b & 31)) & 1) t = unchecked(code[at + 3]);
          } else if (b >= 0xc0) {
            const k = unchecked(LEAD[b - 0xc0]);
            if (k >= 0) t = unchecked(code[at + 2]) + k;
          }
        }
        if (t >= 0) {
          if (this.add(nxt, nn, ng, t, pos + 1, len)) return true;
          nn = this.count;
        }
      }
      const tmp = cur; cur = nxt; nxt = tmp;
      cn = nn;
      g = ng;
    }
    return false;   // not reached: the loop returns at pos == len
  }
}
