// Byte helpers over linear memory: gateway facts stay UTF-8 bytes from host to hash,
// so the hot path never decodes them into AssemblyScript (UTF-16) strings.

// A view of bytes owned by someone else (a host buffer or the input arena).
@final
export class Bytes {
  ptr: usize = 0;
  len: i32 = -1;    // -1 = absent

  // @ts-ignore: decorator
  @inline get present(): bool { return this.len >= 0; }

  // @ts-ignore: decorator
  @inline set(ptr: usize, len: i32): void { this.ptr = ptr; this.len = len; }

  // @ts-ignore: decorator
  @inline clear(): void { this.ptr = 0; this.len = -1; }
}

// UTF-8 bytes of a string, built at configure time.
export function utf8(s: string): StaticArray<u8> {
  const buf = String.UTF8.encode(s);
  const out = new StaticArray<u8>(buf.byteLength);
  memory.copy(changetype<usize>(out), changetype<usize>(buf), buf.byteLength);
  return out;
}


// @ts-ignore: decorator
@inline export function lower(c: u32): u32 { return c - 0x41 < 26 ? c | 0x20 : c; }



// @ts-ignore: decorator
@inline export function isOws(c: u32): bool { return c == 0x20 || c == 0x09; }

// HTTP token characters (RFC 9110 tchar): names of headers and cookies.
export function isTchar(c: u32): bool {
  if (c >= 0x61 && c <= 0x7a) return true;
  if (c >= 0x41 && c <= 0x5a) return true;
  if (c >= 0x30 && c <= 0x39) return true;
  return c == 0x21 || c == 0x23 || c == 0x24 || c == 0x25 || c == 0x26 || c == 0x27 || c == 0x2a ||
    c == 0x2b || c == 0x2d || c == 0x2e || c == 0x5e || c == 0x5f || c == 0x60 || c == 0x7c || c == 0x7e;
}

export function isToken(s: string, maxLen: i32): bool {
  if (s.length == 0 || s.length > maxLen) return false;
  for (let i = 0; i < s.length; i++) if (!isTchar(s.charCodeAt(i))) return false;
  return true;
}

const HEX = "0123456789abcdef";

// Writes `v` as 8 lowercase hex digits at `dst`.
export function writeHex32(dst: usize, v: u32): void {
  for (let i = 7; i >= 0; i--) {
    store<u8>(dst + i, HEX.charCodeAt(v & 0xf));
    v >>>= 4;
  }
}

// ASCII-only lowercasing (header names, host names, ignoreCase literals): matches how
// requests are compared (lower() on bytes), and avoids String#toLowerCase's Unicode
// tables (~10 KB of module size).
// One copy, lowered in place: linear (appending per letter left quadratic garbage,
// which the Node core collects only between calls: ../api.ts).
export function asciiLower(s: string): string {
  const n = s.length;
  let i = 0;
  while (i < n && !isUpper(s.charCodeAt(i))) i++;
  if (i == n) return s;
  const out = new StaticArray<u16>(n);
  memory.copy(changetype<usize>(out), changetype<usize>(s), <usize>n << 1);
  for (; i < n; i++) {
    const c = unchecked(out[i]);
    if (isUpper(c)) unchecked(out[i] = c | 0x20);
  }
  return String.UTF16.decodeUnsafe(changetype<usize>(out), <usize>n << 1);
}

// @ts-ignore: decorator
@inline function isUpper(c: i32): bool { return c >= 0x41 && c <= 0x5a; }
