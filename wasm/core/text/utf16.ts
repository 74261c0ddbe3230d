// The UTF-16 code units of UTF-8 bytes, one at a time, as the app's TextDecoder (and
// Buffer.toString) would give them: the WHATWG decoder, each maximal invalid
// subsequence one U+FFFD. For SDK-compatible hashing (./growthbook.ts, ./unleash.ts):
// the SDKs hash JavaScript strings, the gateway has bytes. No allocation; O(bytes).
@final
export class Utf16Units {
  private p: usize = 0;
  private end: usize = 0;
  private low: i32 = -1;      // the second unit of a surrogate pair, still to return

  reset(ptr: usize, len: i32): Utf16Units {
    this.p = ptr;
    this.end = ptr + <usize>len;
    this.low = -1;
    return this;
  }

  // The next code unit, or -1 at the end.
  next(): i32 {
    const pending = this.low;
    if (pending >= 0) { this.low = -1; return pending; }
    let p = this.p;
    const end = this.end;
    if (p >= end) return -1;
    let b = <u32>load<u8>(p++);
    if (b < 0x80) { this.p = p; return <i32>b; }
    let need = 0;
    let cp: u32 = 0;
    let lower: u32 = 0x80;
    let upper: u32 = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) { need = 1; cp = b & 0x1f; }
    else if (b >= 0xe0 && b <= 0xef) {
      if (b == 0xe0) lower = 0xa0;
      if (b == 0xed) upper = 0x9f;    // no surrogates encoded in UTF-8
      need = 2; cp = b & 0x0f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      if (b == 0xf0) lower = 0x90;
      if (b == 0xf4) upper = 0x8f;    // nothing above U+10FFFF
      need = 3; cp = b & 0x07;
    } else { this.p = p; return 0xfffd; }
    while (need > 0) {
      // a sequence cut short: U+FFFD, and the byte that cut it starts over (not consumed)
      if (p >= end) { this.p = p; return 0xfffd; }
      b = <u32>load<u8>(p);
      if (b < lower || b > upper) { this.p = p; return 0xfffd; }
      p++;
      lower = 0x80; upper = 0xbf;
      cp = (cp << 6) | (b & 0x3f);
      need--;
    }
    this.p = p;
    if (cp < 0x10000) return <i32>cp;
    const v = cp - 0x10000;           // a surrogate pair: D800 + high ten bits, DC00 + low ten
    this.low = <i32>(0xdc00 + (v & 0x3ff));
    return <i32>(0xd800 + (v >> 10));
  }
}
