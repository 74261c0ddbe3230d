import { E_JSON_ARRAY_NEXT, E_JSON_COLON, E_JSON_CONTROL, E_JSON_END, E_JSON_ESCAPE, E_JSON_KEY, E_JSON_NUMBER, E_JSON_OBJECT_NEXT, E_JSON_TRAILING, E_JSON_UNTERMINATED, E_JSON_U_ESCAPE } from "./errors";
import { Rule, ruleText } from "../text/rule-bytes";
// A strict JSON parser (RFC 8259) for configuration, run at configure time only.
// Why our own: a filter that aborts on bad input calls proc_exit, which kills the
// Envoy VM; this parser never aborts, it reports the byte position of the first error.
// Depth is capped so hostile configs cannot exhaust the wasm stack; a value nested
// deeper is reported with its field path (JsonResult.deepPath), which each entry point
// maps to the policy's field names (wasm/core/policy.ts).

export const enum JType { Null = 0, Bool = 1, Num = 2, Str = 3, Arr = 4, Obj = 5 }

export const MAX_DEPTH = 32;

export class JValue {
  type: JType = JType.Null;
  b: bool = false;
  n: f64 = 0;
  s: string = "";
  items: Array<JValue> = new Array<JValue>(0);   // Arr items
  keys: Array<string> = new Array<string>(0);    // Obj keys, in document order
  vals: Array<JValue> = new Array<JValue>(0);    // Obj values, parallel to keys

  get(key: string): JValue | null {
    for (let i = 0; i < this.keys.length; i++) {
      if (this.keys[i] == key) return this.vals[i];
    }
    return null;
  }
}

export class JsonResult {
  value: JValue | null = null;
  error: string = "";
  tooDeep: bool = false;     // the error is a value nested deeper than the limit
  deepPath: string = "";     // its path from the document: a.b[2].c ("" = the document)
}

class Parser {
  pos: i32 = 0;
  error: string = "";
  tooDeep: bool = false;
  // The keys and [indices] leading to the value being parsed (at most maxDepth of them).
  segs: Array<string> = new Array<string>(0);
  // policyDoc: a whole TrafficPolicy, whose spec sections are the gateways' configs:
  // their depth counts as in the config a gateway gets (sectionDepth), so a policy
  // nests exactly as deep as the gateways take.
  constructor(public src: string, public maxDepth: i32, public policyDoc: bool) {}

  path(): string {
    let out = "";
    for (let i = 0; i < this.segs.length; i++) {
      const s = this.segs[i];
      out += i == 0 || s.charCodeAt(0) == 0x5b ? s : "." + s;
    }
    return out;
  }

  fail(msg: string): JValue | null {
    if (this.error.length == 0) this.error = "invalid JSON at offset " + this.pos.toString() + ": " + msg;
    return null;
  }

  failRule(rule: Rule): JValue | null {
    if (this.error.length == 0) this.fail(ruleText(rule));
    return null;
  }

  ws(): void {
    const s = this.src;
    while (this.pos < s.length) {
      const c = s.charCodeAt(this.pos);
      if (c == 0x20 || c == 0x09 || c == 0x0a || c == 0x0d) this.pos++;
      else break;
    }
  }

