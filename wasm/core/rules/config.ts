import { asciiLower, isToken, utf8 } from "../text/bytes";
// Parsing and validation of spec.experiment.rules: A/B rules evaluated in order,
// first match wins. Regexes compile here, once; unsupported syntax is rejected with
// the rule's path and the construct.
import { JType, JValue } from "../json/json";
import { Reader, at, formatBp, join } from "../config/reader";
import { E_NOT_EMPTY, E_STRING, E_UNKNOWN_VARIANT, E_ONE_OF_MATCH, E_RULE_TARGET, E_WEIGHT_SUM, E_PERCENT, E_PERCENT_DECIMALS, E_HEADER_NAME, E_COOKIE_NAME, E_MATCH_VALUE, ruleText, E_ARRAY, E_OBJECT, E_QUERY_NAME } from "../config/errors";
import { Fact, Needs } from "../request/facts";
import { compileRegex } from "../regex/index";
import { Field, FieldMatch, MatchOp, Rule, StringMatch } from "./settings";
import { Variant } from "../experiment/settings";

const RULE_KEYS: StaticArray<string> = ["match", "variant", "split"];
const MATCH_KEYS: StaticArray<string> = ["header", "cookie", "query", "path", "method", "host"];
const STRING_MATCH_KEYS: StaticArray<string> = ["exact", "prefix", "suffix", "contains", "regex", "present", "ignoreCase", "invert"];
const SPLIT_KEYS: StaticArray<string> = ["variant", "weight"];
const OPS: StaticArray<string> = ["exact", "prefix", "suffix", "contains", "regex", "present"];
const MAX_RULES = 64;
const MAX_CONDITIONS = 16;
const MAX_VALUE = 1024;   // bytes of a literal to compare: bounds `contains` to O(1024 x value)

export function parseRules(r: Reader, obj: JValue, path: string, variants: StaticArray<Variant>, needs: Needs): StaticArray<Rule> | null {
  const rp = join(path, "rules");
  const arr = r.arr(obj, "rules", path, false);
  if (arr === null) return null;
  if (arr.items.length > MAX_RULES) { r.failText(rp, "must have at most " + MAX_RULES.toString() + " rules, got " + arr.items.length.toString()); return null; }
  const out = new StaticArray<Rule>(arr.items.length);
  for (let i = 0; i < arr.items.length; i++) {
    const p = at(rp, i);
    const item = arr.items[i];
    if (!r.object(item, p, RULE_KEYS)) return null;
    const rule = new Rule();
    const matches = parseMatch(r, item, p, needs);
    if (matches === null) return null;
    rule.matches = matches;
    const v = r.field(item, "variant");
    const sp = r.field(item, "split");
    if ((v === null) == (sp === null)) { r.failRule(p, E_RULE_TARGET, null); return null; }
    if (v !== null) {
      if (v.type != JType.Str) { r.failRule(join(p, "variant"), E_STRING, v); return null; }
      rule.variant = variantIndex(variants, v.s);
      if (rule.variant < 0) { r.failRule(join(p, "variant"), E_UNKNOWN_VARIANT, v); return null; }
    } else if (!parseSplit(r, sp as JValue, join(p, "split"), variants, rule)) return null;
    out[i] = rule;
  }
  return out;
}

