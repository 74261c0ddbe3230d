import { asciiLower } from "../text/bytes";
// Parsing and validation of `spec.fallback` into FallbackSettings: what the gateway
// answers instead of the upstream (a response, or another variant / upstream) and when.
import { JType, JValue } from "../json/json";
import { Reader, at, join, quote } from "../config/reader";
import {
  E_BODY_SIZE, E_CONTENT_TYPE_HEADER, E_FALLBACK_ACTION, E_FALLBACK_ANSWER_ONCE, E_FALLBACK_CACHE_ONCE, E_FALLBACK_LIST,
  E_FALLBACK_UNREACHABLE, E_FALLBACK_ON, E_HEADER_NAME, E_HEADER_RESERVED,
  E_HEADER_VALUE, E_NAME, E_NOT_EMPTY, E_OBJECT, E_REROUTE_TARGET, E_STRING, E_UNIQUE, E_UPSTREAM_NAME, ruleText } from "../config/errors";
import { isToken, utf8 } from "../text/bytes";
import { isName } from "../config/reader";
import { parseCache } from "../cache/config";
import {
  DEFAULT_CONTENT_TYPE, DEFAULT_FALLBACK_GRPC_STATUS, DEFAULT_FALLBACK_STATUS, FallbackHeader, GRPC_STATUS_MAX, FallbackKind, FallbackSettings, MAX_BODY_BYTES,
} from "./settings";

const FALLBACK_KEYS: StaticArray<string> = ["respond", "reroute", "cache", "on"];
const RESPOND_KEYS: StaticArray<string> = ["status", "headers", "body", "contentType", "grpcStatus"];
const REROUTE_KEYS: StaticArray<string> = ["variant", "upstream"];
// Framing and hop-by-hop headers belong to the gateway, not to a fallback response.
const RESERVED_HEADERS: StaticArray<string> = [
  "content-length", "transfer-encoding", "connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade",
];
const MAX_HEADER_VALUE = 8192;
const MAX_FALLBACK_HEADERS = 64;

// spec.fallback: what the gateway answers instead of the upstream. One fallback (an
// object: respond, reroute or cache, with `on`), or an ordered list of them: for each
// case (`on`) the first fallback that covers it answers; a cache without an entry for
// the request passes the case on to the next one, and then to the gateway's own answer.
// At most one cache and one respond/reroute, so the list is [cache, respond],
// [cache, reroute] or either alone (or the two in the other order with cases apart).
export function parseFallback(r: Reader, v: JValue | null, path: string): FallbackSettings | null {
  const f = new FallbackSettings();
  if (v !== null && v.type == JType.Arr) {
    if (v.items.length < 1 || v.items.length > 2) { r.failText(path, ruleText(E_FALLBACK_LIST) + ", got " + v.items.length.toString()); return null; }
    // Cases (bit 1 open, bit 2 upstreamFailure) a respond/reroute earlier in the list answers.
    let answered = 0;
    let answers = false;
    for (let i = 0; i < v.items.length; i++) {
      const ip = at(path, i);
      const item = v.items[i];
      const isCache = item.type == JType.Obj && r.field(item, "cache") !== null;
      if (isCache && f.cache !== null) { r.failText(join(ip, "cache"), ruleText(E_FALLBACK_CACHE_ONCE)); return null; }
      if (!isCache && answers && item.type == JType.Obj) { r.failText(ip, ruleText(E_FALLBACK_ANSWER_ONCE)); return null; }
      const cases = parseItem(r, item, ip, f);
      if (r.failed) return null;
      if ((cases & ~answered) == 0) { r.failText(ip, ruleText(E_FALLBACK_UNREACHABLE)); return null; }
      if (!isCache) { answers = true; answered |= cases; }
    }
    return f;
  }
  parseItem(r, v, path, f);
  return r.failed ? null : f;
}