  value(depth: i32): JValue | null {
    if (depth > this.maxDepth) {
      if (this.error.length == 0) this.tooDeep = true;
      return this.fail("nesting deeper than " + this.maxDepth.toString());
    }
    this.ws();
    if (this.pos >= this.src.length) return this.failRule(E_JSON_END);
    const c = this.src.charCodeAt(this.pos);
    if (c == 0x7b) return this.object(depth);
    if (c == 0x5b) return this.array(depth);
    if (c == 0x22) {
      const s = this.string();
      if (s === null) return null;
      const v = new JValue();
      v.type = JType.Str;
      v.s = s;
      return v;
    }
    if (c == 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
    if (this.src.startsWith("true", this.pos)) { this.pos += 4; const v = new JValue(); v.type = JType.Bool; v.b = true; return v; }
    if (this.src.startsWith("false", this.pos)) { this.pos += 5; const v = new JValue(); v.type = JType.Bool; return v; }
    if (this.src.startsWith("null", this.pos)) { this.pos += 4; return new JValue(); }
    return this.fail("unexpected character '" + String.fromCharCode(c) + "'");
  }

  object(depth: i32): JValue | null {
    const v = new JValue();
    v.type = JType.Obj;
    this.pos++; // {
    this.ws();
    if (this.pos < this.src.length && this.src.charCodeAt(this.pos) == 0x7d) { this.pos++; return v; }
    while (true) {
      this.ws();
      if (this.pos >= this.src.length || this.src.charCodeAt(this.pos) != 0x22) return this.failRule(E_JSON_KEY);
      const k = this.string();
      if (k === null) return null;
      if (v.get(k) !== null) return this.fail("duplicate key \"" + k + "\"");
      this.ws();
      if (this.pos >= this.src.length || this.src.charCodeAt(this.pos) != 0x3a) return this.failRule(E_JSON_COLON);
      this.pos++;
      const d = this.policyDoc && depth == 1 && this.segs.length == 1 && this.segs[0] == "spec" ? sectionDepth(k) : depth + 1;
      this.segs.push(k);
      const item = this.value(d);
      if (item === null) return null;
      this.segs.pop();
      v.keys.push(k);
      v.vals.push(item);
      this.ws();
      if (this.pos >= this.src.length) return this.failRule(E_JSON_END);
      const c = this.src.charCodeAt(this.pos);
      this.pos++;
      if (c == 0x2c) continue;
      if (c == 0x7d) return v;
      this.pos--;
      return this.failRule(E_JSON_OBJECT_NEXT);
    }
  }

  array(depth: i32): JValue | null {
    const v = new JValue();
    v.type = JType.Arr;
    this.pos++; // [
    this.ws();
    if (this.pos < this.src.length && this.src.charCodeAt(this.pos) == 0x5d) { this.pos++; return v; }
    while (true) {
      this.segs.push("[" + v.items.length.toString() + "]");
      const item = this.value(depth + 1);
      if (item === null) return null;
      this.segs.pop();
      v.items.push(item);
      this.ws();
      if (this.pos >= this.src.length) return this.failRule(E_JSON_END);
      const c = this.src.charCodeAt(this.pos);
      this.pos++;
      if (c == 0x2c) continue;
      if (c == 0x5d) return v;
      this.pos--;
      return this.failRule(E_JSON_ARRAY_NEXT);
    }
  }

  number(): JValue | null {
    const s = this.src;
    const start = this.pos;
    if (s.charCodeAt(this.pos) == 0x2d) this.pos++;
    if (this.pos >= s.length) return this.failRule(E_JSON_NUMBER);
    let c = s.charCodeAt(this.pos);
    if (c == 0x30) this.pos++;
    else if (c >= 0x31 && c <= 0x39) { while (this.pos < s.length && isDigit(s.charCodeAt(this.pos))) this.pos++; }
    else return this.failRule(E_JSON_NUMBER);
    if (this.pos < s.length && s.charCodeAt(this.pos) == 0x2e) {
      this.pos++;
      if (this.pos >= s.length || !isDigit(s.charCodeAt(this.pos))) return this.failRule(E_JSON_NUMBER);
      while (this.pos < s.length && isDigit(s.charCodeAt(this.pos))) this.pos++;
    }
    if (this.pos < s.length && (s.charCodeAt(this.pos) | 0x20) == 0x65) {
      this.pos++;
      if (this.pos < s.length && (s.charCodeAt(this.pos) == 0x2b || s.charCodeAt(this.pos) == 0x2d)) this.pos++;
      if (this.pos >= s.length || !isDigit(s.charCodeAt(this.pos))) return this.failRule(E_JSON_NUMBER);
      while (this.pos < s.length && isDigit(s.charCodeAt(this.pos))) this.pos++;
    }
    const v = new JValue();
    v.type = JType.Num;
    v.n = decimal(s, start, this.pos);
    v.s = s.substring(start, this.pos);
    return v;
  }

  // The string at pos (its opening quote). Escapes are decoded into one buffer, sized
  // by a scan to the closing quote: linear in time and garbage (concatenating per
  // escape left O(n^2) bytes of garbage for a body of quotes, which the Node core's
  // collector, run only between calls, cannot reclaim mid-parse: api.ts).
  string(): string | null {
    const s = this.src;
    this.pos++; // opening quote
    let buf: StaticArray<u16> | null = null;
    let o = 0;
    let runStart = this.pos;
    while (true) {
      if (this.pos >= s.length) { this.failRule(E_JSON_UNTERMINATED); return null; }
      const c = s.charCodeAt(this.pos);
      if (c == 0x22) {
        if (buf === null) { const r = s.substring(runStart, this.pos); this.pos++; return r; }
        o = copyRun(buf as StaticArray<u16>, o, s, runStart, this.pos);
        this.pos++;
        return String.UTF16.decodeUnsafe(changetype<usize>(buf), <usize>o << 1);
      }
      if (c < 0x20) { this.failRule(E_JSON_CONTROL); return null; }
      if (c == 0x5c) {
        if (buf === null) buf = new StaticArray<u16>(this.pos - runStart + rawExtent(s, this.pos));
        const b = buf as StaticArray<u16>;
        o = copyRun(b, o, s, runStart, this.pos);
        this.pos++;
        if (this.pos >= s.length) { this.failRule(E_JSON_UNTERMINATED); return null; }
        const e = s.charCodeAt(this.pos);
        this.pos++;
        let u: i32 = -1;
        if (e == 0x22) u = 0x22;
        else if (e == 0x5c) u = 0x5c;
        else if (e == 0x2f) u = 0x2f;
        else if (e == 0x62) u = 0x08;
        else if (e == 0x66) u = 0x0c;
        else if (e == 0x6e) u = 0x0a;
        else if (e == 0x72) u = 0x0d;
        else if (e == 0x74) u = 0x09;
        else if (e == 0x75) {
          if (this.pos + 4 > s.length) { this.failRule(E_JSON_U_ESCAPE); return null; }
          let code = 0;
          for (let i = 0; i < 4; i++) {
            const h = hexVal(s.charCodeAt(this.pos + i));
            if (h < 0) { this.failRule(E_JSON_U_ESCAPE); return null; }
            code = (code << 4) | h;
          }
          this.pos += 4;
          u = code;
        } else { this.pos--; this.failRule(E_JSON_ESCAPE); return null; }
        unchecked(b[o++] = <u16>u);
        runStart = this.pos;
        continue;
      }
      this.pos++;
    }
  }
}

// The depth of spec.<key> in the config the gateways get (cli/render.ts): the
// experiment and circuitBreaker sections are a plugin's whole config; experiments and
// fallback a field of one (the experiment's, the circuit breaker's).
function sectionDepth(key: string): i32 {
  if (key == "experiment" || key == "circuitBreaker") return 0;
  if (key == "experiments" || key == "fallback") return 1;
  return 2;
}

// UTF-16 units from `from` (inside a string literal) to its closing quote or the end:
// at least the decoded length of the rest (an escape decodes to one unit, never more).
function rawExtent(s: string, from: i32): i32 {
  let i = from;
  const n = s.length;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (c == 0x22) break;
    i += c == 0x5c ? 2 : 1;
  }
  return min(i, n) - from;
}

