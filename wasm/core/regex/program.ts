// Syntax tree -> flat instruction array for the Pike VM (vm.ts). Configure time only.
//
// Every instruction is 4 i32 [op, a, b, next] with an explicit successor, so the tree
// is compiled back to front (each piece knows where it continues) and no patch lists
// or jumps are needed. Repetitions {m,n} are expanded into copies, which is why the
// size is computed first and capped: `(a{1000}){1000}` is refused before any work.
import { MAX_CP } from "./charclass";
import { Node, NodeKind } from "./parser";
import { utf8Sequences } from "./utf8";

export const OP_MATCH = 0;
export const OP_BYTE = 1;    // byte in [a, b] -> next
export const OP_MASK = 2;    // ASCII byte whose bit is set in masks[a .. a+4) -> next
export const OP_ANY = 3;     // ASCII byte in mask a (a < 0: none) -> next, or a valid UTF-8
                             // lead byte -> its continuation chain at b (see ANY_* below)
export const OP_SPLIT = 4;   // fork to a and b
export const OP_BOL = 5;     // at offset 0 -> next
export const OP_EOL = 6;     // at the end of input -> next
export const OP_FAIL = 7;    // an empty class

// Pattern-size cap in instructions (16 bytes each, plus 16 bytes of VM lists per
// instruction: a capped program costs ~320 KB). RE2 caps by memory in the same spirit.
export const MAX_INSTRUCTIONS: i32 = 10000;

// OP_ANY's continuation chain, emitted right before it, at these offsets from b. The
// lead byte picks an entry; the restricted second bytes reject overlong forms,
// surrogates and code points above U+10FFFF, so only well-formed UTF-8 matches.
export const ANY_T1 = 0;     // 1 more continuation byte
export const ANY_T2 = 1;     // 2 more
export const ANY_T3 = 2;     // 3 more
export const ANY_E0 = 3;     // E0: second byte A0-BF
export const ANY_ED = 4;     // ED: second byte 80-9F
export const ANY_F0 = 5;     // F0: second byte 90-BF
export const ANY_F4 = 6;     // F4: second byte 80-8F
const ANY_SIZE = 8;

export class Program {
  constructor(
    public code: StaticArray<i32>,
    public masks: StaticArray<u32>,
    public entry: i32,
    public anchored: bool,
  ) {}
  get length(): i32 { return this.code.length >> 2; }
}

export class Compiler {
  code: Array<i32> = new Array<i32>(0);
  masks: Array<u32> = new Array<u32>(0);

  // Instructions `node` compiles to, saturating just above the cap.
  size(node: Node): i64 {
    let s: i64 = 0;
    switch (node.kind) {
      case NodeKind.Empty: return 0;
      case NodeKind.Bol: case NodeKind.Eol: return 1;
      case NodeKind.Bytes: return (node.bytes as Array<u8>).length;
      case NodeKind.Class: return this.classSize(node);
      case NodeKind.Concat: case NodeKind.Alt: {
        for (let i = 0; i < node.subs.length; i++) s += this.size(node.subs[i]);
        if (node.kind == NodeKind.Alt) s += node.subs.length - 1;
        break;
      }
      case NodeKind.Repeat: {
        const x = this.size(node.subs[0]);
        if (x == 0) return 0;
        s = node.max < 0 ? <i64>max(node.min, 1) * x + 1 : <i64>node.min * x + <i64>(node.max - node.min) * (x + 1);
        break;
      }
    }
    return min(s, <i64>MAX_INSTRUCTIONS + 1);
  }

  private emit(op: i32, a: i32, b: i32, next: i32): i32 {
    const pc = this.code.length >> 2;
    this.code.push(op); this.code.push(a); this.code.push(b); this.code.push(next);
    return pc;
  }

  // Compiles `node` to continue at `next`; returns its entry.
  compile(node: Node, next: i32): i32 {
    switch (node.kind) {
      case NodeKind.Empty: return next;
      case NodeKind.Bol: return this.emit(OP_BOL, 0, 0, next);
      case NodeKind.Eol: return this.emit(OP_EOL, 0, 0, next);
      case NodeKind.Bytes: {
        const b = node.bytes as Array<u8>;
        let t = next;
        for (let k = b.length - 1; k >= 0; k--) t = this.emit(OP_BYTE, b[k], b[k], t);
        return t;
      }
      case NodeKind.Class: return this.compileClass(node, next);
      case NodeKind.Concat: {
        let t = next;
        for (let i = node.subs.length - 1; i >= 0; i--) t = this.compile(node.subs[i], t);
        return t;
      }
      case NodeKind.Alt: {
        const k = node.subs.length;
        const entries = new Array<i32>(k);
        for (let i = 0; i < k; i++) entries[i] = this.compile(node.subs[i], next);
        let e = entries[k - 1];
        for (let i = k - 2; i >= 0; i--) e = this.emit(OP_SPLIT, entries[i], e, 0);
        return e;
      }
      case NodeKind.Repeat: return this.compileRepeat(node, next);
    }
    return next;
  }

