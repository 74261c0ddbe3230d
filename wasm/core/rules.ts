// Per-request rule matching: all conditions of a rule must hold; the first matching
// rule wins. Values are read from the request facts without copying (cookies parsed,
// query values percent-decoded into scratch). Cost: linear in the bytes compared; a
// regex runs the linear-time VM (wasm/core/regex), never backtracking.
import { Bytes, lower } from "./bytes";
import { findCookie } from "./cookie";
import { Needs } from "./facts";
import { findQuery } from "./query";
import { Field, FieldMatch, MatchOp, Rule, StringMatch } from "./rule-settings";
import { CompiledRegex } from "./regex/index";

export class RuleMatcher {
  private value: Bytes = new Bytes();
  private scratch: StaticArray<u8> = new StaticArray<u8>(256);

  constructor(public rules: StaticArray<Rule>, public needs: Needs) {}

  // Index of the first matching rule, or -1.
  first(): i32 {
    const rules = this.rules;
    for (let i = 0; i < rules.length; i++) {
      if (this.matches(unchecked(rules[i]))) return i;
    }
    return -1;
  }

  private matches(rule: Rule): bool {
    const ms = rule.matches;
    for (let i = 0; i < ms.length; i++) {
      const fm = unchecked(ms[i]);
      this.read(fm);
      if (!test(fm.m, this.value)) return false;
    }
    return true;
  }

  // Sets this.value to the field's value (len -1 when absent).
  private read(fm: FieldMatch): void {
    const raw = this.needs.get(fm.slot);
    const v = this.value;
    v.clear();
    if (!raw.present) return;
    switch (fm.field) {
      case Field.Header:
      case Field.Method:
        v.set(raw.ptr, raw.len);
        break;
      case Field.Cookie:
        findCookie(raw, fm.name, v);
        break;
      case Field.Query:
        if (this.scratch.length < raw.len) this.scratch = new StaticArray<u8>(raw.len + 64);
        findQuery(raw, fm.name, changetype<usize>(this.scratch), v);
        break;
      case Field.Path: {
        let n = raw.len;
        for (let i = 0; i < n; i++) {
          const c = load<u8>(raw.ptr + i);
          if (c == 0x3f || c == 0x23) { n = i; break; }
        }
        v.set(raw.ptr, n);
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
  }
}

function test(m: StringMatch, v: Bytes): bool {
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
  switch (m.op) {
    case MatchOp.Exact: return wl == n && eqAt(p, want, m.ignoreCase);
    case MatchOp.Prefix: return eqAt(p, want, m.ignoreCase);
    case MatchOp.Suffix: return eqAt(p + n - wl, want, m.ignoreCase);
    default: {
      // contains: at most (n - wl + 1) x wl byte compares; wl is capped at configure time
      for (let i = 0; i <= n - wl; i++) if (eqAt(p + i, want, m.ignoreCase)) return true;
      return false;
    }
  }
}

// @ts-ignore: decorator
@inline function eqAt(p: usize, want: StaticArray<u8>, ignoreCase: bool): bool {
  const w = changetype<usize>(want);
  const n = want.length;
  if (!ignoreCase) return memory.compare(p, w, n) == 0;
  for (let i = 0; i < n; i++) if (lower(load<u8>(p + i)) != <u32>load<u8>(w + i)) return false;
  return true;
}
