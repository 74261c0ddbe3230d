// RE2-syntax subset parser: pattern bytes (UTF-8) -> syntax tree. Configure time only;
// the tree is dropped after compilation. Recursive descent, so group nesting is capped:
// each level costs ~110 bytes of AssemblyScript's 32 KB shadow stack (incremental GC),
// which overflows (an abort) near 300 levels; 100 keeps the core's callers room.
import { CodeSet, shorthand } from "./charclass";
import { decodeAt, decodedLen, encodeTo } from "./utf8";
import { E_RE_ANCHORS, E_RE_BACKREF, E_RE_CLASS_RANGE, E_RE_DEPTH, E_RE_ESCAPE, E_RE_GROUP_NAME, E_RE_GROUP_SYNTAX, E_RE_INLINE_FLAGS, E_RE_LOOKAROUND, E_RE_MISSING_BRACKET, E_RE_MISSING_CLOSE, E_RE_NOTHING_TO_REPEAT, E_RE_POSIX_CLASS, E_RE_REPEAT_COUNT, E_RE_REPEAT_RANGE, E_RE_REPEAT_REPEAT, E_RE_TRAILING_BACKSLASH, E_RE_UNEXPECTED_CLOSE, E_RE_UNICODE_CLASS, E_RE_UTF8, E_RE_WORD_BOUNDARY, E_RE_X_ESCAPE } from "./errors";
import { Rule, ruleText } from "../text/rule-bytes";

export const MAX_REPEAT: i32 = 1000;   // RE2's limit for {m,n}
const MAX_DEPTH: i32 = 100;             // group nesting (RE2 allows 1000; see above)

export const enum NodeKind { Empty = 0, Bytes = 1, Class = 2, Concat = 3, Alt = 4, Repeat = 5, Bol = 6, Eol = 7 }

export class Node {
  bytes: Array<u8> | null = null;   // Bytes: one code point's UTF-8 encoding
  set: CodeSet | null = null;       // Class: the code points it matches
  subs: Array<Node> = new Array<Node>(0);
  min: i32 = 0;                     // Repeat bounds; max -1 = unbounded
  max: i32 = 0;
  // Compiler cache for a Class, shared by the copies {m,n} makes: its ASCII mask, its
  // non-ASCII part as UTF-8 byte-range sequences, or `wide` when that part is every
  // code point >= U+0080 (one ANY instruction instead of ~10 sequences).
  maskAt: i32 = -1;
  seqs: Array<i32> | null = null;
  wide: bool = false;
  asciiRanges: i32 = 0;
  asciiLo: i32 = 0;
  asciiHi: i32 = 0;
  constructor(public kind: NodeKind) {}
}

// @ts-ignore: decorator
@inline function isDigit(c: i32): bool { return c >= 0x30 && c <= 0x39; }
// @ts-ignore: decorator
@inline function isPunct(c: i32): bool {
  return (c >= 0x21 && c <= 0x2f) || (c >= 0x3a && c <= 0x40) || (c >= 0x5b && c <= 0x60) || (c >= 0x7b && c <= 0x7e);
}
function hexVal(c: i32): i32 {
  if (isDigit(c)) return c - 0x30;
  const l = c | 0x20;
  return l >= 0x61 && l <= 0x66 ? l - 0x61 + 10 : -1;
}

export class Parser {
  i: i32 = 0;
  depth: i32 = 0;
  error: string = "";
  errorAt: i32 = -1;
  // bounds of the last {m,n} that readRepeat() accepted
  rmin: i32 = 0;
  rmax: i32 = 0;

  constructor(public p: StaticArray<u8>, public n: i32, public fold: bool) {}

  parse(): Node | null {
    const root = this.alt();
    if (root === null) return null;
    if (this.i < this.n) return this.failRule(E_RE_UNEXPECTED_CLOSE, this.i);
    return root;
  }

  private fail(msg: string, at: i32): Node | null {
    if (this.errorAt < 0) { this.error = msg; this.errorAt = at; }
    return null;
  }

