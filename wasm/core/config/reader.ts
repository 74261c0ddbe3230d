// Typed, path-tracking access to a parsed JSON config. The first error wins and names
// the field path, the rule and the bad value; later checks become no-ops, so a
// validator reads as straight-line code without early returns everywhere.
import { JType, JValue } from "../json/json";
import { E_ARRAY, E_BOOLEAN, E_FINITE, E_INTEGER, E_NUMBER, E_OBJECT, E_REQUIRED, E_STRING, E_UNKNOWN_FIELD, Rule, ruleText } from "./errors";

const MAX_RENDER = 64;

export class Reader {
  error: string = "";

  get failed(): bool { return this.error.length != 0; }

  fail(path: string, rule: string, v: JValue | null): void {
    if (this.error.length != 0) return;
    this.error = v === null ? path + ": " + rule : path + ": " + rule + ", got " + render(v);
  }

  // `rule` is one of the texts of errors.ts, decoded from UTF-8 only when it is reported.
  failRule(path: string, rule: Rule, v: JValue | null): void {
    if (this.error.length == 0) this.fail(path, ruleText(rule), v);
  }

  failText(path: string, text: string): void {
    if (this.error.length == 0) this.error = path + ": " + text;
  }

  // Rejects keys not in `allowed`. Kong adds bookkeeping keys that start with "__";
  // adapters strip them before the core sees the config.
  object(v: JValue | null, path: string, allowed: StaticArray<string>): bool {
    if (v === null || v.type != JType.Obj) { this.failRule(path, E_OBJECT, v); return false; }
    for (let i = 0; i < v.keys.length; i++) {
      const k = v.keys[i];
      let known = false;
      for (let j = 0; j < allowed.length; j++) if (allowed[j] == k) { known = true; break; }
      if (!known) {
        this.failText(join(path, k), ruleText(E_UNKNOWN_FIELD) + " (allowed: " + allowed.join(", ") + ")");
        return false;
      }
    }
    return true;
  }

  // A field explicitly set to null counts as absent: Kong stores every schema field
  // and fills the unset ones with null.
  // Kong also fills an unset record with a record of nulls: that counts as absent too.
  field(obj: JValue, key: string): JValue | null {
    const v = obj.get(key);
    if (v === null || v.type == JType.Null) return null;
    if (v.type == JType.Obj && v.keys.length > 0) {
      for (let i = 0; i < v.vals.length; i++) if (v.vals[i].type != JType.Null) return v;
      return null;
    }
    return v;
  }

  str(obj: JValue, key: string, path: string, def: string | null): string | null {
    const v = this.field(obj, key);
    if (v === null) {
      if (def === null) this.failRule(join(path, key), E_REQUIRED, null);
      return def;
    }
    if (v.type != JType.Str) { this.failRule(join(path, key), E_STRING, v); return def; }
    return v.s;
  }

  num(obj: JValue, key: string, path: string, def: f64, required: bool): f64 {
    const v = this.field(obj, key);
    if (v === null) {
      if (required) this.failRule(join(path, key), E_REQUIRED, null);
      return def;
    }
    if (v.type != JType.Num) { this.failRule(join(path, key), E_NUMBER, v); return def; }
    // 1e400 reads as Infinity: no field takes it (an integer field says E_INTEGER).
    if (!isFinite(v.n)) { this.failRule(join(path, key), E_FINITE, v); return def; }
    return v.n;
  }

  int(obj: JValue, key: string, path: string, def: i64, min: i64, max: i64): i64 {
    const v = this.field(obj, key);
    if (v === null) return def;
    if (v.type != JType.Num || v.n != Math.floor(v.n) || !isFinite(v.n)) { this.failRule(join(path, key), E_INTEGER, v); return def; }
    if (v.n < <f64>min || v.n > <f64>max) {
      this.fail(join(path, key), "must be between " + min.toString() + " and " + max.toString(), v);
      return def;
    }
    return <i64>v.n;
  }

  bool(obj: JValue, key: string, path: string, def: bool): bool {
    const v = this.field(obj, key);
    if (v === null) return def;
    if (v.type != JType.Bool) { this.failRule(join(path, key), E_BOOLEAN, v); return def; }
    return v.b;
  }

  arr(obj: JValue, key: string, path: string, required: bool): JValue | null {
    const v = this.field(obj, key);
    if (v === null) {
      if (required) this.failRule(join(path, key), E_REQUIRED, null);
      return null;
    }
    if (v.type != JType.Arr) { this.failRule(join(path, key), E_ARRAY, v); return null; }
    return v;
  }

  obj(obj: JValue, key: string, path: string, allowed: StaticArray<string>): JValue | null {
    const v = this.field(obj, key);
    if (v === null) return null;
    return this.object(v, join(path, key), allowed) ? v : null;
  }
}

// `rest` of a path (a.b[1].c, or [0].x) under `path`.
export function under(path: string, rest: string): string {
  return rest.length == 0 ? path : rest.charCodeAt(0) == 0x5b ? path + rest : join(path, rest);
}

// A key as the user wrote it, except that a key holding a control character (a newline, a
// CR, a tab...) is written quoted and escaped, `path["a\u000ab"]`: an error stays one line
// (a log entry, the CLI's one line on stderr) whatever key text a config carries. Found by
// `FUZZ_RUNS=20000 npm run fuzz` (an unknown field named "\n" in a circuit breaker).
export function join(path: string, key: string): string {
  for (let i = 0; i < key.length; i++) {
    if (key.charCodeAt(i) < 0x20) return path + "[" + quote(key) + "]";
  }
  return path.length == 0 ? key : path + "." + key;
}

export function at(path: string, i: i32): string {
  return path + "[" + i.toString() + "]";
}

// Renders a bad value the way it appeared in the config, shortened.
export function render(v: JValue): string {
  switch (v.type) {
    case JType.Null: return "null";
    case JType.Bool: return v.b ? "true" : "false";
    case JType.Num: return v.s;
    case JType.Str: return quote(v.s);
    case JType.Arr: return "an array";
    default: return "an object";
  }
}

export function quote(s: string): string {
  let out = "\"";
  const n = min(s.length, MAX_RENDER);
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c == 0x22) out += "\\\"";
    else if (c == 0x5c) out += "\\\\";
    else if (c < 0x20) out += "\\u" + (<u32>c).toString(16).padStart(4, "0");
    else out += String.fromCharCode(c);
  }
  if (s.length > MAX_RENDER) out += "...";
  return out + "\"";
}

// Basis points as percent text: 9050 -> "90.5", 10000 -> "100", 5 -> "0.05".
export function formatBp(bp: i32): string {
  const sign = bp < 0 ? "-" : "";
  if (bp < 0) bp = -bp;
  const whole = bp / 100;
  const frac = bp % 100;
  if (frac == 0) return sign + whole.toString();
  if (frac % 10 == 0) return sign + whole.toString() + "." + (frac / 10).toString();
  return sign + whole.toString() + "." + (frac < 10 ? "0" : "") + frac.toString();
}

// A name of a policy, experiment or variant: 1-64 of [A-Za-z0-9._-].
export function isName(s: string): bool {
  if (s.length == 0 || s.length > 64) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const ok = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c == 0x2e || c == 0x5f || c == 0x2d;
    if (!ok) return false;
  }
  return true;
}
