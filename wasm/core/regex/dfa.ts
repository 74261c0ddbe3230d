// The matcher: the NFA simulation of vm.ts, memoized as a lazily built DFA (RE2's
// approach). A DFA state is the set of NFA threads at a position; its transition on a
// byte class is computed once by the NFA step and then cached, so steady-state search
// is one table lookup per byte (~1-2 ns) instead of a step per live thread (~5-10 ns
// each: `[a-f0-9]{32}` keeps 32 threads alive). Only bytes strictly inside the input are
// cached: ^ and $ hold at the edges only, so the first closure and the last step run on
// the NFA directly.
//
// The cache is preallocated at compile time (no allocation per search) and bounded:
// when it is full it is flushed and rebuilt, and after MAX_FLUSHES flushes in one search
// (a pattern with exponentially many states, like `(a|b)*a(a|b){12}`) the rest of that
// search runs on the plain NFA. Either way a byte costs at most one NFA step, so search
// stays O(program x input). Memory: transitions <= 16 KB, state sets <= 16 KB + program,
// smaller for small programs.
import { countSteps } from "../text/steps";
import { OP_ANY, OP_BYTE, OP_MASK, Program } from "./program";
import { addThread, at32, runNfa, stepByte } from "./vm";

const UNKNOWN = -1;
const TO_MATCH = -2;      // the closure reaches MATCH: the search answers yes
const TO_DEAD = -3;       // anchored and no thread left: the search answers no
const TO_NFA = -4;        // too many flushes: hand over to the NFA
const TRANS_BUDGET = 4096;
const MAX_FLUSHES = 3;

// @ts-ignore: decorator
@inline function maskBit(masks: StaticArray<u32>, at: i32, c: i32): bool {
  return ((masks[at + (c >> 5)] >>> (c & 31)) & 1) != 0;
}

// Byte equivalence classes: bytes that no instruction tells apart share one column of
// the transition table (typically 5-30 columns instead of 256).
function byteClasses(p: Program, out: StaticArray<u8>): i32 {
  const cut = new StaticArray<bool>(257);   // cut[b]: a class starts at byte b
  cut[0] = true;
  const code = p.code;
  for (let pc = 0; pc < p.length; pc++) {
    const op = code[pc << 2], a = code[(pc << 2) + 1], b = code[(pc << 2) + 2];
    if (op == OP_BYTE) { cut[a] = true; cut[b + 1] = true; }
    if (op == OP_MASK || (op == OP_ANY && a >= 0)) {
      for (let c = 1; c < 0x80; c++) if (maskBit(p.masks, a, c) != maskBit(p.masks, a, c - 1)) cut[c] = true;
    }
    if (op == OP_MASK || op == OP_ANY) cut[0x80] = true;
    if (op == OP_ANY) {
      // the lead-byte groups of vm.ts's LEAD table
      cut[0xc0] = true; cut[0xc2] = true; cut[0xe0] = true; cut[0xe1] = true; cut[0xed] = true;
      cut[0xee] = true; cut[0xf0] = true; cut[0xf1] = true; cut[0xf4] = true; cut[0xf5] = true;
    }
  }
  let n = -1;
  for (let c = 0; c < 256; c++) { if (cut[c]) n++; out[c] = <u8>n; }
  return n + 1;
}

// Order-independent hash of a thread list (lists are sets; their order is incidental).
function hashList(list: usize, n: i32): u32 {
  let h: u32 = <u32>n * 0x9e3779b1;
  for (let i = 0; i < n; i++) {
    let x = <u32>at32(list, i) * 0x85ebca6b;
    x ^= x >>> 15;
    h += x * 0xc2b2ae35;
  }
  return h;
}