  private failRule(rule: Rule, at: i32): Node | null {
    if (this.errorAt < 0) this.fail(ruleText(rule), at);
    return null;
  }

  // @ts-ignore: decorator
  @inline private at(k: i32): i32 { return this.i + k < this.n ? <i32>this.p[this.i + k] : -1; }

  private alt(): Node | null {
    const first = this.concat();
    if (first === null || this.at(0) != 0x7c) return first;
    const node = new Node(NodeKind.Alt);
    node.subs.push(first);
    while (this.at(0) == 0x7c) {
      this.i++;
      const b = this.concat();
      if (b === null) return null;
      node.subs.push(b);
    }
    return node;
  }

  private concat(): Node | null {
    const node = new Node(NodeKind.Concat);
    while (this.i < this.n) {
      const c = this.at(0);
      if (c == 0x7c || c == 0x29) break;
      if (c == 0x2a || c == 0x2b || c == 0x3f || (c == 0x7b && this.readRepeat(false) > 0)) {
        return this.failRule(E_RE_NOTHING_TO_REPEAT, this.i);
      }
      let atom = this.atom();
      if (atom === null) return null;
      atom = this.quantify(atom);
      if (atom === null) return null;
      node.subs.push(atom);
    }
    if (node.subs.length == 1) return node.subs[0];
    if (node.subs.length == 0) return new Node(NodeKind.Empty);
    return node;
  }

  // Reads {m}, {m,} or {m,n} at i. Returns 1 (and advances when `consume`) if it is a
  // valid repetition, 0 if it is not one (RE2 then takes '{' literally), -1 on a
  // range error (recorded).
  private readRepeat(consume: bool): i32 {
    let j = this.i + 1;
    const s = j;
    let m = 0;
    while (j < this.n && isDigit(this.p[j])) { if (m <= 100000) m = m * 10 + (this.p[j] - 0x30); j++; }
    if (j == s) return 0;
    let x = m;
    if (j < this.n && this.p[j] == 0x2c) {
      j++;
      const s2 = j;
      x = 0;
      while (j < this.n && isDigit(this.p[j])) { if (x <= 100000) x = x * 10 + (this.p[j] - 0x30); j++; }
      if (j == s2) x = -1;
    }
    if (j >= this.n || this.p[j] != 0x7d) return 0;
    if (!consume) return 1;
    if (m > MAX_REPEAT || x > MAX_REPEAT) { this.failRule(E_RE_REPEAT_COUNT, this.i); return -1; }
    if (x >= 0 && x < m) { this.failRule(E_RE_REPEAT_RANGE, this.i); return -1; }
    this.rmin = m; this.rmax = x;
    this.i = j + 1;
    return 1;
  }

  private quantify(atom: Node): Node | null {
    const c = this.at(0);
    let min = 0, max = 0;
    if (c == 0x2a) { min = 0; max = -1; this.i++; }
    else if (c == 0x2b) { min = 1; max = -1; this.i++; }
    else if (c == 0x3f) { min = 0; max = 1; this.i++; }
    else if (c == 0x7b) {
      const r = this.readRepeat(true);
      if (r < 0) return null;
      if (r == 0) return atom;
      min = this.rmin; max = this.rmax;
    } else return atom;
    // Lazy forms: for a yes/no answer lazy and greedy are the same automaton.
    if (this.at(0) == 0x3f) this.i++;
    const d = this.at(0);
    if (d == 0x2a || d == 0x2b || d == 0x3f || (d == 0x7b && this.readRepeat(false) > 0)) {
      return this.failRule(E_RE_REPEAT_REPEAT, this.i);
    }
    const r = new Node(NodeKind.Repeat);
    r.subs.push(atom);
    r.min = min; r.max = max;
    return r;
  }

