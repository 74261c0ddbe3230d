import { asciiLower, isToken, utf8 } from "../text/bytes";
// Parsing and validation of `spec.experiment` (the Kong plugin `experiment`'s config
// and the WasmPlugin `experiment`'s pluginConfig) into ExperimentSettings.
// Runs once per configuration; everything the hot path needs is precomputed here.
import { parseDecisionLog } from "../decision-log/config";
import { JValue } from "../json/json";
import { Reader, at, isName, join, quote, formatBp } from "../config/reader";
import {
  E_UNKNOWN_VARIANT, E_COOKIE_NAME, E_COOKIE_SOURCE, E_HEADER_NAME, E_HOST, E_NAME, E_NOT_EMPTY,
  E_PATH_PREFIX, E_PERCENT, E_PERCENT_DECIMALS, E_SOURCE, E_STRING, E_UNIQUE, E_WEIGHT_SUM, Rule, ruleText,
  E_DURATION, E_RAMP_AFTER, E_RAMP_DOWN, E_SAME_SITE, E_SAME_SITE_NONE, E_TIME, E_TWO_VARIANTS,
  E_COOKIE_DOMAIN, E_HASH, E_HEADER_OWNED, E_OVERRIDE_HEADER, E_TAGS_HEADER, E_UNLEASH_WEIGHT,
} from "../config/errors";
import { Fact, Needs } from "../request/facts";
import { fnv1a32 } from "../hash/hash";
import {
  CookieSettings, ExperimentSettings, HashMode, REASON_RULE0, Source, SourceKind, Variant, WeightTable, reasonName, GuardSettings,
} from "./settings";
import { parseRules, variantIndex } from "../rules/config";
import { GrowthBookSplit, weightFromBp } from "../hash/growthbook";
import { UnleashHash } from "../hash/unleash";
import { TAGS_HEADER } from "../tagging/tagging";
import { HmacSha256 } from "../hmac/hmac";
import { parseDuration, parseRfc3339 } from "../config/time";
import { parseGuard } from "../guard/config";
import { NEED_ON_DEMAND, PREFLIGHT_HEADER } from "../contract";

const CONTENT_TYPE = "content-type";

const EXPERIMENT_KEYS: StaticArray<string> = ["name", "seed", "stickiness", "variantHeader", "variants", "scope", "rules", "hash", "override", "rollout", "exposeHeader", "decisionLog"];
// A tagging experiment (spec.experiments[i], ../tagging.ts): keyed, scoped and headed by
// the routing experiment, so none of its own stickiness, scope, headers or upstreams.
const TAGGING_KEYS: StaticArray<string> = ["name", "seed", "variants", "rules", "hash", "rollout"];
const TAGGING_VARIANT_KEYS: StaticArray<string> = ["name", "weight"];
const OVERRIDE_KEYS: StaticArray<string> = ["header", "secret", "requireExpiry"];
const ROLLOUT_KEYS: StaticArray<string> = ["variant", "start", "steps"];
const STEP_KEYS: StaticArray<string> = ["weight", "after"];
const MIN_SECRET_BYTES = 16;
const MAX_STEPS = 32;
const STICKINESS_KEYS: StaticArray<string> = ["sources", "cookie"];
const COOKIE_KEYS: StaticArray<string> = ["name", "maxAgeSeconds", "path", "domain", "secure", "httpOnly", "sameSite"];
const VARIANT_KEYS: StaticArray<string> = ["name", "weight", "upstream", "guard"];
const SCOPE_KEYS: StaticArray<string> = ["hosts", "pathPrefixes"];

export const DEFAULT_COOKIE = "tandem-uid";
export { VARIANT_HEADER as DEFAULT_VARIANT_HEADER } from "../contract";
import { VARIANT_HEADER as DEFAULT_VARIANT_HEADER } from "../contract";
const DEFAULT_MAX_AGE: i64 = 2592000; // 30 days, in seconds
const MAX_VARIANTS = 32;
const MAX_SOURCES = 8;
const TOTAL_BP = 10000;              // weights are in basis points: 100% = 10000


function nameValue(s: string): JValue {
  const v = new JValue();
  v.type = 3; // JType.Str
  v.s = s;
  return v;
}