// One fallback into `f`; returns the cases it covers (bit 1 open, bit 2 upstreamFailure).
function parseItem(r: Reader, v: JValue | null, path: string, f: FallbackSettings): i32 {
  if (!r.object(v, path, FALLBACK_KEYS)) return 0;
  const obj = v as JValue;
  const respond = r.obj(obj, "respond", path, RESPOND_KEYS);
  if (r.failed) return 0;
  const reroute = r.obj(obj, "reroute", path, REROUTE_KEYS);
  if (r.failed) return 0;
  const cache = r.field(obj, "cache");
  const n = (respond !== null ? 1 : 0) + (reroute !== null ? 1 : 0) + (cache !== null ? 1 : 0);
  if (n != 1) { r.failText(path, ruleText(E_FALLBACK_ACTION)); return 0; }
  const on = new FallbackSettings();
  on.onOpen = true;   // default: [open]
  parseOn(r, obj, path, on);
  if (r.failed) return 0;
  if (cache !== null) {
    f.cache = parseCache(r, cache, join(path, "cache"));
    f.cacheOnOpen = on.onOpen;
    f.cacheOnUpstreamFailure = on.onUpstreamFailure;
  } else {
    if (respond !== null) parseRespond(r, respond, join(path, "respond"), f);
    else parseReroute(r, reroute as JValue, join(path, "reroute"), f);
    f.onOpen = on.onOpen;
    f.onUpstreamFailure = on.onUpstreamFailure;
    f.field = path;
  }
  if (r.failed) return 0;
  return (on.onOpen ? 1 : 0) | (on.onUpstreamFailure ? 2 : 0);
}

export function parseRespond(r: Reader, o: JValue, p: string, f: FallbackSettings): void {
  f.kind = FallbackKind.Respond;
  f.status = <i32>r.int(o, "status", p, DEFAULT_FALLBACK_STATUS, 100, 599);
  // What a gRPC request gets instead (a trailers-only 200, ../request/grpc.ts).
  f.grpcStatus = <i32>r.int(o, "grpcStatus", p, DEFAULT_FALLBACK_GRPC_STATUS, 0, GRPC_STATUS_MAX);
  const body = r.str(o, "body", p, "") as string;
  if (r.failed) return;
  const bodyBytes = utf8(body);
  if (bodyBytes.length > MAX_BODY_BYTES) {
    r.failText(join(p, "body"), ruleText(E_BODY_SIZE) + ", got " + bodyBytes.length.toString() + " bytes");
    return;
  }
  f.body = body;
  f.bodyBytes = bodyBytes;
  const ctGiven = r.field(o, "contentType") !== null;
  const ct = r.str(o, "contentType", p, body.length > 0 ? DEFAULT_CONTENT_TYPE : "") as string;
  if (r.failed) return;
  if (ctGiven && !isHeaderValue(ct, true)) { r.failRule(join(p, "contentType"), E_HEADER_VALUE, o.get("contentType")); return; }
  f.contentType = ct;
  f.contentTypeBytes = utf8(ct);
  const hp = join(p, "headers");
  const h = r.field(o, "headers");
  if (h === null) return;
  if (h.type != JType.Obj) { r.failRule(hp, E_OBJECT, h); return; }
  if (h.keys.length > MAX_FALLBACK_HEADERS) {
    r.failText(hp, "must have at most " + MAX_FALLBACK_HEADERS.toString() + " headers, got " + h.keys.length.toString());
    return;
  }
  const list = new Array<FallbackHeader>(0);
  for (let i = 0; i < h.keys.length; i++) {
    const name = h.keys[i];
    const val = h.vals[i];
    const np = join(hp, name);
    if (val.type == JType.Null) continue;
    if (!isToken(name, 128)) { r.failText(hp, ruleText(E_HEADER_NAME) + ", got " + quote(name)); return; }
    const lname = asciiLower(name);
    for (let j = 0; j < RESERVED_HEADERS.length; j++) {
      if (RESERVED_HEADERS[j] == lname) { r.failText(np, ruleText(E_HEADER_RESERVED)); return; }
    }
    if (lname == "content-type") { r.failText(np, ruleText(E_CONTENT_TYPE_HEADER)); return; }
    for (let j = 0; j < list.length; j++) {
      if (list[j].name == lname) { r.failText(np, ruleText(E_UNIQUE) + " (header names ignore case)"); return; }
    }
    if (val.type != JType.Str) { r.failRule(np, E_STRING, val); return; }
    if (!isHeaderValue(val.s, false)) { r.failRule(np, E_HEADER_VALUE, val); return; }
    if (lname == "retry-after") f.retryAfter = false;
    list.push(new FallbackHeader(lname, val.s));
  }
  f.headers = StaticArray.fromArray(list);
}