  private atom(): Node | null {
    const c = this.at(0);
    if (c == 0x28) return this.group();
    if (c == 0x5b) return this.cls();
    if (c == 0x2e) { this.i++; return this.classNode(new CodeSet().add(0x0a, 0x0a).negate()); }
    if (c == 0x5e) { this.i++; return new Node(NodeKind.Bol); }
    if (c == 0x24) { this.i++; return new Node(NodeKind.Eol); }
    if (c == 0x5c) {
      const e = this.at(1);
      if (e >= 0 && shorthand(e) !== null) { this.i += 2; return this.classNode(shorthand(e) as CodeSet); }
      const cp = this.escape();
      if (cp < 0) return null;
      return this.literal(cp);
    }
    const cp = decodeAt(this.p, this.i, this.n);
    if (cp < 0) return this.failRule(E_RE_UTF8, this.i);
    this.i += decodedLen;
    return this.literal(cp);
  }

  private literal(cp: i32): Node {
    const lc = cp | 0x20;
    if (this.fold && lc >= 0x61 && lc <= 0x7a) return this.classNode(new CodeSet().add(cp, cp));
    const node = new Node(NodeKind.Bytes);
    const b = new Array<u8>(0);
    encodeTo(cp, b);
    node.bytes = b;
    return node;
  }

  private classNode(s: CodeSet): Node {
    if (this.fold) s.foldAscii(); else s.normalize();
    const node = new Node(NodeKind.Class);
    node.set = s;
    return node;
  }