// `tagging`: parse a tagging experiment whose fact needs join the routing experiment's.
export function parseExperiment(r: Reader, v: JValue | null, path: string, tagging: Needs | null = null): ExperimentSettings | null {
  if (!r.object(v, path, tagging !== null ? TAGGING_KEYS : EXPERIMENT_KEYS)) return null;
  const obj = v as JValue;
  const s = new ExperimentSettings();
  if (tagging !== null) s.needs = tagging;

  const name = r.str(obj, "name", path, null);
  if (r.failed) return null;
  if (!isName(name as string)) { r.failRule(join(path, "name"), E_NAME, obj.get("name")); return null; }
  s.name = name as string;
  const seed = r.str(obj, "seed", path, "") as string;
  s.seed = seed.length > 0 ? seed : s.name;
  const seedBytes = utf8(s.seed);
  s.seedHash = fnv1a32(changetype<usize>(seedBytes), seedBytes.length);

  const vh = r.str(obj, "variantHeader", path, DEFAULT_VARIANT_HEADER) as string;
  if (r.failed) return null;
  if (!isToken(vh, 128)) { r.failRule(join(path, "variantHeader"), E_HEADER_NAME, obj.get("variantHeader")); return null; }
  s.variantHeader = asciiLower(vh);
  const owned = ownedHeaderRule(s.variantHeader);
  if (owned != 0) { r.failText(join(path, "variantHeader"), ruleText(owned) + ", got " + quote(s.variantHeader)); return null; }
  s.variantHeaderBytes = utf8(s.variantHeader);

  const weights = parseVariants(r, obj, path, s, tagging !== null ? TAGGING_VARIANT_KEYS : VARIANT_KEYS);
  if (r.failed) return null;
  if (tagging === null) parseStickiness(r, obj, path, s);
  if (r.failed) return null;
  parseScope(r, obj, path, s);
  if (r.failed) return null;
  const hash = r.str(obj, "hash", path, "tandem") as string;
  if (r.failed) return null;
  if (hash == "tandem") s.hash = HashMode.Tandem;
  else if (hash == "growthbook-v2") s.hash = HashMode.GrowthBook;
  else if (hash == "unleash") {
    s.hash = HashMode.Unleash;
    if (!unleashWeights(r, r.field(obj, "variants") as JValue, join(path, "variants"))) return null;
    s.unleash = new UnleashHash(s.seed);
  }
  else { r.failRule(join(path, "hash"), E_HASH, obj.get("hash")); return null; }
  const rules = parseRules(r, obj, path, s.variants, s.needs);
  if (r.failed) return null;
  if (rules !== null) {
    s.rules = rules;
    s.ruleGb = new StaticArray<GrowthBookSplit | null>(rules.length);
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i];
      if (rule.variant < 0 && s.hash == HashMode.GrowthBook) s.ruleGb[i] = gbSplit(s.seed, rule.splitUpperBp);
      if (rule.variant < 0 && s.hash == HashMode.Unleash) {
        const rp = join(at(join(path, "rules"), i), "split");
        if (!unleashWeights(r, r.field((r.field(obj, "rules") as JValue).items[i], "split") as JValue, rp)) return null;
      }
    }
  }
  parseOverride(r, obj, path, s);
  if (r.failed) return null;
  parseRollout(r, obj, path, s, weights);
  if (r.failed) return null;
  s.expose = r.bool(obj, "exposeHeader", path, false);
  if (r.failed) return null;
  if (s.expose) buildExposeValues(s);
  if (tagging === null) s.logBp = parseDecisionLog(r, obj, path);
  if (r.failed) return null;
  s.entropySlot = s.needs.add(Fact.Entropy, "");
  if (s.guards.length > 0) {
    s.upgradeSlot = s.needs.add(Fact.Header, "upgrade");
    s.acceptSlot = s.needs.add(Fact.Header, "accept");
  }
  addEdgeNeeds(s);
  s.needs.seal();
  return s;
}

// The needs of the requests every experiment treats apart: CORS preflights (no
// assignment) and gRPC calls (no Set-Cookie). Both read lazily (experiment.ts).
function addEdgeNeeds(s: ExperimentSettings): void {
  const n = s.needs;
  s.preflightSlot = n.add(Fact.Header, PREFLIGHT_HEADER);
  let before = n.list.length;
  s.methodSlot = n.add(Fact.Method, NEED_ON_DEMAND);
  s.rareNeeds = n.list.length - before;
  if (s.cookie === null) return;
  before = n.list.length;
  s.contentTypeSlot = n.add(Fact.Header, CONTENT_TYPE);
  s.rareNeeds += n.list.length - before;
}