function copyRun(buf: StaticArray<u16>, o: i32, s: string, from: i32, to: i32): i32 {
  const n = to - from;
  if (n > 0) memory.copy(changetype<usize>(buf) + (<usize>o << 1), changetype<usize>(s) + (<usize>from << 1), <usize>n << 1);
  return o + n;
}

// @ts-ignore: decorator
@inline function isDigit(c: i32): bool { return c >= 0x30 && c <= 0x39; }

function hexVal(c: i32): i32 {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10;
  return -1;
}

// The value of a JSON number already checked by the grammar. Up to 17 significant
// digits are exact integers in f64; the power of ten is applied by one multiply or
// divide. Within 1 ulp of strtod, which is all configuration needs (weights are
// rounded to basis points, durations and counts are integers), and it spares the
// module AssemblyScript's strtod (~3 KB).
function decimal(s: string, start: i32, end: i32): f64 {
  let i = start;
  const neg = s.charCodeAt(i) == 0x2d;
  if (neg) i++;
  let mant: f64 = 0;
  let digits = 0;
  let exp = 0;
  for (; i < end && isDigit(s.charCodeAt(i)); i++) {
    if (digits < 17) { mant = mant * 10 + <f64>(s.charCodeAt(i) - 0x30); if (mant != 0) digits++; }
    else exp++;
  }
  if (i < end && s.charCodeAt(i) == 0x2e) {
    for (i++; i < end && isDigit(s.charCodeAt(i)); i++) {
      if (digits < 17) { mant = mant * 10 + <f64>(s.charCodeAt(i) - 0x30); if (mant != 0) digits++; exp--; }
    }
  }
  if (i < end) {   // e / E
    i++;
    let eneg = false;
    if (s.charCodeAt(i) == 0x2b) i++;
    else if (s.charCodeAt(i) == 0x2d) { eneg = true; i++; }
    let e = 0;
    for (; i < end; i++) if (e < 100000) e = e * 10 + (s.charCodeAt(i) - 0x30);
    exp += eneg ? -e : e;
  }
  let v = mant;
  if (exp > 0) v = exp > 400 ? (mant == 0 ? 0 : Infinity) : mant * Math.pow(10, <f64>exp);
  else if (exp < 0) v = exp < -600 ? 0 : exp < -300 ? mant / 1e300 / Math.pow(10, <f64>(-exp - 300)) : mant / Math.pow(10, <f64>-exp);
  return neg ? -v : v;
}

export function parseJson(src: string, policyDoc: bool = false): JsonResult {
  const p = new Parser(src, MAX_DEPTH, policyDoc);
  const r = new JsonResult();
  const v = p.value(0);
  if (v !== null) {
    p.ws();
    if (p.pos < src.length) p.failRule(E_JSON_TRAILING);
    else r.value = v;
  }
  if (r.value === null) {
    r.error = p.error;
    r.tooDeep = p.tooDeep;
    if (p.tooDeep) r.deepPath = p.path();
  }
  return r;
}