export class Matcher {
  private code: StaticArray<i32>;
  private masks: StaticArray<u32>;
  private entry: i32;
  private anchored: bool;
  // NFA scratch: two thread lists, the closure stack, membership marks (mark[pc] == g:
  // pc is in the list of generation g; the list at position p of a search has
  // generation g0 + p, so nothing is ever cleared).
  private listA: StaticArray<i32>;
  private listB: StaticArray<i32>;
  private stack: StaticArray<i32>;
  private mark: StaticArray<i32>;
  private gen: i32 = 0;
  // DFA cache
  private classOf: StaticArray<u8>;
  private nClasses: i32;
  private maxStates: i32;
  // [state * nClasses + class] -> next state * nClasses (premultiplied: the hot loop
  // saves a multiply per byte), or a TO_* verdict.
  private trans: StaticArray<i32>;
  private stOff: StaticArray<i32>;      // state -> offset of its thread list in pool
  private stLen: StaticArray<i32>;
  private stHash: StaticArray<u32>;
  private table: StaticArray<i32>;      // open addressing: state + 1, 0 = free
  private pool: StaticArray<i32>;
  private nStates: i32 = 0;
  private poolUsed: i32 = 0;
  private startState: i32 = -1;         // the state at offset 0 of a non-empty input (premultiplied)
  private flushes: i32 = 0;             // in the current search
  private flushed: bool = false;        // set by intern() when it flushed
  useDfa: bool = true;                  // false: NFA only (tests compare the two)

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
    const classOf = new StaticArray<u8>(256);
    const nc = byteClasses(p, classOf);
    const ms = max(min(min(TRANS_BUDGET / nc, 8 + 4 * n), 256), 16);
    let cap = 32;
    while (cap < ms * 2) cap <<= 1;
    this.classOf = classOf;
    this.nClasses = nc;
    this.maxStates = ms;
    this.trans = new StaticArray<i32>(ms * nc);
    this.stOff = new StaticArray<i32>(ms);
    this.stLen = new StaticArray<i32>(ms);
    this.stHash = new StaticArray<u32>(ms);
    this.table = new StaticArray<i32>(cap);
    this.pool = new StaticArray<i32>(n + min(4096, 32 * n));
    this.trans.fill(UNKNOWN);
  }

  // True when the pattern matches somewhere in the `len` bytes at `ptr` (anchored only
  // where the pattern says ^ / $).
  search(ptr: usize, len: i32): bool {
    if (<i64>this.gen + <i64>len + 2 >= 0x7fffffff) { this.mark.fill(0); this.gen = 0; }
    const g0 = this.gen + 1;
    this.gen = g0 + len;
    const code = changetype<usize>(this.code), masks = changetype<usize>(this.masks);
    const mark = changetype<usize>(this.mark), stack = changetype<usize>(this.stack);
    const a = changetype<usize>(this.listA), b = changetype<usize>(this.listB);
    if (!this.useDfa || len == 0) {
      return runNfa(code, masks, mark, stack, a, b, this.entry, this.anchored, g0, ptr, len, 0, 0);
    }
    this.flushes = 0;
    let s = this.startState;
    if (s < 0) {
      const n = addThread(code, mark, stack, a, 0, g0, this.entry, 0, len);
      if (n < 0) return true;            // matches the empty string at offset 0
      if (n == 0 && this.anchored) return false;   // nothing can start (e.g. `^$x`)
      s = this.intern(a, n, g0) * this.nClasses;
      this.startState = s;
    }
    const nc = this.nClasses;
    const cls = changetype<usize>(this.classOf);
    const trans = changetype<usize>(this.trans);
    const last = len - 1;
    let pos = 0;
    while (pos < last) {
      countSteps(1);
      const c = <i32>load<u8>(cls + <usize>load<u8>(ptr + <usize>pos));
      let t = load<i32>(trans + (<usize>(s + c) << 2));
      if (t < 0) {
        if (t == UNKNOWN) t = this.compute(s / nc, c, <i32>load<u8>(ptr + <usize>pos), pos, g0, len);
        if (t == TO_MATCH) return true;
        if (t == TO_DEAD) return false;
        if (t == TO_NFA) {
          // listB holds the threads at pos + 1 (generation g0 + pos + 1)
          return runNfa(code, masks, mark, stack, b, a, this.entry, this.anchored, g0 + pos + 1, ptr, len, pos + 1, this.lastCount);
        }
      }
      s = t;
      pos++;
    }
    return this.finalStep(s / nc, <i32>load<u8>(ptr + <usize>last), g0 + len, len);
  }

  private lastCount: i32 = 0;   // threads compute() left in listB

  // Builds the threads at pos + 1 (< len) from state s on byte b (of class c) into
  // listB, caches the transition, and returns the next state (premultiplied) or a
  // TO_* verdict.
  private compute(s: i32, c: i32, b: i32, pos: i32, g0: i32, len: i32): i32 {
    const code = changetype<usize>(this.code), masks = changetype<usize>(this.masks);
    const mark = changetype<usize>(this.mark), stack = changetype<usize>(this.stack);
    const dst = changetype<usize>(this.listB);
    const src = changetype<usize>(this.pool) + (<usize>this.stOff[s] << 2);
    const n = this.stLen[s];
    const ng = g0 + pos + 1;
    const slot = s * this.nClasses + c;
    countSteps(n + 1);
    let nn = 0;
    for (let i = 0; i < n; i++) {
      const t = stepByte(code + (<usize>at32(src, i) << 4), masks, b);
      if (t >= 0) {
        nn = addThread(code, mark, stack, dst, nn, ng, t, pos + 1, len);
        if (nn < 0) { this.trans[slot] = TO_MATCH; return TO_MATCH; }
      }
    }
    if (!this.anchored) {
      nn = addThread(code, mark, stack, dst, nn, ng, this.entry, pos + 1, len);
      if (nn < 0) { this.trans[slot] = TO_MATCH; return TO_MATCH; }
    } else if (nn == 0) { this.trans[slot] = TO_DEAD; return TO_DEAD; }
    this.lastCount = nn;
    const t = this.intern(dst, nn, ng) * this.nClasses;
    if (this.flushed) {
      // s is gone with the flush; the new state stands alone
      if (++this.flushes > MAX_FLUSHES) return TO_NFA;
    } else this.trans[slot] = t;
    return t;
  }

  // The last byte: its closure sees the end of input, so $ may hold (not cached).
  private finalStep(s: i32, b: i32, g: i32, len: i32): bool {
    const code = changetype<usize>(this.code), masks = changetype<usize>(this.masks);
    const mark = changetype<usize>(this.mark), stack = changetype<usize>(this.stack);
    const dst = changetype<usize>(this.listB);
    const src = changetype<usize>(this.pool) + (<usize>this.stOff[s] << 2);
    const n = this.stLen[s];
    let nn = 0;
    for (let i = 0; i < n; i++) {
      const t = stepByte(code + (<usize>at32(src, i) << 4), masks, b);
      if (t >= 0) {
        nn = addThread(code, mark, stack, dst, nn, g, t, len, len);
        if (nn < 0) return true;
      }
    }
    return !this.anchored && addThread(code, mark, stack, dst, nn, g, this.entry, len, len) < 0;
  }

  // The state for the list (n threads, marks of generation g), created if new.
  private intern(list: usize, n: i32, g: i32): i32 {
    this.flushed = false;
    const h = hashList(list, n);
    const mask = this.table.length - 1;
    const mark = changetype<usize>(this.mark), pool = changetype<usize>(this.pool);
    let i = <i32>(h & <u32>mask);
    while (true) {
      countSteps(1);
      const id1 = this.table[i];
      if (id1 == 0) break;
      const id = id1 - 1;
      if (this.stHash[id] == h && this.stLen[id] == n) {
        const off = pool + (<usize>this.stOff[id] << 2);
        let same = true;
        for (let k = 0; k < n && same; k++) same = at32(mark, at32(off, k)) == g;
        if (same) return id;
      }
      i = (i + 1) & mask;
    }
    if (this.nStates == this.maxStates || this.poolUsed + n > this.pool.length) {
      this.flush();
      i = <i32>(h & <u32>mask);
    }
    const id = this.nStates++;
    this.stOff[id] = this.poolUsed;
    this.stLen[id] = n;
    this.stHash[id] = h;
    memory.copy(pool + (<usize>this.poolUsed << 2), list, <usize>n << 2);
    this.poolUsed += n;
    this.table[i] = id + 1;
    return id;
  }

  private flush(): void {
    memory.fill(changetype<usize>(this.trans), 0xff, <usize>(this.nStates * this.nClasses) << 2);   // UNKNOWN = -1
    this.table.fill(0);
    this.nStates = 0;
    this.poolUsed = 0;
    this.startState = -1;
    this.flushed = true;
  }
}