// hash: unleash weighs variants in whole tenths of a percent (../unleash.ts): a weight
// it cannot express would split users unlike the SDK. `list`: objects with a weight.
function unleashWeights(r: Reader, list: JValue, p: string): bool {
  for (let i = 0; i < list.items.length; i++) {
    const w = list.items[i].get("weight");
    if (w !== null && <i32>Math.round(w.n * 100) % 10 != 0) { r.failRule(join(at(p, i), "weight"), E_UNLEASH_WEIGHT, w); return false; }
  }
  return true;
}

// GrowthBook's ranges for cumulative basis points (the SDK takes fractions).
function gbSplit(seed: string, upperBp: StaticArray<i32>): GrowthBookSplit {
  const w = new StaticArray<f64>(upperBp.length);
  let prev = 0;
  for (let i = 0; i < upperBp.length; i++) { w[i] = weightFromBp(upperBp[i] - prev); prev = upperBp[i]; }
  return new GrowthBookSplit(seed, w);
}

function table(s: ExperimentSettings, fromMs: f64, weightsBp: StaticArray<i32>): WeightTable {
  const t = new WeightTable(fromMs, weightsBp.length);
  let sum = 0;
  for (let i = 0; i < weightsBp.length; i++) { sum += weightsBp[i]; t.upperBp[i] = sum; }
  if (s.hash == HashMode.GrowthBook) t.gb = gbSplit(s.seed, t.upperBp);
  return t;
}

// Request headers the gateways own, which tandem must neither write the variant to nor
// read a QA token from: Envoy keeps HTTP/1's Host as :authority and drops hop-by-hop
// headers before any filter, Kong's get_headers shows them, and both set them on the
// upstream request themselves — the same policy would act differently on each. And
// x-tandem-experiments, which tandem itself writes (tagging experiments) and always
// removes from clients.
const OWNED_HEADERS: StaticArray<string> = ["host", "content-length", "connection", "keep-alive", "proxy-connection", "te", "transfer-encoding", "upgrade"];

// 0 when the header is not owned.
function ownedHeaderRule(lname: string): Rule {
  if (lname == TAGS_HEADER) return E_TAGS_HEADER;
  for (let i = 0; i < OWNED_HEADERS.length; i++) if (unchecked(OWNED_HEADERS[i]) == lname) return E_HEADER_OWNED;
  return 0;
}

function parseOverride(r: Reader, obj: JValue, path: string, s: ExperimentSettings): void {
  const p = join(path, "override");
  const o = r.obj(obj, "override", path, OVERRIDE_KEYS);
  if (o === null) return;
  const header = r.str(o, "header", p, "x-tandem-force") as string;
  if (r.failed) return;
  if (!isToken(header, 128)) { r.failRule(join(p, "header"), E_HEADER_NAME, o.get("header")); return; }
  const secret = r.str(o, "secret", p, null) as string;
  if (r.failed) return;
  if (String.UTF8.byteLength(secret) < MIN_SECRET_BYTES) { r.failText(join(p, "secret"), "must be at least " + MIN_SECRET_BYTES.toString() + " bytes, got " + String.UTF8.byteLength(secret).toString()); return; }
  const lname = asciiLower(header);
  const owned = lname == s.variantHeader ? E_OVERRIDE_HEADER : ownedHeaderRule(lname);
  if (owned != 0) { r.failText(join(p, "header"), ruleText(owned) + ", got " + quote(lname)); return; }
  s.overrideHeader = lname;
  s.overrideHeaderBytes = utf8(s.overrideHeader);
  s.overrideSlot = s.needs.add(Fact.Header, s.overrideHeader);
  s.hmac = HmacSha256.fromString(secret);
  s.overrideRequiresExpiry = r.bool(o, "requireExpiry", p, false);
  // A token may carry an expiry (experiment.ts overridden): checking it needs the time.
  s.clock = true;
}

