// Per-request rule matching: all conditions of a rule must hold; the first matching
// rule wins. Values are read from the request facts without copying (cookies parsed,
// query values percent-decoded into scratch). Cost: linear in the bytes compared; a
// regex runs the linear-time VM (wasm/core/regex), never backtracking. A rule's
// conditions run cheapest first (config/rules.ts); substring searches (`contains`,
// cookie and query names, regex literals) go 8 bytes a step (scan.ts).
import { Bytes } from "../text/bytes";
import { findCookie } from "../request/cookie";
import { Needs } from "../request/facts";
import { findQuery } from "../request/query";
import { PathNormalizer } from "../request/path";
import { Field, FieldMatch, MatchOp, Rule, StringMatch } from "./settings";
import { CompiledRegex } from "../regex/index";
import { containsBytes, eqAt } from "../text/scan";

export class RuleMatcher {
  private value: Bytes = new Bytes();
  private scratch: StaticArray<u8> = new StaticArray<u8>(256);
  private paths: PathNormalizer = new PathNormalizer();
  private path: Bytes = new Bytes();
  private pathRequest: u32 = 0;     // needs.request the path was normalized for (0: never)

  constructor(public rules: StaticArray<Rule>, public needs: Needs) {}

  // Index of the first matching rule, or -1.
  first(): i32 {
    const rules = this.rules;
    for (let i = 0; i < rules.length; i++) {
      if (this.matches(unchecked(rules[i]))) return i;
    }
    return -1;
  }

  // Whether all of `rule`'s conditions hold (faults test their match this way).
  matches(rule: Rule): bool {
    const ms = rule.matches;
    for (let i = 0; i < ms.length; i++) {
      const fm = unchecked(ms[i]);
      // header and method conditions test the fact itself (most conditions: no copy)
      let v = this.needs.getCached(fm.slot);
      if (v.present && fm.field != Field.Header && fm.field != Field.Method) v = this.read(fm, v);
      if (!test(fm.m, v)) return false;
    }
    return true;
  }

  // The path a path condition or the scope tests (request/path.ts: the same on both
  // gateways), from the present path fact `raw`: normalized once per request.
  normalizedPath(raw: Bytes): Bytes {
    const req = this.needs.request;
    if (this.pathRequest != req) {
      this.paths.normalize(raw, this.path);
      this.pathRequest = req;
    }
    return this.path;
  }

  // The value a cookie / query / path / host condition tests, from its (present) fact
  // `raw`: this.value, len -1 when absent.
  private read(fm: FieldMatch, raw: Bytes): Bytes {
    const v = this.value;
    v.clear();
    switch (fm.field) {
      // A cookie or parameter is absent when its name (compared as sent) occurs nowhere
      // in the header / target: a scan of ~8 bytes a step rules that out before parsing.
      case Field.Cookie:
        if (hasName(raw, fm.name)) findCookie(raw, fm.name, v);
        break;
      case Field.Query:
        if (!hasName(raw, fm.name)) break;
        if (this.scratch.length < raw.len) this.scratch = new StaticArray<u8>(raw.len + 64);
        findQuery(raw, fm.name, changetype<usize>(this.scratch), v);
        break;
      case Field.Path: {
        const p = this.normalizedPath(raw);
        v.set(p.ptr, p.len);
        break;
      }
      case Field.Host: {
        // without the port; host names compare ignoring case (forced at configure)
        let n = raw.len;
        if (n > 0 && load<u8>(raw.ptr) != 0x5b) {
          for (let i = n - 1; i >= 0; i--) {
            const c = load<u8>(raw.ptr + i);
            if (c == 0x3a) { n = i; break; }
            if (c < 0x30 || c > 0x39) break;
          }
        }
        v.set(raw.ptr, n);
        break;
      }
    }
    return v;
  }
}

// @ts-ignore: decorator
@inline function hasName(raw: Bytes, name: StaticArray<u8>): bool {
  return containsBytes(raw.ptr, raw.len, changetype<usize>(name), name.length, false);
}

// @ts-ignore: decorator
@inline function test(m: StringMatch, v: Bytes): bool {
  let r: bool;
  if (m.op == MatchOp.Present) r = v.present == m.present;
  else if (!v.present) r = false;
  else if (m.op == MatchOp.Regex) r = changetype<CompiledRegex>(m.regex).search(v.ptr, v.len);
  else r = compare(m, v.ptr, v.len);
  return m.invert ? !r : r;
}

function compare(m: StringMatch, p: usize, n: i32): bool {
  const want = m.value;
  const wl = want.length;
  if (wl > n) return false;
  const w = changetype<usize>(want);
  const ic = m.ignoreCase;
  switch (m.op) {
    case MatchOp.Exact: return wl == n && eqAt(p, w, wl, ic);
    case MatchOp.Prefix: return eqAt(p, w, wl, ic);
    case MatchOp.Suffix: return eqAt(p + n - wl, w, wl, ic);
  }
  // contains: worst case (n - wl + 1) x wl byte compares; wl is capped at configure time
  return containsBytes(p, n, w, wl, ic);
}
