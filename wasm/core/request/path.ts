// The path a path rule or `scope.pathPrefixes` tests: the request target's path (before
// the first '?' or '#'), normalized so that both gateways hand the core the same bytes
// for the same request. Kong's plugins read the raw request URI
// (kong.request.get_path_with_query); Envoy behind Istio has already normalized :path
// (meshConfig.pathNormalization, default BASE: RFC 3986 canonicalization) and may have
// merged slashes. This algorithm gives the same result on the raw path and on what Envoy
// made of it (for NONE, BASE and MERGE_SLASHES), in Envoy's order:
//   1. '\' is '/';
//   2. an escape of an unreserved character (A-Z a-z 0-9 - . _ ~) is decoded; any other
//      escape is kept, hex upper-cased (%2f -> %2F: an encoded slash stays data, not a
//      separator); a '%' not followed by two hex digits is kept;
//   3. bytes outside the path character set (controls, space, DEL, bytes >= 0x80,
//      " < > ` { | } ^) are percent-encoded, upper-case hex;
//   4. dot segments are removed ('.' and '..' after step 2, so '%2e%2e' too; RFC 3986
//      5.2.4, '..' never climbs above '/'), empty segments counting as segments;
//   5. runs of '/' become one.
// `/a/../admin`, `//admin`, `/%61dmin` all become `/admin`; `/admin%2F..` stays as it is.
// Cost: one scan of the path; a path with none of '%', '\', "//", "/." and no byte to
// encode is used in place (no copy). Otherwise two passes over a buffer of 3 bytes per
// input byte, grown on demand and kept (at most the largest path seen).
import { Bytes } from "../text/bytes";

const HEX_UPPER = "0123456789ABCDEF";

// @ts-ignore: decorator
@inline function hexVal(c: u32): i32 {
  if (c - 0x30 < 10) return <i32>(c - 0x30);
  const l = c | 0x20;
  if (l - 0x61 < 6) return <i32>(l - 0x61 + 10);
  return -1;
}

// @ts-ignore: decorator
@inline function unreserved(c: u32): bool {
  return (c | 0x20) - 0x61 < 26 || c - 0x30 < 10 || c == 0x2d || c == 0x2e || c == 0x5f || c == 0x7e;
}

// @ts-ignore: decorator
@inline function mustEncode(c: u32): bool {
  return c <= 0x20 || c >= 0x7f || c == 0x22 || c == 0x3c || c == 0x3e || c == 0x60 || c == 0x7b || c == 0x7c || c == 0x7d || c == 0x5e;
}

export class PathNormalizer {
  private buf: StaticArray<u8> = new StaticArray<u8>(0);

  // `out` = the normalized path of the target `raw` (present): a view of `raw` or of
  // this normalizer's buffer, valid until the next call.
  normalize(raw: Bytes, out: Bytes): void {
    const p = raw.ptr;
    let n = raw.len;
    let plain = true;
    let prev: u32 = 0;
    for (let i = 0; i < n; i++) {
      const c = <u32>load<u8>(p + i);
      if (c == 0x3f || c == 0x23) { n = i; break; }
      if (c == 0x25 || c == 0x5c || mustEncode(c) || (prev == 0x2f && (c == 0x2f || c == 0x2e))) plain = false;
      prev = c;
    }
    if (plain) { out.set(p, n); return; }
    if (this.buf.length < n * 3) this.buf = new StaticArray<u8>(n * 3 + 64);
    const b = changetype<usize>(this.buf);
    let m = encodePass(p, n, b);
    if (m > 0 && load<u8>(b) == 0x2f) {
      m = removeDots(b, m);
      m = mergeSlashes(b, m);
    }
    out.set(b, m);
  }
}

// Steps 1-3, from `p` (n bytes) into `b`; returns the length written.
function encodePass(p: usize, n: i32, b: usize): i32 {
  let w = 0;
  for (let i = 0; i < n; i++) {
    const c = <u32>load<u8>(p + i);
    if (c == 0x25 && i + 2 < n) {
      const hi = hexVal(load<u8>(p + i + 1));
      const lo = hexVal(load<u8>(p + i + 2));
      if (hi >= 0 && lo >= 0) {
        const v = <u32>((hi << 4) | lo);
        if (unreserved(v)) store<u8>(b + w++, <u8>v);
        else {
          store<u8>(b + w++, 0x25);
          store<u8>(b + w++, <u8>HEX_UPPER.charCodeAt(hi));
          store<u8>(b + w++, <u8>HEX_UPPER.charCodeAt(lo));
        }
        i += 2;
        continue;
      }
    }
    if (c == 0x5c) store<u8>(b + w++, 0x2f);
    else if (c != 0x25 && mustEncode(c)) {
      store<u8>(b + w++, 0x25);
      store<u8>(b + w++, <u8>HEX_UPPER.charCodeAt(<i32>(c >> 4)));
      store<u8>(b + w++, <u8>HEX_UPPER.charCodeAt(<i32>(c & 0xf)));
    } else store<u8>(b + w++, <u8>c);
  }
  return w;
}

// Step 4 in place on a path starting with '/': each segment is '/' + its bytes; '.'
// drops itself, '..' drops itself and the segment before (an empty one included); either
// at the end leaves a trailing '/'. The write index never passes the read index.
function removeDots(b: usize, m: i32): i32 {
  let w = 0;
  let i = 0;
  while (i < m) {
    let j = i + 1;
    while (j < m && load<u8>(b + j) != 0x2f) j++;
    const len = j - i - 1;
    const dot1 = len == 1 && load<u8>(b + i + 1) == 0x2e;
    const dot2 = len == 2 && load<u8>(b + i + 1) == 0x2e && load<u8>(b + i + 2) == 0x2e;
    if (dot1 || dot2) {
      if (dot2) {
        while (w > 0 && load<u8>(b + w - 1) != 0x2f) w--;
        if (w > 0) w--;
      }
      if (j == m) store<u8>(b + w++, 0x2f);
    } else {
      memory.copy(b + w, b + i, j - i);
      w += j - i;
    }
    i = j;
  }
  return w;
}

// Step 5 in place.
function mergeSlashes(b: usize, m: i32): i32 {
  let w = 0;
  for (let i = 0; i < m; i++) {
    const c = load<u8>(b + i);
    if (c == 0x2f && w > 0 && load<u8>(b + w - 1) == 0x2f) continue;
    store<u8>(b + w++, c);
  }
  return w;
}