// rollout: the rollout variant's weight follows the steps; the first other variant
// gives up (or takes back) the difference. Weights only rise, so with tandem's
// cumulative layout every user the variant has keeps it at the next step.
function parseRollout(r: Reader, obj: JValue, path: string, s: ExperimentSettings, weights: StaticArray<i32>): void {
  const p = join(path, "rollout");
  const o = r.obj(obj, "rollout", path, ROLLOUT_KEYS);
  if (o === null) { s.tables = [table(s, -Infinity, weights)]; return; }
  const vs = s.variants;
  if (vs.length < 2) { r.failText(p, ruleText(E_TWO_VARIANTS)); return; }
  const vname = r.str(o, "variant", p, vs[vs.length - 1].name) as string;
  if (r.failed) return;
  const rv = variantIndex(vs, vname);
  if (rv < 0) { r.failRule(join(p, "variant"), E_UNKNOWN_VARIANT, o.get("variant")); return; }
  const base = rv == 0 ? 1 : 0;
  const startText = r.str(o, "start", p, null) as string;
  if (r.failed) return;
  const start = parseRfc3339(startText);
  if (isNaN(start)) { r.failRule(join(p, "start"), E_TIME, o.get("start")); return; }
  const steps = r.arr(o, "steps", p, true);
  if (steps === null) return;
  const sp = join(p, "steps");
  if (steps.items.length == 0) { r.failRule(sp, E_NOT_EMPTY, null); return; }
  if (steps.items.length > MAX_STEPS) { r.failText(sp, "must have at most " + MAX_STEPS.toString() + " steps"); return; }
  const tables = new StaticArray<WeightTable>(steps.items.length + 1);
  // before the first step the rollout variant has no users
  const before = stepWeights(weights, rv, base, 0);
  tables[0] = table(s, -Infinity, before);
  let lastAfter: f64 = -1;
  let lastBp = 0;
  for (let i = 0; i < steps.items.length; i++) {
    const ip = at(sp, i);
    const st = steps.items[i];
    if (!r.object(st, ip, STEP_KEYS)) return;
    const w = r.num(st, "weight", ip, 0, true);
    if (r.failed) return;
    if (!(w >= 0 && w <= 100)) { r.failRule(join(ip, "weight"), E_PERCENT, st.get("weight")); return; }
    const bp = <i32>Math.round(w * 100);
    if (Math.abs(w * 100 - <f64>bp) > 1e-6) { r.failRule(join(ip, "weight"), E_PERCENT_DECIMALS, st.get("weight")); return; }
    if (s.hash == HashMode.Unleash && bp % 10 != 0) { r.failRule(join(ip, "weight"), E_UNLEASH_WEIGHT, st.get("weight")); return; }
    if (bp < lastBp) { r.failRule(join(ip, "weight"), E_RAMP_DOWN, st.get("weight")); return; }
    const afterText = r.str(st, "after", ip, null) as string;
    if (r.failed) return;
    const after = parseDuration(afterText);
    if (after < 0) { r.failRule(join(ip, "after"), E_DURATION, st.get("after")); return; }
    if (after <= lastAfter) { r.failRule(join(ip, "after"), E_RAMP_AFTER, st.get("after")); return; }
    const ws = stepWeights(weights, rv, base, bp);
    if (ws[base] < 0) {
      r.failText(join(ip, "weight"), "leaves variant " + vs[base].name + " a negative weight (" + formatBp(ws[base]) + "), got " + formatBp(bp));
      return;
    }
    tables[i + 1] = table(s, start + after, ws);
    lastAfter = after;
    lastBp = bp;
  }
  s.tables = tables;
  s.rollout = true;
  s.clock = true;
}

function stepWeights(weights: StaticArray<i32>, rv: i32, base: i32, bp: i32): StaticArray<i32> {
  const ws = new StaticArray<i32>(weights.length);
  for (let i = 0; i < weights.length; i++) ws[i] = weights[i];
  ws[base] = weights[base] + weights[rv] - bp;
  ws[rv] = bp;
  return ws;
}

function buildExposeValues(s: ExperimentSettings): void {
  const reasons = REASON_RULE0 + s.rules.length;
  s.reasonCount = reasons;
  const out = new StaticArray<StaticArray<u8>>(s.variants.length * reasons);
  for (let v = 0; v < s.variants.length; v++) {
    for (let k = 0; k < reasons; k++) out[v * reasons + k] = utf8(s.variants[v].name + "; reason=" + reasonName(k));
  }
  s.exposeValues = out;
}


