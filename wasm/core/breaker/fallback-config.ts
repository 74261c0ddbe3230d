import { asciiLower } from "../text/bytes";
// Parsing and validation of `spec.fallback` into FallbackSettings: what the gateway
// answers instead of the upstream (a response, or another variant / upstream) and when.
import { JType, JValue } from "../json/json";
import { Reader, at, join, quote } from "../config/reader";
import {
  E_BODY_SIZE, E_CONTENT_TYPE_HEADER, E_FALLBACK_ACTION, E_FALLBACK_ON, E_HEADER_NAME, E_HEADER_RESERVED,
  E_HEADER_VALUE, E_NAME, E_NOT_EMPTY, E_OBJECT, E_REROUTE_TARGET, E_STRING, E_UNIQUE, E_UPSTREAM_NAME,
} from "../config/errors";
import { isToken, utf8 } from "../text/bytes";
import { isName } from "../config/reader";
import {
  DEFAULT_CONTENT_TYPE, DEFAULT_FALLBACK_STATUS, FallbackHeader, FallbackKind, FallbackSettings, MAX_BODY_BYTES,
} from "./settings";

const FALLBACK_KEYS: StaticArray<string> = ["respond", "reroute", "on"];
const RESPOND_KEYS: StaticArray<string> = ["status", "headers", "body", "contentType"];
const REROUTE_KEYS: StaticArray<string> = ["variant", "upstream"];
// Framing and hop-by-hop headers belong to the gateway, not to a fallback response.
const RESERVED_HEADERS: StaticArray<string> = [
  "content-length", "transfer-encoding", "connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade",
];
const MAX_HEADER_VALUE = 8192;
const MAX_FALLBACK_HEADERS = 64;

// spec.fallback: what the gateway answers instead of the upstream.
export function parseFallback(r: Reader, v: JValue | null, path: string): FallbackSettings | null {
  if (!r.object(v, path, FALLBACK_KEYS)) return null;
  const obj = v as JValue;
  const f = new FallbackSettings();
  const respond = r.obj(obj, "respond", path, RESPOND_KEYS);
  if (r.failed) return null;
  const reroute = r.obj(obj, "reroute", path, REROUTE_KEYS);
  if (r.failed) return null;
  if ((respond === null) == (reroute === null)) { r.failText(path, E_FALLBACK_ACTION); return null; }
  if (respond !== null) parseRespond(r, respond, join(path, "respond"), f);
  else parseReroute(r, reroute as JValue, join(path, "reroute"), f);
  if (r.failed) return null;
  parseOn(r, obj, path, f);
  if (r.failed) return null;
  return f;
}

export function parseRespond(r: Reader, o: JValue, p: string, f: FallbackSettings): void {
  f.kind = FallbackKind.Respond;
  f.status = <i32>r.int(o, "status", p, DEFAULT_FALLBACK_STATUS, 100, 599);
  const body = r.str(o, "body", p, "") as string;
  if (r.failed) return;
  const bodyBytes = utf8(body);
  if (bodyBytes.length > MAX_BODY_BYTES) {
    r.failText(join(p, "body"), E_BODY_SIZE + ", got " + bodyBytes.length.toString() + " bytes");
    return;
  }
  f.body = body;
  f.bodyBytes = bodyBytes;
  const ctGiven = r.field(o, "contentType") !== null;
  const ct = r.str(o, "contentType", p, body.length > 0 ? DEFAULT_CONTENT_TYPE : "") as string;
  if (r.failed) return;
  if (ctGiven && !isHeaderValue(ct, true)) { r.fail(join(p, "contentType"), E_HEADER_VALUE, o.get("contentType")); return; }
  f.contentType = ct;
  f.contentTypeBytes = utf8(ct);
  const hp = join(p, "headers");
  const h = r.field(o, "headers");
  if (h === null) return;
  if (h.type != JType.Obj) { r.fail(hp, E_OBJECT, h); return; }
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
    if (!isToken(name, 128)) { r.failText(hp, E_HEADER_NAME + ", got " + quote(name)); return; }
    const lname = asciiLower(name);
    for (let j = 0; j < RESERVED_HEADERS.length; j++) {
      if (RESERVED_HEADERS[j] == lname) { r.failText(np, E_HEADER_RESERVED); return; }
    }
    if (lname == "content-type") { r.failText(np, E_CONTENT_TYPE_HEADER); return; }
    for (let j = 0; j < list.length; j++) {
      if (list[j].name == lname) { r.failText(np, E_UNIQUE + " (header names ignore case)"); return; }
    }
    if (val.type != JType.Str) { r.fail(np, E_STRING, val); return; }
    if (!isHeaderValue(val.s, false)) { r.fail(np, E_HEADER_VALUE, val); return; }
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
  if (hasVariant == hasUpstream) { r.failText(p, E_REROUTE_TARGET); return; }
  if (hasVariant) {
    const v = r.str(o, "variant", p, null) as string;
    if (r.failed) return;
    if (!isName(v)) { r.fail(join(p, "variant"), E_NAME, o.get("variant")); return; }
    f.variant = v;
  } else {
    const u = r.str(o, "upstream", p, null) as string;
    if (r.failed) return;
    if (!isUpstreamName(u)) { r.fail(join(p, "upstream"), E_UPSTREAM_NAME, o.get("upstream")); return; }
    f.upstream = u;
  }
}

function isUpstreamName(s: string): bool {
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
  if (arr.items.length == 0) { r.fail(p, E_NOT_EMPTY, null); return; }
  let open = false;
  let upstream = false;
  for (let i = 0; i < arr.items.length; i++) {
    const item = arr.items[i];
    if (item.type != JType.Str) { r.fail(at(p, i), E_STRING, item); return; }
    if (item.s == "open") {
      if (open) { r.fail(at(p, i), E_UNIQUE, item); return; }
      open = true;
    } else if (item.s == "upstreamFailure") {
      if (upstream) { r.fail(at(p, i), E_UNIQUE, item); return; }
      upstream = true;
    } else { r.fail(at(p, i), E_FALLBACK_ON, item); return; }
  }
  f.onOpen = open;
  f.onUpstreamFailure = upstream;
}
