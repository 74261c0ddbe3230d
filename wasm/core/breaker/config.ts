import { asciiLower } from "../text/bytes";
// Parsing and validation of `spec.circuitBreaker` into BreakerSettings (and, for the
// plugin config, `spec.fallback` through ./fallback-config.ts). Runs once per
// configuration. Field paths start at the section name ("circuitBreaker.window.size",
// "fallback.respond.body").
//
// The gateways receive both sections as one plugin config: the circuitBreaker fields
// plus a `fallback` field (cli/render.ts); parseBreakerPlugin reads that shape and
// still reports fallback errors under "fallback.".
import { JType, JValue } from "../json/json";
import { Reader, at, join } from "../config/reader";
import {
  E_BACKOFF_MAX, E_BREAKER_KEY, E_BREAKER_MODE, E_BUCKETS_DIVIDE, E_COUNT_ONLY, E_ERROR_KIND, E_MULTIPLIER,
  E_GRPC_STATUS, E_PERCENT, E_PERCENT_DECIMALS, E_STATUS_PATTERN, E_STRING, E_TIME_ONLY, E_UNIQUE, E_WINDOW_TYPE,
} from "../config/errors";
import { isToken, utf8 } from "../text/bytes";
import { fmix32 } from "../hash/hash";
import { parseFallback } from "./fallback-config";
import { HAS_FAULTS_FIELD, POLICY_FIELD } from "../metrics/catalog";
import { parseUpstreamNames } from "./upstream-names";
import { UPSTREAM_NAMES_FIELD } from "../contract";
import { readPolicyName } from "../metrics/policy-name";
import {
  BreakerMode, BreakerSettings, DEFAULT_BACKOFF_MAX_MS, DEFAULT_BACKOFF_MULTIPLIER, DEFAULT_BUCKETS,
  DEFAULT_COUNT_SIZE, DEFAULT_FAILURE_RATE, DEFAULT_MAX_KEYS, DEFAULT_MAX_WAIT_MS, DEFAULT_MINIMUM_CALLS,
  DEFAULT_OPEN_MS, DEFAULT_PERMITTED_CALLS, DEFAULT_SLOW_RATE, DEFAULT_TIME_SIZE_MS, ERROR_CONNECT, ERROR_RESET,
  ERROR_TIMEOUT, KeyKind, MAX_BUCKETS, MAX_CONSECUTIVE, MAX_COUNT_SIZE, MAX_DURATION_MS, MAX_KEYS,
  MAX_MINIMUM_CALLS, MAX_PERMITTED_CALLS, MAX_TIME_SIZE_MS, OUTCOME_FAILURE, OUTCOME_IGNORED, OUTCOME_SUCCESS,
  STATUS_TABLE_SIZE, WindowType, DEFAULT_GRPC_STATUSES, GRPC_STATUS_MAX,
} from "./settings";

export const BREAKER_SECTION = "circuitBreaker";
export const FALLBACK_SECTION = "fallback";

const BREAKER_KEYS: StaticArray<string> = [
  "key", "maxKeys", "window", "minimumCalls", "failureRateThreshold", "slowCallDurationMs",
  "slowCallRateThreshold", "consecutiveFailures", "openDurationMs", "openBackoff", "halfOpen", "failure", "mode",
];
const PLUGIN_KEYS: StaticArray<string> = [
  "key", "maxKeys", "window", "minimumCalls", "failureRateThreshold", "slowCallDurationMs",
  "slowCallRateThreshold", "consecutiveFailures", "openDurationMs", "openBackoff", "halfOpen", "failure", "mode",
  "fallback", POLICY_FIELD, UPSTREAM_NAMES_FIELD, HAS_FAULTS_FIELD,
];
const WINDOW_KEYS: StaticArray<string> = ["type", "size", "sizeMs", "buckets"];
const BACKOFF_KEYS: StaticArray<string> = ["multiplier", "maxMs"];
const HALF_OPEN_KEYS: StaticArray<string> = ["permittedCalls", "maxWaitMs"];
const FAILURE_KEYS: StaticArray<string> = ["statuses", "ignoreStatuses", "errors", "grpcStatuses"];

// spec.circuitBreaker alone (a whole TrafficPolicy: `fallback` is its own section).
export function parseBreaker(r: Reader, v: JValue | null, path: string): BreakerSettings | null {
  return parseFields(r, v, path, BREAKER_KEYS);
}