// RFC 9110 field-value: visible characters, spaces and tabs (obs-text allowed), no
// leading or trailing whitespace, no CR/LF/NUL.
function isHeaderValue(s: string, nonEmpty: bool): bool {
  if (s.length > MAX_HEADER_VALUE) return false;
  if (s.length == 0) return !nonEmpty;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c < 0x20 && c != 0x09) || c == 0x7f) return false;
  }
  const first = s.charCodeAt(0);
  const last = s.charCodeAt(s.length - 1);
  return first != 0x20 && first != 0x09 && last != 0x20 && last != 0x09;
}

function parseReroute(r: Reader, o: JValue, p: string, f: FallbackSettings): void {
  f.kind = FallbackKind.Reroute;
  const hasVariant = r.field(o, "variant") !== null;
  const hasUpstream = r.field(o, "upstream") !== null;
  if (hasVariant == hasUpstream) { r.failText(p, ruleText(E_REROUTE_TARGET)); return; }
  if (hasVariant) {
    const v = r.str(o, "variant", p, null) as string;
    if (r.failed) return;
    if (!isName(v)) { r.failRule(join(p, "variant"), E_NAME, o.get("variant")); return; }
    f.variant = v;
  } else {
    const u = r.str(o, "upstream", p, null) as string;
    if (r.failed) return;
    if (!isUpstreamName(u)) { r.failRule(join(p, "upstream"), E_UPSTREAM_NAME, o.get("upstream")); return; }
    f.upstream = u;
  }
}

export function isUpstreamName(s: string): bool {
  if (s.length == 0 || s.length > 256) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 0x20 || c == 0x7f) return false;
  }
  return true;
}

function parseOn(r: Reader, obj: JValue, path: string, f: FallbackSettings): void {
  const p = join(path, "on");
  const arr = r.arr(obj, "on", path, false);
  if (r.failed || arr === null) return;   // default: [open]
  if (arr.items.length == 0) { r.failRule(p, E_NOT_EMPTY, null); return; }
  let open = false;
  let upstream = false;
  for (let i = 0; i < arr.items.length; i++) {
    const item = arr.items[i];
    if (item.type != JType.Str) { r.failRule(at(p, i), E_STRING, item); return; }
    if (item.s == "open") {
      if (open) { r.failRule(at(p, i), E_UNIQUE, item); return; }
      open = true;
    } else if (item.s == "upstreamFailure") {
      if (upstream) { r.failRule(at(p, i), E_UNIQUE, item); return; }
      upstream = true;
    } else { r.failRule(at(p, i), E_FALLBACK_ON, item); return; }
  }
  f.onOpen = open;
  f.onUpstreamFailure = upstream;
}

// The `reroute` object of spec.fallback (the single form or an item of the list) and
// its field path, for checks across sections (../policy.ts); null without one.
export class RerouteRef { v: JValue | null = null; path: string = ""; }
export function rerouteOf(fb: JValue, path: string): RerouteRef {
  const out = new RerouteRef();
  if (fb.type == JType.Obj) {
    const r = fb.get("reroute");
    if (r !== null && r.type == JType.Obj) { out.v = r; out.path = join(path, "reroute"); }
  } else if (fb.type == JType.Arr) {
    for (let i = 0; i < fb.items.length && out.v === null; i++) {
      const it = fb.items[i];
      const r = it.type == JType.Obj ? it.get("reroute") : null;
      if (r !== null && r.type == JType.Obj) { out.v = r; out.path = join(at(path, i), "reroute"); }
    }
  }
  return out;
}