const NO_WEIGHTS = new StaticArray<i32>(0);

// Returns each variant's weight in basis points.
function parseVariants(r: Reader, obj: JValue, path: string, s: ExperimentSettings, keys: StaticArray<string>): StaticArray<i32> {
  const vp = join(path, "variants");
  const arr = r.arr(obj, "variants", path, true);
  if (arr === null) return NO_WEIGHTS;
  if (arr.items.length == 0) { r.failRule(vp, E_NOT_EMPTY, null); return NO_WEIGHTS; }
  if (arr.items.length > MAX_VARIANTS) { r.failText(vp, "must have at most " + MAX_VARIANTS.toString() + " variants, got " + arr.items.length.toString()); return NO_WEIGHTS; }
  const list = new StaticArray<Variant>(arr.items.length);
  const weights = new StaticArray<i32>(arr.items.length);
  let sum = 0;
  for (let i = 0; i < arr.items.length; i++) {
    const p = at(vp, i);
    const item = arr.items[i];
    if (!r.object(item, p, keys)) return NO_WEIGHTS;
    const name = r.str(item, "name", p, null);
    if (r.failed) return NO_WEIGHTS;
    if (!isName(name as string)) { r.failRule(join(p, "name"), E_NAME, item.get("name")); return NO_WEIGHTS; }
    for (let j = 0; j < i; j++) {
      if (list[j].name == name) { r.failRule(join(p, "name"), E_UNIQUE, item.get("name")); return NO_WEIGHTS; }
    }
    const w = r.num(item, "weight", p, 0, true);
    if (r.failed) return NO_WEIGHTS;
    if (!(w >= 0 && w <= 100)) { r.failRule(join(p, "weight"), E_PERCENT, item.get("weight")); return NO_WEIGHTS; }
    const bp = Math.round(w * 100);
    if (Math.abs(w * 100 - bp) > 1e-6) { r.failRule(join(p, "weight"), E_PERCENT_DECIMALS, item.get("weight")); return NO_WEIGHTS; }
    const up = r.str(item, "upstream", p, "") as string;
    if (r.failed) return NO_WEIGHTS;
    const variant = new Variant(name as string, <i32>bp, up);
    sum += <i32>bp;
    weights[i] = <i32>bp;
    list[i] = variant;
  }
  if (sum != TOTAL_BP) {
    r.failText(vp, ruleText(E_WEIGHT_SUM) + ", got " + formatBp(sum));
    return NO_WEIGHTS;
  }
  s.variants = list;
  parseGuards(r, arr, vp, s);
  return weights;
}

// Guards after all variants are known (`to` may name a later one). A guard's target
// must be unguarded: a rollback never lands on a variant that may itself be rolled back.
function parseGuards(r: Reader, arr: JValue, vp: string, s: ExperimentSettings): void {
  const n = arr.items.length;
  const guarded = new StaticArray<bool>(n);
  let count = 0;
  for (let i = 0; i < n; i++) if (r.field(arr.items[i], "guard") !== null) { guarded[i] = true; count++; }
  s.guardOf = new StaticArray<i32>(n);
  for (let i = 0; i < n; i++) s.guardOf[i] = -1;
  if (count == 0) return;
  const guards = new StaticArray<GuardSettings>(count);
  let k = 0;
  for (let i = 0; i < n; i++) {
    if (!guarded[i]) continue;
    const g = parseGuard(r, r.field(arr.items[i], "guard") as JValue, join(at(vp, i), "guard"), i, s.variants, guarded);
    if (g === null) return;
    g.index = k;
    guards[k++] = g;
    s.guardOf[i] = g.index;
  }
  s.guards = guards;
  s.clock = true;
}

