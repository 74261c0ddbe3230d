// JSON text out of the core: string literals (one escaper for every description the
// core writes) and whole parsed values, written back in document order (the plan's
// per-part configs, ../plan.ts). Configure time only.
import { JType, JValue } from "./json";

// A JSON string literal of any text (unlike config/reader quote(), never shortened).
// Linear with two allocations: the escaped UTF-16 units are sized, written into one
// buffer and decoded once (bodies reach 64 KiB; many small strings would be quadratic
// under the incremental GC).
export function jsonText(s: string): string {
  const n = s.length;
  let size = n + 2;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c == 0x22 || c == 0x5c) size += 1;
    else if (c < 0x20 || c == 0x7f) size += 5;
  }
  const buf = new StaticArray<u16>(size);
  const hex = "0123456789abcdef";
  let o = 0;
  buf[o++] = 0x22;
  for (let i = 0; i < n; i++) {
    const c = <u16>s.charCodeAt(i);
    if (c == 0x22 || c == 0x5c) { buf[o++] = 0x5c; buf[o++] = c; }
    else if (c < 0x20 || c == 0x7f) {
      buf[o++] = 0x5c; buf[o++] = 0x75; buf[o++] = 0x30; buf[o++] = 0x30;
      buf[o++] = <u16>hex.charCodeAt(c >> 4); buf[o++] = <u16>hex.charCodeAt(c & 15);
    } else buf[o++] = c;
  }
  buf[o++] = 0x22;
  return String.UTF16.decodeUnsafe(changetype<usize>(buf), <usize>size << 1);
}

// A number as JSON.stringify writes it for the integers configs hold (AssemblyScript's
// f64 toString would write 100 as "100.0").
export function jsonNumber(n: f64): string {
  if (n == Math.floor(n) && Math.abs(n) <= 9007199254740991) return (<i64>n).toString();
  return n.toString();
}

// A parsed value as JSON text. kong: Kong's schema types array elements, so the
// numeric statuses of a `failure` object (statuses, ignoreStatuses) are written as
// strings ("503" means 503 to the core).
export function writeJson(v: JValue, kong: bool = false): string {
  return write(v, kong, false, false);
}

function write(v: JValue, kong: bool, inFailure: bool, statuses: bool): string {
  switch (v.type) {
    case JType.Null: return "null";
    case JType.Bool: return v.b ? "true" : "false";
    case JType.Num: return statuses ? jsonText(jsonNumber(v.n)) : jsonNumber(v.n);
    case JType.Str: return jsonText(v.s);
    case JType.Arr: {
      let d = "[";
      for (let i = 0; i < v.items.length; i++) d += (i > 0 ? "," : "") + write(v.items[i], kong, false, statuses);
      return d + "]";
    }
    default: {
      let d = "{";
      for (let i = 0; i < v.keys.length; i++) {
        const k = v.keys[i];
        const st = kong && inFailure && (k == "statuses" || k == "ignoreStatuses");
        d += (i > 0 ? "," : "") + jsonText(k) + ":" + write(v.vals[i], kong, kong && k == "failure", st);
      }
      return d + "}";
    }
  }
}