  private compileRepeat(node: Node, next: i32): i32 {
    const x = node.subs[0];
    if (this.size(x) == 0) return next;   // matches only "": x* x{5} etc. are empty too
    let t = next;
    if (node.max < 0) {
      // x* = L: split(x -> L, next); x{m,} = x{m-1} then x+ (x -> L)
      const loop = this.emit(OP_SPLIT, -1, next, 0);
      const body = this.compile(x, loop);
      this.code[(loop << 2) + 1] = body;
      t = node.min == 0 ? loop : body;
      for (let j = 1; j < node.min; j++) t = this.compile(x, t);
      return t;
    }
    // x{m,n} = x^m (x(x(x)?)?)? : each optional copy may stop at `next`
    for (let j = node.min; j < node.max; j++) {
      const body = this.compile(x, t);
      t = this.emit(OP_SPLIT, body, next, 0);
    }
    for (let j = 0; j < node.min; j++) t = this.compile(x, t);
    return t;
  }

  // Splits a class into its ASCII part (mask) and non-ASCII part (UTF-8 sequences or
  // `wide`), once per class node.
  private plan(node: Node): void {
    if (node.seqs !== null) return;
    const s = node.set!;
    const seqs = new Array<i32>(0);
    const words = new StaticArray<u32>(4);
    let ranges = 0;
    for (let i = 0; i < s.count; i++) {
      const lo = s.lo(i), hi = s.hi(i);
      if (lo <= 0x7f) {
        const h = min(hi, 0x7f);
        ranges++;
        node.asciiLo = lo; node.asciiHi = h;
        for (let c = lo; c <= h; c++) words[c >> 5] |= 1 << (c & 31);
      }
    }
    node.asciiRanges = ranges;
    node.wide = s.coversAll(0x80, MAX_CP);
    if (!node.wide) {
      for (let i = 0; i < s.count; i++) {
        const hi = s.hi(i);
        if (hi >= 0x80) utf8Sequences(max(s.lo(i), 0x80), hi, seqs);
      }
    }
    if (ranges > 1 || node.wide) {
      node.maskAt = this.masks.length;
      for (let w = 0; w < 4; w++) this.masks.push(words[w]);
    }
    node.seqs = seqs;
  }

  private classSize(node: Node): i64 {
    this.plan(node);
    if (node.wide) return ANY_SIZE;
    const seqs = node.seqs!;
    let n: i64 = 0, alts = node.asciiRanges > 0 ? 1 : 0;
    if (alts > 0) n = 1;
    for (let i = 0; i < seqs.length; i += 1 + 2 * seqs[i]) { n += seqs[i]; alts++; }
    return alts == 0 ? 1 : n + alts - 1;
  }

  private compileClass(node: Node, next: i32): i32 {
    this.plan(node);
    if (node.wide) {
      const base = this.emit(OP_BYTE, 0x80, 0xbf, next);   // ANY_T1
      this.emit(OP_BYTE, 0x80, 0xbf, base);                // ANY_T2
      this.emit(OP_BYTE, 0x80, 0xbf, base + 1);            // ANY_T3
      this.emit(OP_BYTE, 0xa0, 0xbf, base);                // ANY_E0
      this.emit(OP_BYTE, 0x80, 0x9f, base);                // ANY_ED
      this.emit(OP_BYTE, 0x90, 0xbf, base + 1);            // ANY_F0
      this.emit(OP_BYTE, 0x80, 0x8f, base + 1);            // ANY_F4
      return this.emit(OP_ANY, node.asciiRanges > 0 ? node.maskAt : -1, base, next);
    }
    const entries = new Array<i32>(0);
    if (node.asciiRanges == 1) entries.push(this.emit(OP_BYTE, node.asciiLo, node.asciiHi, next));
    else if (node.asciiRanges > 1) entries.push(this.emit(OP_MASK, node.maskAt, 0, next));
    const seqs = node.seqs!;
    for (let i = 0; i < seqs.length; i += 1 + 2 * seqs[i]) {
      let t = next;
      for (let k = seqs[i] - 1; k >= 0; k--) t = this.emit(OP_BYTE, seqs[i + 1 + 2 * k], seqs[i + 2 + 2 * k], t);
      entries.push(t);
    }
    if (entries.length == 0) return this.emit(OP_FAIL, 0, 0, 0);
    let e = entries[entries.length - 1];
    for (let i = entries.length - 2; i >= 0; i--) e = this.emit(OP_SPLIT, entries[i], e, 0);
    return e;
  }

  // The whole program: MATCH at 0, the tree in front of it. Call after size() checked
  // the cap.
  program(root: Node, anchored: bool): Program {
    const match = this.emit(OP_MATCH, 0, 0, 0);
    const entry = this.compile(root, match);
    return this.finish(entry, anchored);
  }

  private finish(entry: i32, anchored: bool): Program {
    const code = new StaticArray<i32>(this.code.length);
    for (let i = 0; i < this.code.length; i++) code[i] = this.code[i];
    const masks = new StaticArray<u32>(max(this.masks.length, 1));
    for (let i = 0; i < this.masks.length; i++) masks[i] = this.masks[i];
    return new Program(code, masks, entry, anchored);
  }
}