function parseStickiness(r: Reader, obj: JValue, path: string, s: ExperimentSettings): void {
  const sp = join(path, "stickiness");
  const st = r.obj(obj, "stickiness", path, STICKINESS_KEYS);
  if (r.failed) return;
  let srcArr: JValue | null = null;
  let cookieObj: JValue | null = null;
  let cookieGiven = false;
  if (st !== null) {
    srcArr = r.arr(st, "sources", sp, false);
    cookieObj = r.obj(st, "cookie", sp, COOKIE_KEYS);
    cookieGiven = cookieObj !== null;
    if (r.failed) return;
  }
  const sources = new Array<Source>(0);
  if (srcArr === null) {
    // Default: a first-party cookie the gateway issues itself.
    sources.push(new Source(SourceKind.Cookie, DEFAULT_COOKIE));
  } else {
    const p = join(sp, "sources");
    if (srcArr.items.length == 0) { r.failRule(p, E_NOT_EMPTY, null); return; }
    if (srcArr.items.length > MAX_SOURCES) { r.failText(p, "must have at most " + MAX_SOURCES.toString() + " entries, got " + srcArr.items.length.toString()); return; }
    for (let i = 0; i < srcArr.items.length; i++) {
      const item = srcArr.items[i];
      const ip = at(p, i);
      if (item.type != 3) { r.failRule(ip, E_STRING, item); return; }
      const src = parseSource(item.s);
      if (src === null) { r.failRule(ip, E_SOURCE, item); return; }
      for (let j = 0; j < sources.length; j++) {
        if (sources[j].kind == src.kind && sources[j].name == src.name) { r.failRule(ip, E_UNIQUE, item); return; }
      }
      sources.push(src);
    }
  }
  // The cookie to issue when no source is present.
  let cookie: CookieSettings | null = null;
  if (cookieGiven) {
    cookie = parseCookie(r, cookieObj as JValue, join(sp, "cookie"));
    if (r.failed) return;
  } else if (srcArr === null) {
    cookie = new CookieSettings(DEFAULT_COOKIE);
    cookie.maxAge = DEFAULT_MAX_AGE;
    cookie.build();
  }
  if (cookie !== null) {
    let listed = false;
    for (let j = 0; j < sources.length; j++) {
      if (sources[j].kind == SourceKind.Cookie && sources[j].name == cookie.name) listed = true;
    }
    if (!listed) { r.failRule(join(sp, "cookie.name"), E_COOKIE_SOURCE, nameValue(cookie.name)); return; }
  }
  s.cookie = cookie;
  for (let i = 0; i < sources.length; i++) {
    const src = sources[i];
    if (src.kind == SourceKind.Cookie) src.slot = s.needs.add(Fact.Header, "cookie");
    else if (src.kind == SourceKind.Header) src.slot = s.needs.add(Fact.Header, src.name);
    else if (src.kind == SourceKind.Query) src.slot = s.needs.add(Fact.Path, "");
    else src.slot = s.needs.add(Fact.ClientIp, "");
  }
  s.sources = StaticArray.fromArray(sources);
}

// A stickiness source as the policy names it (header names lowercase): the inverse of
// parseSource, for reports.
export function sourceName(s: Source): string {
  if (s.kind == SourceKind.Ip) return "ip";
  return (s.kind == SourceKind.Cookie ? "cookie:" : s.kind == SourceKind.Header ? "header:" : "query:") + s.name;
}

function parseSource(text: string): Source | null {
  if (text == "ip") return new Source(SourceKind.Ip, "");
  const colon = text.indexOf(":");
  if (colon <= 0) return null;
  const kind = text.substring(0, colon);
  const name = text.substring(colon + 1);
  if (kind == "cookie") return isToken(name, 128) ? new Source(SourceKind.Cookie, name) : null;
  if (kind == "header") return isToken(name, 128) ? new Source(SourceKind.Header, asciiLower(name)) : null;
  if (kind == "query") return name.length > 0 && name.length <= 128 && isQueryName(name) ? new Source(SourceKind.Query, name) : null;
  return null;
}

function isQueryName(s: string): bool {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f || c == 0x26 || c == 0x3d || c == 0x23 || c == 0x3f) return false;
  }
  return true;
}