// `<p>.match` of `item` (required, not empty): the conditions, cheapest first. Rules
// and faults (../fault/config.ts) share it: one match language, one set of messages.
export function parseMatch(r: Reader, item: JValue, p: string, needs: Needs): StaticArray<FieldMatch> | null {
  const m = r.obj(item, "match", p, MATCH_KEYS);
  if (r.failed) return null;
  if (m === null) { r.failRule(join(p, "match"), E_NOT_EMPTY, null); return null; }
  const list = new Array<FieldMatch>(0);
  parseNamed(r, m, "header", join(p, "match"), Field.Header, list, needs);
  parseNamed(r, m, "cookie", join(p, "match"), Field.Cookie, list, needs);
  parseNamed(r, m, "query", join(p, "match"), Field.Query, list, needs);
  parseSingle(r, m, "path", join(p, "match"), Field.Path, list, needs);
  parseSingle(r, m, "method", join(p, "match"), Field.Method, list, needs);
  parseSingle(r, m, "host", join(p, "match"), Field.Host, list, needs);
  if (r.failed) return null;
  if (list.length == 0) { r.failRule(join(p, "match"), E_NOT_EMPTY, null); return null; }
  if (list.length > MAX_CONDITIONS) { r.failText(join(p, "match"), "must have at most " + MAX_CONDITIONS.toString() + " conditions"); return null; }
  cheapestFirst(list);
  return StaticArray.fromArray(list);
}

// A rule matches when all its conditions hold, so their order changes only the cost:
// they run cheapest first, so that a failing cheap one spares the rest. Stable, by
// conditionCost.
function cheapestFirst(list: Array<FieldMatch>): void {
  for (let i = 1; i < list.length; i++) {
    const fm = list[i];
    const c = conditionCost(fm);
    let j = i;
    while (j > 0 && conditionCost(list[j - 1]) > c) { list[j] = list[j - 1]; j--; }
    list[j] = fm;
  }
}

// Relative cost of a condition on a typical request: exact / present are a length check
// or a flag, prefix / suffix compare the literal's bytes, a query value needs the target
// scanned and a cookie the Cookie header parsed (often the longest header), contains /
// regex scan the whole value.
function conditionCost(fm: FieldMatch): i32 {
  const op = fm.m.op;
  let c = fm.field == Field.Cookie ? 3 : fm.field == Field.Query ? 2 : 0;
  if (op == MatchOp.Prefix || op == MatchOp.Suffix) c += 1;
  else if (op == MatchOp.Contains || op == MatchOp.Regex) c += 3;
  return c;
}

export function variantIndex(variants: StaticArray<Variant>, name: string): i32 {
  for (let i = 0; i < variants.length; i++) if (variants[i].name == name) return i;
  return -1;
}

function parseSplit(r: Reader, v: JValue, p: string, variants: StaticArray<Variant>, rule: Rule): bool {
  if (v.type != JType.Arr) { r.failRule(p, E_ARRAY, v); return false; }
  if (v.items.length == 0) { r.failRule(p, E_NOT_EMPTY, null); return false; }
  const idx = new StaticArray<i32>(v.items.length);
  const upper = new StaticArray<i32>(v.items.length);
  let sum = 0;
  for (let i = 0; i < v.items.length; i++) {
    const ip = at(p, i);
    const item = v.items[i];
    if (!r.object(item, ip, SPLIT_KEYS)) return false;
    const name = r.str(item, "variant", ip, null);
    if (r.failed) return false;
    idx[i] = variantIndex(variants, name as string);
    if (idx[i] < 0) { r.failRule(join(ip, "variant"), E_UNKNOWN_VARIANT, item.get("variant")); return false; }
    const w = r.num(item, "weight", ip, 0, true);
    if (r.failed) return false;
    if (!(w >= 0 && w <= 100)) { r.failRule(join(ip, "weight"), E_PERCENT, item.get("weight")); return false; }
    const bp = Math.round(w * 100);
    if (Math.abs(w * 100 - bp) > 1e-6) { r.failRule(join(ip, "weight"), E_PERCENT_DECIMALS, item.get("weight")); return false; }
    sum += <i32>bp;
    upper[i] = sum;
  }
  if (sum != 10000) { r.failText(p, ruleText(E_WEIGHT_SUM) + ", got " + formatBp(sum)); return false; }
  rule.splitVariants = idx;
  rule.splitUpperBp = upper;
  return true;
}