  private group(): Node | null {
    const at = this.i;
    this.i++;
    if (this.at(0) == 0x3f) {
      const a = this.at(1), b = this.at(2);
      if (a == 0x3a) this.i += 2;                                              // (?:
      else if (a == 0x3d || a == 0x21 || (a == 0x3c && (b == 0x3d || b == 0x21))) {
        return this.failRule(E_RE_LOOKAROUND, at);
      } else if (a == 0x50 && b == 0x3d) return this.failRule(E_RE_BACKREF, at);  // (?P=name)
      else if (a == 0x3c || (a == 0x50 && b == 0x3c)) {                         // (?<name> (?P<name>
        this.i += a == 0x3c ? 2 : 3;
        const s = this.i;
        while (this.i < this.n) {
          const c = <i32>this.p[this.i];
          if (!(isDigit(c) || c == 0x5f || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a))) break;
          this.i++;
        }
        if (this.i == s || this.at(0) != 0x3e) return this.failRule(E_RE_GROUP_NAME, at);
        this.i++;
      } else if (a == 0x69 || a == 0x6d || a == 0x73 || a == 0x55 || a == 0x2d) {
        return this.failRule(E_RE_INLINE_FLAGS, at);
      } else return this.failRule(E_RE_GROUP_SYNTAX, at);
    }
    if (this.depth >= MAX_DEPTH) return this.failRule(E_RE_DEPTH, at);
    this.depth++;
    const inner = this.alt();
    this.depth--;
    if (inner === null) return null;
    if (this.at(0) != 0x29) return this.failRule(E_RE_MISSING_CLOSE, at);
    this.i++;
    return inner;
  }

  // At a backslash; consumes the escape and returns its code point, or -1 (recorded).
  // Shorthand classes are handled by the callers.
  private escape(): i32 {
    const at = this.i;
    const c = this.at(1);
    if (c < 0) { this.failRule(E_RE_TRAILING_BACKSLASH, at); return -1; }
    this.i += 2;
    if ((c >= 0x31 && c <= 0x39) || c == 0x6b) { this.failRule(E_RE_BACKREF, at); return -1; }
    if (c == 0x74) return 0x09;
    if (c == 0x6e) return 0x0a;
    if (c == 0x72) return 0x0d;
    if (c == 0x66) return 0x0c;
    if (c == 0x76) return 0x0b;
    if (c == 0x78) return this.hexEscape(at);
    if (isPunct(c)) return c;
    if (c == 0x62 || c == 0x42) { this.failRule(E_RE_WORD_BOUNDARY, at); return -1; }
    if (c == 0x41 || c == 0x7a || c == 0x5a) { this.failRule(E_RE_ANCHORS, at); return -1; }
    if (c == 0x70 || c == 0x50) { this.failRule(E_RE_UNICODE_CLASS, at); return -1; }
    if (c < 0x80) this.fail("unsupported escape \\" + String.fromCharCode(c), at);
    else this.failRule(E_RE_ESCAPE, at);
    return -1;
  }

  // \xHH or \x{H...}: a code point, encoded as UTF-8 like any literal (as in RE2).
  private hexEscape(at: i32): i32 {
    let v = 0;
    if (this.at(0) == 0x7b) {
      this.i++;
      let digits = 0;
      while (this.i < this.n && hexVal(this.p[this.i]) >= 0 && digits < 7) { v = (v << 4) | hexVal(this.p[this.i]); this.i++; digits++; }
      if (digits == 0 || this.at(0) != 0x7d || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) { this.failRule(E_RE_X_ESCAPE, at); return -1; }
      this.i++;
      return v;
    }
    const h = hexVal(this.at(0)), l = hexVal(this.at(1));
    if (h < 0 || l < 0) { this.failRule(E_RE_X_ESCAPE, at); return -1; }
    this.i += 2;
    return (h << 4) | l;
  }

  // [...] with RE2's rules: ']' first is literal, '-' first or last is literal.
  private cls(): Node | null {
    const at = this.i;
    this.i++;
    let negated = false;
    if (this.at(0) == 0x5e) { negated = true; this.i++; }
    const s = new CodeSet();
    let first = true;
    while (true) {
      if (this.i >= this.n) return this.failRule(E_RE_MISSING_BRACKET, at);
      const c = this.at(0);
      if (c == 0x5d && !first) { this.i++; break; }
      if (c == 0x5b && this.at(1) == 0x3a) return this.failRule(E_RE_POSIX_CLASS, this.i);
      first = false;
      const itemAt = this.i;
      const lo = this.classAtom(s);
      if (lo == -1) return null;
      const isRange = this.at(0) == 0x2d && this.at(1) >= 0 && this.at(1) != 0x5d;
      if (lo == -2) {
        if (isRange) return this.failRule(E_RE_CLASS_RANGE, itemAt);
        continue;
      }
      if (!isRange) { s.add(lo, lo); continue; }
      this.i++;
      const hi = this.classAtom(s);
      if (hi == -1) return null;
      if (hi == -2 || hi < lo) return this.failRule(E_RE_CLASS_RANGE, itemAt);
      s.add(lo, hi);
    }
    if (this.fold) s.foldAscii();
    if (negated) s.negate();
    s.normalize();
    const node = new Node(NodeKind.Class);
    node.set = s;
    return node;
  }

  // One class member: returns its code point, -2 after adding a shorthand class to s,
  // -1 on error.
  private classAtom(s: CodeSet): i32 {
    if (this.at(0) == 0x5c) {
      const e = this.at(1);
      if (e >= 0) {
        const sh = shorthand(e);
        if (sh !== null) { s.addSet(sh); this.i += 2; return -2; }
      }
      return this.escape();
    }
    const cp = decodeAt(this.p, this.i, this.n);
    if (cp < 0) { this.failRule(E_RE_UTF8, this.i); return -1; }
    this.i += decodedLen;
    return cp;
  }
}

// True when every match must start at offset 0 (each branch begins with ^), so a
// search can stop after the first position.
export function startAnchored(node: Node): bool {
  switch (node.kind) {
    case NodeKind.Bol: return true;
    case NodeKind.Concat: {
      for (let i = 0; i < node.subs.length; i++) {
        const s = node.subs[i];
        if (s.kind == NodeKind.Empty) continue;
        return startAnchored(s);
      }
      return false;
    }
    case NodeKind.Alt: {
      for (let i = 0; i < node.subs.length; i++) if (!startAnchored(node.subs[i])) return false;
      return true;
    }
    case NodeKind.Repeat: return node.min >= 1 && startAnchored(node.subs[0]);
  }
  return false;
}
