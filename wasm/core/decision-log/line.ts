// The decision log's line: one JSON object per sampled decided request, built here so
// both gateways (and `tandem simulate --decisions`) write the same fields in the same
// order with the same values. Adapters pass what they already have at the end of the
// request (the same facts tandem_requests_total is recorded from) and write the bytes:
// Envoy with one proxy_log, Kong on the plugin server's stdout (docs/metrics.md).
//
//   tandem: decision {"policy":"checkout","experiment":"checkout-v2","variant":"canary",
//   "reason":"split","rule":null,"source":"cookie","answered_by":"upstream","status":200,
//   "code_class":"2xx","latency_ms":12,"request_id":"3f0c…"}
//
// Every string is escaped (JSON, RFC 8259): `"` `\` and control bytes as escapes, valid
// UTF-8 kept, each byte of an invalid sequence as \ufffd. The request id is the one
// request value in the line, cut to MAX_ID_BYTES (at a character boundary) so a line
// stays far below nginx's 2048-byte error-log line (NGX_MAX_ERROR_STR), which would cut
// it on Kong.
import { ExperimentSettings } from "../experiment/settings";
import { REASON_RULE0 } from "../contract";
import {
  ANSWERED_FALLBACK, ANSWERED_FAULT, ANSWERED_LABELS, CODE_CLASSES, DECISION_LOG_PREFIX, REASON_LABELS, SOURCE_LABELS, codeClassIndex, reasonLabelIndex,
} from "../metrics/catalog";

export const MAX_ID_BYTES = 128;
// prefix + names (<= 64 bytes each, [A-Za-z0-9._-]) + labels + id (<= 128 bytes, at most
// 6 bytes each escaped) fit.
const LINE_BYTES = 1536;

const buf = new StaticArray<u8>(LINE_BYTES);
let at = 0;

function byte(c: u32): void { unchecked(buf[at++] = <u8>c); }

function ascii(s: string): void {
  for (let i = 0; i < s.length; i++) byte(<u32>s.charCodeAt(i));
}

function hex(n: u32): void { byte(n < 10 ? 0x30 + n : 0x57 + n); }

function escaped(c: u32): void {
  byte(0x5c);
  if (c == 0x22 || c == 0x5c) { byte(c); return; }
  byte(0x75); byte(0x30); byte(0x30); hex(c >> 4); hex(c & 15);
}

function replacement(): void { ascii("\\ufffd"); }

// A name from the policy (ASCII: checked by isName at configure), as a JSON string.
function str(s: string): void {
  byte(0x22);
  for (let i = 0; i < s.length; i++) {
    const c = <u32>s.charCodeAt(i);
    if (c == 0x22 || c == 0x5c || c < 0x20 || c == 0x7f) escaped(c);
    else if (c < 0x80) byte(c);
    else replacement();   // never, for names isName accepts
  }
  byte(0x22);
}

// The length of a valid UTF-8 sequence starting at p (n bytes left), 0 when invalid.
function seqLen(p: usize, n: i32): i32 {
  const b0 = <u32>load<u8>(p);
  let len = 0;
  let lo: u32 = 0x80, hi: u32 = 0xbf;
  if (b0 >= 0xc2 && b0 <= 0xdf) len = 2;
  else if (b0 >= 0xe0 && b0 <= 0xef) { len = 3; if (b0 == 0xe0) lo = 0xa0; if (b0 == 0xed) hi = 0x9f; }
  else if (b0 >= 0xf0 && b0 <= 0xf4) { len = 4; if (b0 == 0xf0) lo = 0x90; if (b0 == 0xf4) hi = 0x8f; }
  else return 0;
  if (len > n) return 0;
  const b1 = <u32>load<u8>(p + 1);
  if (b1 < lo || b1 > hi) return 0;
  for (let i = 2; i < len; i++) {
    const b = <u32>load<u8>(p + i);
    if (b < 0x80 || b > 0xbf) return 0;
  }
  return len;
}

// Request bytes as a JSON string, at most MAX_ID_BYTES of them: a longer value is cut
// before the character that crosses that length (its continuation bytes go with it).
function bytesStr(p: usize, n: i32): void {
  if (n > MAX_ID_BYTES) {
    n = MAX_ID_BYTES;
    while (n > 0 && (<u32>load<u8>(p + n) & 0xc0) == 0x80) n--;
  }
  byte(0x22);
  let i = 0;
  while (i < n) {
    const c = <u32>load<u8>(p + i);
    if (c < 0x80) {
      if (c == 0x22 || c == 0x5c || c < 0x20 || c == 0x7f) escaped(c); else byte(c);
      i++;
      continue;
    }
    const l = seqLen(p + i, n - i);
    if (l == 0) { replacement(); i++; continue; }
    for (let j = 0; j < l; j++) byte(<u32>load<u8>(p + i + j));
    i += l;
  }
  byte(0x22);
}

function int(v: i64): void {
  if (v < 0) { byte(0x2d); v = -v; }
  let d: i64 = 1;
  while (d * 10 <= v) d *= 10;
  while (d > 0) { byte(<u32>(0x30 + (v / d) % 10)); d /= 10; }
}

function key(k: string, first: bool = false): void {
  if (!first) byte(0x2c);
  byte(0x22); ascii(k); byte(0x22); byte(0x3a);
}

// The line (DECISION_LOG_PREFIX + JSON, no newline) for a decided request:
//   variant   index into s.variants;  reason  REASON_* (../contract.ts) of the decision;
//   source    SOURCE_LABELS index (catalog sourceLabelIndex);
//   answeredBy ANSWERED_* (catalog): who answered (the upstream, the breaker's fallback, a fault's abort);
//   status    the status the client got (outside 100-599: null);
//   latencyMs the request's upstream latency (metrics' duration), < 0 when no upstream answered or failed;
//   id        the request id bytes (idLen < 0: none).
// Returns the line's length; its bytes are at linePtr().
export function buildLine(s: ExperimentSettings, variant: i32, reason: i32, source: i32, answeredBy: i32, status: i32, latencyMs: f64, idPtr: usize, idLen: i32): i32 {
  at = 0;
  ascii(DECISION_LOG_PREFIX);
  byte(0x7b);
  key("policy", true); str(s.policy);
  key("experiment"); str(s.name);
  key("variant"); str(variant >= 0 && variant < s.variants.length ? unchecked(s.variants[variant]).name : "other");
  key("reason"); str(REASON_LABELS[<i32>reasonLabelIndex(reason)]);
  key("rule"); if (reason >= REASON_RULE0) int(reason - REASON_RULE0); else ascii("null");
  key("source"); if (source >= 0 && source < SOURCE_LABELS.length) str(SOURCE_LABELS[source]); else ascii("null");
  key("answered_by"); str(ANSWERED_LABELS[answeredBy == ANSWERED_FAULT ? 2 : answeredBy == ANSWERED_FALLBACK ? 1 : 0]);
  const c = <i32>codeClassIndex(status);
  key("status"); if (c >= 0) int(status); else ascii("null");
  key("code_class"); if (c >= 0) str(CODE_CLASSES[c]); else ascii("null");
  key("latency_ms"); if (latencyMs >= 0 && latencyMs < 1e12) int(<i64>Math.round(latencyMs)); else ascii("null");
  key("request_id"); if (idLen >= 0) bytesStr(idPtr, idLen); else ascii("null");
  byte(0x7d);
  return at;
}

export function linePtr(): usize { return changetype<usize>(buf); }