function parseCookie(r: Reader, o: JValue, p: string): CookieSettings | null {
  const name = r.str(o, "name", p, DEFAULT_COOKIE) as string;
  if (r.failed) return null;
  if (!isToken(name, 128)) { r.failRule(join(p, "name"), E_COOKIE_NAME, o.get("name")); return null; }
  const c = new CookieSettings(name);
  c.maxAge = r.int(o, "maxAgeSeconds", p, DEFAULT_MAX_AGE, 0, 400 * 86400); // RFC 6265bis caps at 400 days
  c.path = r.str(o, "path", p, "/") as string;
  if (r.failed) return null;
  if (!c.path.startsWith("/") || !isCookieAttr(c.path)) { r.failRule(join(p, "path"), E_PATH_PREFIX, o.get("path")); return null; }
  c.domain = r.str(o, "domain", p, "") as string;
  if (r.failed) return null;
  if (c.domain.length > 0 && !isCookieDomain(c.domain)) { r.failRule(join(p, "domain"), E_COOKIE_DOMAIN, o.get("domain")); return null; }
  c.secure = r.bool(o, "secure", p, false);
  c.httpOnly = r.bool(o, "httpOnly", p, true);
  const ss = r.str(o, "sameSite", p, "Lax") as string;
  if (r.failed) return null;
  if (ss != "Lax" && ss != "Strict" && ss != "None") { r.failRule(join(p, "sameSite"), E_SAME_SITE, o.get("sameSite")); return null; }
  if (ss == "None" && !c.secure) { r.failRule(join(p, "sameSite"), E_SAME_SITE_NONE, o.get("sameSite")); return null; }
  c.sameSite = ss;
  c.build();
  return c;
}

function isCookieAttr(s: string): bool {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x21 || c > 0x7e || c == 0x3b) return false;
  }
  return true;
}

// A Domain attribute browsers keep (RFC 6265 5.2.3, 5.3 step 6; RFC 1034 labels): an
// optional leading dot, then labels of 1-63 letters, digits and -, not starting or
// ending with -, joined by single dots, at most 253 characters. ".", "..", "a..b" or
// "*.x" would make every browser drop the cookie, and every request a new user.
export function isCookieDomain(s: string): bool {
  const start = s.length > 0 && s.charCodeAt(0) == 0x2e ? 1 : 0;
  const n = s.length - start;
  if (n == 0 || n > 253) return false;
  let label = 0;
  for (let i = start; i <= s.length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 0x2e;
    if (c == 0x2e) {
      if (label == 0 || label > 63 || s.charCodeAt(i - 1) == 0x2d) return false;
      label = 0;
      continue;
    }
    const ok = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c == 0x2d;
    if (!ok || (label == 0 && c == 0x2d)) return false;
    label++;
  }
  return true;
}

export function isHostName(s: string): bool {
  if (s.length == 0 || s.length > 253) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const ok = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c == 0x2e || c == 0x2d;
    if (!ok && !(c == 0x2a && i == 0 && s.length > 2 && s.charCodeAt(1) == 0x2e)) return false;
  }
  return true;
}

const enum ScopeList { Hosts = 0, PathPrefixes = 1 }

// A non-empty list of strings, each checked, as UTF-8 (hosts lowercased).
function scopeList(r: Reader, sc: JValue, key: string, p: string, kind: ScopeList): StaticArray<StaticArray<u8>> | null {
  const arr = r.arr(sc, key, p, false);
  if (arr === null) return null;
  const lp = join(p, key);
  if (arr.items.length == 0) { r.failRule(lp, E_NOT_EMPTY, null); return null; }
  const out = new StaticArray<StaticArray<u8>>(arr.items.length);
  for (let i = 0; i < arr.items.length; i++) {
    const h = arr.items[i];
    if (h.type != 3) { r.failRule(at(lp, i), E_STRING, h); return null; }
    if (kind == ScopeList.Hosts) {
      if (!isHostName(h.s)) { r.failRule(at(lp, i), E_HOST, h); return null; }
      out[i] = utf8(asciiLower(h.s));
    } else {
      if (!h.s.startsWith("/")) { r.failRule(at(lp, i), E_PATH_PREFIX, h); return null; }
      out[i] = utf8(h.s);
    }
  }
  return out;
}

function parseScope(r: Reader, obj: JValue, path: string, s: ExperimentSettings): void {
  const p = join(path, "scope");
  const sc = r.obj(obj, "scope", path, SCOPE_KEYS);
  if (sc === null) return;
  s.scopeHosts = scopeList(r, sc, "hosts", p, ScopeList.Hosts);
  if (s.scopeHosts !== null) s.hostSlot = s.needs.add(Fact.Host, "");
  s.scopePrefixes = scopeList(r, sc, "pathPrefixes", p, ScopeList.PathPrefixes);
  if (s.scopePrefixes !== null) s.pathSlot = s.needs.add(Fact.Path, "");
}
