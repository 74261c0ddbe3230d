// Parsing and validation of spec.faults into FaultSettings (configure time only).
// A fault's `match` is the experiment rules' match language (../rules/config.ts), its
// abort reply the fallback's `respond` checks (../breaker/fallback-config.ts), its
// control header signed like the QA override: one language, one set of messages.
import { requiredPercentBp } from "../config/percent";
import { JType, JValue } from "../json/json";
import { Reader, at, isName, join, quote } from "../config/reader";
import { E_ARRAY, E_HEADER_NAME, E_NAME, E_UNIQUE, E_UNKNOWN_VARIANT, ruleText, E_REQUIRED } from "../config/errors";
import { asciiLower, isToken, utf8 } from "../text/bytes";
import { Fact, Needs } from "../request/facts";
import { fnv1a32 } from "../hash/hash";
import { HmacSha256 } from "../hmac/hmac";
import { parseRfc3339 } from "../config/time";
import { parseMatch, variantIndex } from "../rules/config";
import { parseRespond } from "../breaker/fallback-config";
import { TAGS_HEADER } from "../contract";
import { FallbackSettings } from "../breaker/settings";
import { ExperimentSettings, Source, SourceKind } from "../experiment/settings";
import { BY_REQUEST, BY_USER, Fault, FaultSettings, MAX_DELAY_MS, MAX_FAULTS, SCOPE_GATEWAY, SCOPE_UPSTREAM } from "./settings";
import {
  E_FAULT_ACTION, E_FAULT_BY, E_FAULT_BY_USER, E_FAULT_END, E_FAULT_NEEDS_EXPERIMENT, E_FAULT_SCOPE, E_FAULT_SECRET, E_FAULT_TIME, E_FAULT_UPSTREAM, E_FAULT_HEADER_OWNED, E_FAULT_HEADER_VARIANT,
} from "./errors";

export const FAULTS_SECTION = "faults";
const FAULT_KEYS: StaticArray<string> = ["name", "match", "variant", "delay", "abort", "by", "scope", "control", "maxActive", "enabled", "start", "end"];
const DELAY_KEYS: StaticArray<string> = ["fixedMs", "percent"];
const ABORT_KEYS: StaticArray<string> = ["status", "headers", "body", "contentType", "percent"];
const CONTROL_KEYS: StaticArray<string> = ["header", "secret"];
const MIN_SECRET_BYTES = 16;
const MAX_ACTIVE = 1000000;
const DEFAULT_CONTROL_HEADER = "x-tandem-fault";
// Headers the gateways own (as for override.header): a control token cannot ride on them.
const OWNED: StaticArray<string> = ["host", "content-length", "connection", "keep-alive", "proxy-connection", "te", "transfer-encoding", "upgrade", TAGS_HEADER];

// `list`: the spec.faults value; `es`: the policy's experiment (variants, stickiness),
// null without one; `hasBreaker`: the policy has a circuitBreaker (scope: upstream feeds it).
export function parseFaults(r: Reader, list: JValue, path: string, es: ExperimentSettings | null, hasBreaker: bool): FaultSettings | null {
  if (list.type != JType.Arr) { r.failRule(path, E_ARRAY, list); return null; }
  if (list.items.length > MAX_FAULTS) { r.failText(path, "must have at most " + MAX_FAULTS.toString() + " faults, got " + list.items.length.toString()); return null; }
  const s = new FaultSettings();
  const faults = new StaticArray<Fault>(list.items.length);
  const strip = new Array<i32>(0);
  const stripNames = new Array<StaticArray<u8>>(0);
  let byUser = false;
  let anyEnabled = false;
  for (let i = 0; i < list.items.length; i++) {
    const p = at(path, i);
    const f = parseFault(r, list.items[i], p, i, s, es, hasBreaker);
    if (f === null) return null;
    for (let j = 0; j < i; j++) {
      if (faults[j].name == f.name) { r.failRule(join(p, "name"), E_UNIQUE, list.items[i].get("name")); return null; }
    }
    faults[i] = f;
    if (f.by == BY_USER && f.enabled) byUser = true;
    if (f.enabled) anyEnabled = true;
    if (f.controlSlot >= 0 && !strip.includes(f.controlSlot)) { strip.push(f.controlSlot); stripNames.push(f.controlHeader); }
  }
  if (byUser) s.sources = userSources(s, es as ExperimentSettings);
  // Only an enabled fault tosses a coin (the request id: Fact.Entropy).
  if (anyEnabled) s.entropySlot = s.needs.add(Fact.Entropy, "");
  s.faults = faults;
  s.stripSlots = StaticArray.fromArray(strip);
  s.stripNames = StaticArray.fromArray(stripNames);
  s.needs.seal();
  return s;
}