// The `circuit-breaker` plugin / root id config: the circuitBreaker fields plus an
// optional `fallback` object (paths of its errors start at "fallback").
export function parseBreakerPlugin(r: Reader, v: JValue | null): BreakerSettings | null {
  const s = parseFields(r, v, BREAKER_SECTION, PLUGIN_KEYS);
  if (s === null) return null;
  s.policy = readPolicyName(r, v as JValue);
  s.hasFaults = r.bool(v as JValue, HAS_FAULTS_FIELD, "", true);
  if (r.failed) return null;
  parseUpstreamNames(r, v as JValue, BREAKER_SECTION, s);
  if (r.failed) return null;
  const fb = r.field(v as JValue, "fallback");
  if (fb !== null) {
    s.fallback = parseFallback(r, fb, FALLBACK_SECTION);
    if (r.failed) return null;
  }
  return s;
}

// `openKey`: the field naming the open duration ("cooldownMs" for a canary guard,
// ../config/guard.ts, which reuses every other field and its checks).
export function parseFields(r: Reader, v: JValue | null, path: string, allowed: StaticArray<string>, openKey: string = "openDurationMs"): BreakerSettings | null {
  if (!r.object(v, path, allowed)) return null;
  const obj = v as JValue;
  const s = new BreakerSettings();

  parseKey(r, obj, path, s);
  if (r.failed) return null;
  s.maxKeys = <i32>r.int(obj, "maxKeys", path, DEFAULT_MAX_KEYS, 1, MAX_KEYS);
  parseWindow(r, obj, path, s);
  if (r.failed) return null;
  s.minimumCalls = <i32>r.int(obj, "minimumCalls", path, DEFAULT_MINIMUM_CALLS, 1, MAX_MINIMUM_CALLS);
  // resilience4j: a count window never holds more than its size, so the minimum is capped.
  s.effectiveMinimumCalls = s.windowType == WindowType.Count ? min(s.minimumCalls, s.windowSize) : s.minimumCalls;
  s.failureRateBp = percentBp(r, obj, "failureRateThreshold", path, DEFAULT_FAILURE_RATE);
  s.slowCallDurationMs = <f64>r.int(obj, "slowCallDurationMs", path, 0, 0, MAX_DURATION_MS);
  s.slowRateBp = percentBp(r, obj, "slowCallRateThreshold", path, DEFAULT_SLOW_RATE);
  s.consecutiveFailures = <i32>r.int(obj, "consecutiveFailures", path, 0, 0, MAX_CONSECUTIVE);
  s.openDurationMs = <f64>r.int(obj, openKey, path, DEFAULT_OPEN_MS, 1, MAX_DURATION_MS);
  if (r.failed) return null;
  s.backoffMaxMs = s.openDurationMs;
  parseBackoff(r, obj, path, s);
  parseHalfOpen(r, obj, path, s);
  parseFailure(r, obj, path, s);
  if (r.failed) return null;
  const mode = r.str(obj, "mode", path, "enforce") as string;
  if (r.failed) return null;
  if (mode == "enforce") s.mode = BreakerMode.Enforce;
  else if (mode == "dry_run") s.mode = BreakerMode.DryRun;
  else if (mode == "forced_open") s.mode = BreakerMode.ForcedOpen;
  else if (mode == "forced_closed") s.mode = BreakerMode.ForcedClosed;
  else { r.failRule(join(path, "mode"), E_BREAKER_MODE, obj.get("mode")); return null; }
  s.shape = shapeOf(s);
  return s;
}

function parseKey(r: Reader, obj: JValue, path: string, s: BreakerSettings): void {
  const key = r.str(obj, "key", path, "upstream") as string;
  if (r.failed) return;
  if (key == "upstream") { s.keyKind = KeyKind.Upstream; return; }
  if (key == "route") { s.keyKind = KeyKind.Route; return; }
  if (key.startsWith("header:") && isToken(key.substring(7), 128)) {
    s.keyKind = KeyKind.Header;
    s.keyHeader = asciiLower(key.substring(7));
    s.keyHeaderBytes = utf8(s.keyHeader);
    return;
  }
  r.failRule(join(path, "key"), E_BREAKER_KEY, obj.get("key"));
}

function parseWindow(r: Reader, obj: JValue, path: string, s: BreakerSettings): void {
  const p = join(path, "window");
  const w = r.obj(obj, "window", path, WINDOW_KEYS);
  if (r.failed || w === null) return;  // defaults: count, 100
  const type = r.str(w, "type", p, "count") as string;
  if (r.failed) return;
  if (type == "count") {
    s.windowType = WindowType.Count;
    if (r.field(w, "sizeMs") !== null) { r.failRule(join(p, "sizeMs"), E_TIME_ONLY, w.get("sizeMs")); return; }
    if (r.field(w, "buckets") !== null) { r.failRule(join(p, "buckets"), E_TIME_ONLY, w.get("buckets")); return; }
    s.windowSize = <i32>r.int(w, "size", p, DEFAULT_COUNT_SIZE, 1, MAX_COUNT_SIZE);
  } else if (type == "time") {
    s.windowType = WindowType.Time;
    if (r.field(w, "size") !== null) { r.failRule(join(p, "size"), E_COUNT_ONLY, w.get("size")); return; }
    const sizeMs = r.int(w, "sizeMs", p, DEFAULT_TIME_SIZE_MS, 1, MAX_TIME_SIZE_MS);
    const buckets = r.int(w, "buckets", p, DEFAULT_BUCKETS, 1, MAX_BUCKETS);
    if (r.failed) return;
    if (sizeMs % buckets != 0) { r.failRule(join(p, "buckets"), E_BUCKETS_DIVIDE, w.get("buckets")); return; }
    s.windowSizeMs = <f64>sizeMs;
    s.buckets = <i32>buckets;
    s.bucketMs = <f64>(sizeMs / buckets);
  } else {
    r.failRule(join(p, "type"), E_WINDOW_TYPE, w.get("type"));
  }
}

