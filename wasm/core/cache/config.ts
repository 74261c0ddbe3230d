// Parsing and validation of a cache fallback (spec.fallback.cache, or an item of the
// fallback list) into CacheSettings. Field paths as the policy names them
// ("fallback[0].cache.maxBodyBytes").
import { JType, JValue } from "../json/json";
import { Reader, at, join } from "../config/reader";
import { E_CACHE_METHOD, E_CACHE_STATUS, E_HEADER_NAME, E_INTEGER, E_NOT_EMPTY, E_STRING, E_UNIQUE, ruleText } from "../config/errors";
import { asciiLower, isToken } from "../text/bytes";
import {
  CACHEABLE_STATUSES, CacheSettings, DEFAULT_CACHE_MAX_BODY, DEFAULT_CACHE_MAX_ENTRIES, DEFAULT_CACHE_STATUSES,
  DEFAULT_CACHE_TTL_MS, DEFAULT_VARY, MAX_CACHE_BODY, MAX_CACHE_ENTRIES, MAX_CACHE_TTL_MS, MAX_VARY_HEADERS,
  METHOD_GET, METHOD_HEAD,
} from "./settings";

const CACHE_KEYS: StaticArray<string> = ["methods", "maxEntries", "maxBodyBytes", "ttlMs", "varyHeaders", "statuses", "cacheAuthorized"];

export function parseCache(r: Reader, v: JValue, p: string): CacheSettings | null {
  if (!r.object(v, p, CACHE_KEYS)) return null;
  const c = new CacheSettings();
  parseMethods(r, v, p, c);
  c.maxEntries = <i32>r.int(v, "maxEntries", p, DEFAULT_CACHE_MAX_ENTRIES, 1, MAX_CACHE_ENTRIES);
  c.maxBodyBytes = <i32>r.int(v, "maxBodyBytes", p, DEFAULT_CACHE_MAX_BODY, 1, MAX_CACHE_BODY);
  c.ttlMs = <f64>r.int(v, "ttlMs", p, DEFAULT_CACHE_TTL_MS, 1, MAX_CACHE_TTL_MS);
  if (r.failed) return null;
  parseVary(r, v, p, c);
  parseStatuses(r, v, p, c);
  c.authorized = r.bool(v, "cacheAuthorized", p, false);
  if (r.failed) return null;
  for (let i = 0; i < c.statuses.length; i++) c.statusOk[c.statuses[i]] = true;
  return c;
}

function parseMethods(r: Reader, v: JValue, p: string, c: CacheSettings): void {
  const arr = r.arr(v, "methods", p, false);
  if (r.failed || arr === null) return;
  const mp = join(p, "methods");
  if (arr.items.length == 0) { r.failRule(mp, E_NOT_EMPTY, null); return; }
  let bits = 0;
  const names = new Array<string>(0);
  for (let i = 0; i < arr.items.length; i++) {
    const item = arr.items[i];
    if (item.type != JType.Str) { r.failRule(at(mp, i), E_STRING, item); return; }
    // Methods are case-sensitive (RFC 9110 9.1): "get" is another method.
    const bit = item.s == "GET" ? METHOD_GET : item.s == "HEAD" ? METHOD_HEAD : 0;
    if (bit == 0) { r.failRule(at(mp, i), E_CACHE_METHOD, item); return; }
    if ((bits & bit) != 0) { r.failRule(at(mp, i), E_UNIQUE, item); return; }
    bits |= bit;
    names.push(item.s);
  }
  c.methods = bits;
  c.methodNames = names;
}

function parseVary(r: Reader, v: JValue, p: string, c: CacheSettings): void {
  const arr = r.arr(v, "varyHeaders", p, false);
  const out = new Array<string>(0);
  if (arr === null) {
    if (!r.failed) for (let i = 0; i < DEFAULT_VARY.length; i++) out.push(DEFAULT_VARY[i]);
    c.vary = out;
    return;
  }
  const vp = join(p, "varyHeaders");
  if (arr.items.length > MAX_VARY_HEADERS) {
    r.failText(vp, "must have at most " + MAX_VARY_HEADERS.toString() + " headers, got " + arr.items.length.toString());
    return;
  }
  for (let i = 0; i < arr.items.length; i++) {
    const item = arr.items[i];
    if (item.type != JType.Str) { r.failRule(at(vp, i), E_STRING, item); return; }
    if (!isToken(item.s, 128)) { r.failRule(at(vp, i), E_HEADER_NAME, item); return; }
    const name = asciiLower(item.s);
    if (out.includes(name)) { r.fail(at(vp, i), ruleText(E_UNIQUE) + " (header names ignore case)", item); return; }
    out.push(name);
  }
  c.vary = out;
}

function parseStatuses(r: Reader, v: JValue, p: string, c: CacheSettings): void {
  const arr = r.arr(v, "statuses", p, false);
  const out = new Array<i32>(0);
  if (arr === null) {
    if (!r.failed) for (let i = 0; i < DEFAULT_CACHE_STATUSES.length; i++) out.push(DEFAULT_CACHE_STATUSES[i]);
    c.statuses = out;
    return;
  }
  const sp = join(p, "statuses");
  if (arr.items.length == 0) { r.failRule(sp, E_NOT_EMPTY, null); return; }
  for (let i = 0; i < arr.items.length; i++) {
    const item = arr.items[i];
    if (item.type != JType.Num || item.n != Math.floor(item.n)) { r.failRule(at(sp, i), E_INTEGER, item); return; }
    const st = <i32>item.n;
    let ok = item.n >= 100 && item.n <= 599;
    if (ok) { ok = false; for (let j = 0; j < CACHEABLE_STATUSES.length; j++) if (CACHEABLE_STATUSES[j] == st) ok = true; }
    if (!ok) { r.failRule(at(sp, i), E_CACHE_STATUS, item); return; }
    if (out.includes(st)) { r.failRule(at(sp, i), E_UNIQUE, item); return; }
    out.push(st);
  }
  c.statuses = out;
}