function parseFault(r: Reader, v: JValue, p: string, i: i32, s: FaultSettings, es: ExperimentSettings | null, hasBreaker: bool): Fault | null {
  if (!r.object(v, p, FAULT_KEYS)) return null;
  const f = new Fault();
  const name = r.str(v, "name", p, "fault-" + i.toString()) as string;
  if (r.failed) return null;
  if (!isName(name)) { r.failRule(join(p, "name"), E_NAME, v.get("name")); return null; }
  f.name = name;
  const dn = utf8(name + "/delay");
  const an = utf8(name + "/abort");
  f.delaySeed = fnv1a32(changetype<usize>(dn), dn.length);
  f.abortSeed = fnv1a32(changetype<usize>(an), an.length);
  f.enabled = r.bool(v, "enabled", p, true);
  if (r.failed) return null;
  // A disabled fault is validated like any other, but asks the gateway for nothing: its
  // match and variant read facts into a scratch table and are never evaluated
  // (FaultRuntime.applies stops at `enabled`). A policy whose faults are all off then
  // costs Kong no get_headers (plugins/fault-injection/handler.ts): only a control
  // header, stripped whatever the switch, stays a need.
  const needs = f.enabled ? s.needs : new Needs();
  if (r.field(v, "match") !== null) {
    const m = parseMatch(r, v, p, needs);
    if (m === null) return null;
    if (f.enabled) f.rule.matches = m;
  }
  const variant = r.str(v, "variant", p, "") as string;
  if (r.failed) return null;
  if (variant.length > 0) {
    if (es === null) { r.failText(join(p, "variant"), ruleText(E_FAULT_NEEDS_EXPERIMENT)); return null; }
    f.variant = variantIndex(es.variants, variant);
    if (f.variant < 0) { r.failRule(join(p, "variant"), E_UNKNOWN_VARIANT, v.get("variant")); return null; }
    f.variantBytes = utf8(variant);
    // The experiment (it runs first on both gateways) wrote the variant it chose here,
    // after removing every client copy.
    if (f.enabled) s.variantSlot = s.needs.add(Fact.Header, es.variantHeader);
  }
  const delay = r.obj(v, "delay", p, DELAY_KEYS);
  if (r.failed) return null;
  if (delay !== null) {
    const dp = join(p, "delay");
    f.delayMs = <i32>r.int(delay, "fixedMs", dp, -1, 0, MAX_DELAY_MS);
    if (r.failed) return null;
    if (f.delayMs < 0) { r.failRule(join(dp, "fixedMs"), E_REQUIRED, null); return null; }
    f.delayBp = requiredPercentBp(r, delay, dp);
    if (r.failed) return null;
  }
  const abort = r.obj(v, "abort", p, ABORT_KEYS);
  if (r.failed) return null;
  if (abort !== null) {
    const ap = join(p, "abort");
    if (r.field(abort, "status") === null) { r.failRule(join(ap, "status"), E_REQUIRED, null); return null; }
    f.abortStatus = <i32>r.int(abort, "status", ap, 0, 200, 599);
    if (r.failed) return null;
    const reply = new FallbackSettings();
    parseRespond(r, abort, ap, reply);
    if (r.failed) return null;
    f.reply = reply;
    f.abortBp = requiredPercentBp(r, abort, ap);
    if (r.failed) return null;
  }
  const by = r.str(v, "by", p, "request") as string;
  if (r.failed) return null;
  if (by == "request") f.by = BY_REQUEST;
  else if (by == "user") {
    if (es === null) { r.failText(join(p, "by"), ruleText(E_FAULT_BY_USER)); return null; }
    f.by = BY_USER;
  } else { r.failRule(join(p, "by"), E_FAULT_BY, v.get("by")); return null; }
  const scope = r.str(v, "scope", p, "gateway") as string;
  if (r.failed) return null;
  if (scope == "gateway") f.scope = SCOPE_GATEWAY;
  else if (scope == "upstream") {
    if (!hasBreaker && (es === null || es.guards.length == 0)) { r.failText(join(p, "scope"), ruleText(E_FAULT_UPSTREAM)); return null; }
    f.scope = SCOPE_UPSTREAM;
    s.upstream = true;
  } else { r.failRule(join(p, "scope"), E_FAULT_SCOPE, v.get("scope")); return null; }
  parseControl(r, v, p, f, s, es);
  if (r.failed) return null;
  if (delay === null && abort === null && f.controlSlot < 0) { r.failText(p, ruleText(E_FAULT_ACTION)); return null; }
  f.maxActive = <i32>r.int(v, "maxActive", p, 0, 1, MAX_ACTIVE);
  if (r.failed) return null;
  f.startMs = time(r, v, "start", p, -Infinity);
  if (r.failed) return null;
  f.endMs = time(r, v, "end", p, Infinity);
  if (r.failed) return null;
  if (f.endMs <= f.startMs) { r.failRule(join(p, "end"), E_FAULT_END, v.get("end")); return null; }
  if (f.startMs != -Infinity || f.endMs != Infinity) s.clock = true;
  return f;
}

