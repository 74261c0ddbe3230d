// Cache-Control directives of a response (RFC 9111 5.2.2), the ones that decide
// whether and how long the cache fallback may keep and serve it. Names are
// case-insensitive; arguments are tokens or quoted strings; a directive given twice or
// with a bad argument counts as its most restrictive reading (RFC 9111 4.2.1: invalid
// freshness information makes the response stale, i.e. max-age 0).
export class Directives {
  noStore: bool = false;
  private_: bool = false;      // also private="field": tandem does not store partial responses
  noCache: bool = false;       // also no-cache="field": a reuse needs validation, which a down upstream cannot give
  mustRevalidate: bool = false; // must-revalidate / proxy-revalidate: never served stale (RFC 9111 5.2.2.2)
  maxAge: i64 = -1;            // seconds; s-maxage wins for a shared cache (RFC 9111 5.2.2.10)
  sMaxAge: i64 = -1;
  staleIfError: i64 = -1;      // RFC 5861 section 4

  reset(): void {
    this.noStore = false; this.private_ = false; this.noCache = false; this.mustRevalidate = false;
    this.maxAge = -1; this.sMaxAge = -1; this.staleIfError = -1;
  }

  // One Cache-Control field value (a response may carry several: call once each).
  add(p: usize, n: i32): void {
    let i = 0;
    while (i < n) {
      while (i < n && (isSep(load<u8>(p + i)))) i++;
      const ns = i;
      while (i < n && isNameChar(load<u8>(p + i))) i++;
      const nameLen = i - ns;
      while (i < n && isOws(load<u8>(p + i))) i++;
      let arg: i64 = -2;      // -2 none, -1 invalid
      if (i < n && load<u8>(p + i) == 0x3d) {
        i++;
        while (i < n && isOws(load<u8>(p + i))) i++;
        let quoted = false;
        if (i < n && load<u8>(p + i) == 0x22) { quoted = true; i++; }
        let v: i64 = 0;
        let digits = 0;
        let other = false;
        while (i < n) {
          const c = load<u8>(p + i);
          if (quoted ? c == 0x22 : c == 0x2c) break;
          if (c >= 0x30 && c <= 0x39) { if (v < 2147483648) v = v * 10 + (c - 0x30); digits++; }
          else if (!(isOws(c) && !quoted)) other = true;
          i++;
        }
        if (quoted && i < n) i++;
        // RFC 9111 1.2.2: delta-seconds past 2^31 count as 2^31.
        arg = digits > 0 && !other ? min(v, 2147483648) : -1;
      }
      this.directive(p + ns, nameLen, arg);
      while (i < n && load<u8>(p + i) != 0x2c) i++;
    }
  }

  private directive(p: usize, n: i32, arg: i64): void {
    if (is(p, n, "no-store")) this.noStore = true;
    else if (is(p, n, "private")) this.private_ = true;
    else if (is(p, n, "no-cache")) this.noCache = true;
    else if (is(p, n, "must-revalidate") || is(p, n, "proxy-revalidate")) this.mustRevalidate = true;
    else if (is(p, n, "max-age")) this.maxAge = seconds(this.maxAge, arg);
    else if (is(p, n, "s-maxage")) this.sMaxAge = seconds(this.sMaxAge, arg);
    else if (is(p, n, "stale-if-error")) this.staleIfError = seconds(this.staleIfError, arg);
  }

  // The freshness lifetime in seconds a shared cache uses, -1 when none was given.
  get freshness(): i64 { return this.sMaxAge >= 0 ? this.sMaxAge : this.maxAge; }
}

// An invalid argument reads as 0; a repeated directive keeps the smaller value.
function seconds(prev: i64, arg: i64): i64 {
  const v = arg < 0 ? 0 : arg;
  return prev < 0 ? v : min(prev, v);
}

function isSep(c: u8): bool { return c == 0x2c || c == 0x20 || c == 0x09; }
function isOws(c: u8): bool { return c == 0x20 || c == 0x09; }
function isNameChar(c: u8): bool { return c != 0x2c && c != 0x3d && c != 0x20 && c != 0x09; }

function is(p: usize, n: i32, name: string): bool {
  if (n != name.length) return false;
  for (let i = 0; i < n; i++) {
    let c = <u32>load<u8>(p + i);
    if (c - 0x41 < 26) c |= 0x20;
    if (c != <u32>name.charCodeAt(i)) return false;
  }
  return true;
}

// Parses a non-negative decimal (the Age and Content-Length fields): -1 when it is not one.
export function decimal(p: usize, n: i32): i64 {
  if (n <= 0) return -1;
  let v: i64 = 0;
  for (let i = 0; i < n; i++) {
    const c = load<u8>(p + i);
    if (c < 0x30 || c > 0x39) return -1;
    if (v < 1 << 40) v = v * 10 + (c - 0x30);
  }
  return v;
}