// header / cookie / query: an object of name -> string match
function parseNamed(r: Reader, m: JValue, key: string, p: string, field: Field, out: Array<FieldMatch>, needs: Needs): void {
  const o = r.field(m, key);
  if (o === null || r.failed) return;
  const kp = join(p, key);
  if (o.type != JType.Obj) { r.failRule(kp, E_OBJECT, o); return; }
  for (let i = 0; i < o.keys.length; i++) {
    const name = o.keys[i];
    const np = join(kp, name);
    if (field == Field.Header && !isToken(name, 128)) { r.failText(np, ruleText(E_HEADER_NAME)); return; }
    if (field == Field.Cookie && !isToken(name, 128)) { r.failText(np, ruleText(E_COOKIE_NAME)); return; }
    if (field == Field.Query && (name.length == 0 || name.length > 128)) { r.failText(np, ruleText(E_QUERY_NAME)); return; }
    const sm = parseStringMatch(r, o.vals[i], np, false);
    if (sm === null) return;
    const fm = new FieldMatch(field, sm);
    const lname = field == Field.Header ? asciiLower(name) : name;
    fm.name = utf8(lname);
    fm.slot = field == Field.Header ? needs.add(Fact.Header, lname) : field == Field.Cookie ? needs.add(Fact.Header, "cookie") : needs.add(Fact.Path, "");
    out.push(fm);
  }
}

// path / method / host: one string match
function parseSingle(r: Reader, m: JValue, key: string, p: string, field: Field, out: Array<FieldMatch>, needs: Needs): void {
  const o = r.field(m, key);
  if (o === null || r.failed) return;
  const sm = parseStringMatch(r, o, join(p, key), field == Field.Host);
  if (sm === null) return;
  // A presence test gives the same answer on the whole target as on the normalized path
  // (request/path.ts): read the fact as is. Every other path match tests the normalized path.
  const whole = field == Field.Path && sm.op == MatchOp.Present;
  const fm = new FieldMatch(whole ? Field.Header : field, sm);
  fm.slot = field == Field.Path ? needs.add(Fact.Path, "") : field == Field.Method ? needs.add(Fact.Method, "") : needs.add(Fact.Host, "");
  out.push(fm);
}

export function parseStringMatch(r: Reader, v: JValue, p: string, forceIgnoreCase: bool): StringMatch | null {
  if (!r.object(v, p, STRING_MATCH_KEYS)) return null;
  const sm = new StringMatch();
  let ops = 0;
  let opName = "";
  for (let i = 0; i < OPS.length; i++) {
    if (r.field(v, OPS[i]) !== null) { ops++; opName = OPS[i]; }
  }
  if (ops != 1) { r.failRule(p, E_ONE_OF_MATCH, null); return null; }
  sm.ignoreCase = r.bool(v, "ignoreCase", p, false) || forceIgnoreCase;
  sm.invert = r.bool(v, "invert", p, false);
  if (r.failed) return null;
  if (opName == "present") {
    sm.op = MatchOp.Present;
    sm.present = r.bool(v, "present", p, true);
    return r.failed ? null : sm;
  }
  const text = r.str(v, opName, p, null) as string;
  if (r.failed) return null;
  const bytes = utf8(sm.ignoreCase && opName != "regex" ? asciiLower(text) : text);
  if (opName != "regex" && bytes.length > MAX_VALUE) { r.failRule(join(p, opName), E_MATCH_VALUE, v.get(opName)); return null; }
  if (opName == "exact") sm.op = MatchOp.Exact;
  else if (opName == "prefix") sm.op = MatchOp.Prefix;
  else if (opName == "suffix") sm.op = MatchOp.Suffix;
  else if (opName == "contains") sm.op = MatchOp.Contains;
  else {
    sm.op = MatchOp.Regex;
    const c = compileRegex(text, sm.ignoreCase);
    if (c.regex === null) {
      r.failText(join(p, "regex"), "invalid regex: " + c.error + " at byte " + c.offset.toString());
      return null;
    }
    sm.regex = c.regex;
  }
  sm.value = bytes;
  return sm;
}