function time(r: Reader, v: JValue, key: string, p: string, def: f64): f64 {
  const t = r.str(v, key, p, "") as string;
  if (r.failed || t.length == 0) return def;
  const ms = parseRfc3339(t);
  if (isNaN(ms)) { r.failRule(join(p, key), E_FAULT_TIME, v.get(key)); return def; }
  return ms;
}

// control: { header, secret }: a client may ask for this fault with a signed token.
function parseControl(r: Reader, v: JValue, p: string, f: Fault, s: FaultSettings, es: ExperimentSettings | null): void {
  const o = r.obj(v, "control", p, CONTROL_KEYS);
  if (o === null) return;
  const cp = join(p, "control");
  const header = r.str(o, "header", cp, DEFAULT_CONTROL_HEADER) as string;
  if (r.failed) return;
  if (!isToken(header, 128)) { r.failRule(join(cp, "header"), E_HEADER_NAME, o.get("header")); return; }
  const lname = asciiLower(header);
  for (let i = 0; i < OWNED.length; i++) {
    if (OWNED[i] == lname) { r.failText(join(cp, "header"), ruleText(E_FAULT_HEADER_OWNED) + ", got " + quote(lname)); return; }
  }
  if (es !== null && (lname == es.variantHeader || lname == es.overrideHeader)) {
    r.failText(join(cp, "header"), ruleText(E_FAULT_HEADER_VARIANT) + ", got " + quote(lname));
    return;
  }
  const secret = r.str(o, "secret", cp, null) as string;
  if (r.failed) return;
  const n = String.UTF8.byteLength(secret);
  if (n < MIN_SECRET_BYTES) { r.failText(join(cp, "secret"), ruleText(E_FAULT_SECRET) + ", got " + n.toString()); return; }
  f.controlHeader = utf8(lname);
  f.controlSlot = s.needs.add(Fact.Header, lname);
  f.hmac = HmacSha256.fromString(secret);
}

// The experiment's stickiness sources, read through the faults' own needs.
function userSources(s: FaultSettings, es: ExperimentSettings): StaticArray<Source> {
  const out = new StaticArray<Source>(es.sources.length);
  for (let i = 0; i < es.sources.length; i++) {
    const e = es.sources[i];
    const src = new Source(e.kind, e.name);
    if (e.kind == SourceKind.Cookie) src.slot = s.needs.add(Fact.Header, "cookie");
    else if (e.kind == SourceKind.Header) src.slot = s.needs.add(Fact.Header, e.name);
    else if (e.kind == SourceKind.Query) src.slot = s.needs.add(Fact.Path, "");
    else src.slot = s.needs.add(Fact.ClientIp, "");
    out[i] = src;
  }
  return out;
}