// A percentage 0-100 with at most 2 decimals, as basis points: rates compare exactly
// in integers (failures x 10000 >= threshold_bp x calls).
function percentBp(r: Reader, obj: JValue, key: string, path: string, def: i32): i64 {
  const v = r.num(obj, key, path, <f64>def, false);
  if (r.failed) return <i64>def * 100;
  if (!(v >= 0 && v <= 100)) { r.failRule(join(path, key), E_PERCENT, obj.get(key)); return 0; }
  const bp = Math.round(v * 100);
  if (Math.abs(v * 100 - bp) > 1e-6) { r.failRule(join(path, key), E_PERCENT_DECIMALS, obj.get(key)); return 0; }
  return <i64>bp;
}

function parseBackoff(r: Reader, obj: JValue, path: string, s: BreakerSettings): void {
  const p = join(path, "openBackoff");
  const b = r.obj(obj, "openBackoff", path, BACKOFF_KEYS);
  if (r.failed || b === null) return;
  const m = r.num(b, "multiplier", p, DEFAULT_BACKOFF_MULTIPLIER, false);
  if (r.failed) return;
  if (!(m >= 1 && m <= 100)) { r.failRule(join(p, "multiplier"), E_MULTIPLIER, b.get("multiplier")); return; }
  const defMax = max(<i64>DEFAULT_BACKOFF_MAX_MS, <i64>s.openDurationMs);
  const maxMs = r.int(b, "maxMs", p, defMax, 1, MAX_DURATION_MS);
  if (r.failed) return;
  if (<f64>maxMs < s.openDurationMs) { r.failRule(join(p, "maxMs"), E_BACKOFF_MAX, b.get("maxMs")); return; }
  s.backoffMultiplier = m;
  s.backoffMaxMs = <f64>maxMs;
}

function parseHalfOpen(r: Reader, obj: JValue, path: string, s: BreakerSettings): void {
  const p = join(path, "halfOpen");
  const h = r.obj(obj, "halfOpen", path, HALF_OPEN_KEYS);
  if (r.failed || h === null) return;
  s.permittedCalls = <i32>r.int(h, "permittedCalls", p, DEFAULT_PERMITTED_CALLS, 1, MAX_PERMITTED_CALLS);
  s.maxWaitMs = <f64>r.int(h, "maxWaitMs", p, DEFAULT_MAX_WAIT_MS, 1, MAX_DURATION_MS);
}

function parseFailure(r: Reader, obj: JValue, path: string, s: BreakerSettings): void {
  const p = join(path, "failure");
  const f = r.obj(obj, "failure", path, FAILURE_KEYS);
  if (r.failed) return;
  let statuses: Array<string> = ["5xx"];
  let ignore: Array<string> = [];
  let errors: Array<string> = ["connect", "reset", "timeout"];
  let grpc = new Array<i32>(0);
  for (let i = 0; i < DEFAULT_GRPC_STATUSES.length; i++) grpc.push(DEFAULT_GRPC_STATUSES[i]);
  if (f !== null) {
    const st = r.arr(f, "statuses", p, false);
    if (st !== null) statuses = statusList(r, st, join(p, "statuses"));
    const ig = r.arr(f, "ignoreStatuses", p, false);
    if (ig !== null) ignore = statusList(r, ig, join(p, "ignoreStatuses"));
    const er = r.arr(f, "errors", p, false);
    if (er !== null) errors = errorList(r, er, join(p, "errors"));
    const gs = r.arr(f, "grpcStatuses", p, false);
    if (gs !== null) grpc = grpcList(r, gs, join(p, "grpcStatuses"));
    if (r.failed) return;
  }
  const g = s.grpcClass;
  for (let i = 0; i <= GRPC_STATUS_MAX; i++) g[i] = <u8>OUTCOME_SUCCESS;
  for (let i = 0; i < grpc.length; i++) g[grpc[i]] = <u8>OUTCOME_FAILURE;
  s.grpcStatuses = grpc;
  const t = s.statusClass;
  for (let i = 0; i < 100; i++) t[i] = <u8>OUTCOME_IGNORED;       // not an HTTP status
  for (let i = 100; i < STATUS_TABLE_SIZE; i++) t[i] = <u8>OUTCOME_SUCCESS;
  for (let i = 0; i < statuses.length; i++) mark(t, statuses[i], <u8>OUTCOME_FAILURE);
  for (let i = 0; i < ignore.length; i++) mark(t, ignore[i], <u8>OUTCOME_IGNORED);  // ignore wins
  let mask = 0;
  for (let i = 0; i < errors.length; i++) mask |= 1 << errorKind(errors[i]);
  s.statuses = statuses;
  s.ignoreStatuses = ignore;
  s.errors = errors;
  s.errorMask = mask;
}

// "5xx" (a class, any case of x) or "503" (or the number 503). Returns the normalized
// text ("5xx", "503") or "" when invalid.
function statusPattern(v: JValue): string {
  if (v.type == JType.Num) {
    if (v.n == Math.floor(v.n) && v.n >= 100 && v.n <= 599) return (<i32>v.n).toString();
    return "";
  }
  if (v.type != JType.Str || v.s.length != 3) return "";
  const s = v.s;
  const c0 = s.charCodeAt(0);
  if (c0 < 0x31 || c0 > 0x35) return "";
  const c1 = s.charCodeAt(1) | 0x20;
  const c2 = s.charCodeAt(2) | 0x20;
  if (c1 == 0x78 && c2 == 0x78) return String.fromCharCode(c0) + "xx";
  const d1 = s.charCodeAt(1);
  const d2 = s.charCodeAt(2);
  if (d1 >= 0x30 && d1 <= 0x39 && d2 >= 0x30 && d2 <= 0x39) return s;
  return "";
}

function statusList(r: Reader, arr: JValue, p: string): Array<string> {
  const out = new Array<string>(0);
  for (let i = 0; i < arr.items.length; i++) {
    const item = arr.items[i];
    const norm = statusPattern(item);
    if (norm.length == 0) { r.failRule(at(p, i), E_STATUS_PATTERN, item); return out; }
    if (out.includes(norm)) { r.failRule(at(p, i), E_UNIQUE, item); return out; }
    out.push(norm);
  }
  return out;
}

function mark(t: StaticArray<u8>, pattern: string, cls: u8): void {
  const c0 = pattern.charCodeAt(0) - 0x30;
  if (pattern.charCodeAt(1) == 0x78) {
    for (let i = c0 * 100; i < c0 * 100 + 100; i++) t[i] = cls;
  } else {
    t[I32.parseInt(pattern)] = cls;
  }
}

function errorKind(s: string): i32 {
  if (s == "connect") return ERROR_CONNECT;
  if (s == "reset") return ERROR_RESET;
  if (s == "timeout") return ERROR_TIMEOUT;
  return -1;
}

function errorList(r: Reader, arr: JValue, p: string): Array<string> {
  const out = new Array<string>(0);
  for (let i = 0; i < arr.items.length; i++) {
    const item = arr.items[i];
    if (item.type != JType.Str) { r.failRule(at(p, i), E_STRING, item); return out; }
    if (errorKind(item.s) < 0) { r.failRule(at(p, i), E_ERROR_KIND, item); return out; }
    if (out.includes(item.s)) { r.failRule(at(p, i), E_UNIQUE, item); return out; }
    out.push(item.s);
  }
  return out;
}

// gRPC status codes, integers 0-16, unique.
function grpcList(r: Reader, arr: JValue, p: string): Array<i32> {
  const out = new Array<i32>(0);
  for (let i = 0; i < arr.items.length; i++) {
    const item = arr.items[i];
    if (item.type != JType.Num || item.n != Math.floor(item.n) || item.n < 0 || item.n > <f64>GRPC_STATUS_MAX) {
      r.failRule(at(p, i), E_GRPC_STATUS, item); return out;
    }
    const c = <i32>item.n;
    if (out.includes(c)) { r.failRule(at(p, i), E_UNIQUE, item); return out; }
    out.push(c);
  }
  return out;
}

// Window type and shape: states encoded under a different shape are not decoded.
function shapeOf(s: BreakerSettings): u32 {
  let h: u32 = 0x7461_6e64;  // "tand"
  h = fmix32(h ^ <u32>s.windowType);
  h = fmix32(h ^ <u32>(s.windowType == WindowType.Count ? s.windowSize : s.buckets));
  h = fmix32(h ^ <u32>(s.windowType == WindowType.Count ? 0 : <i32>s.bucketMs));
  return h;
}
