// HMAC-SHA256 (RFC 2104, FIPS 198-1) for QA override tokens.
//
// The key is fixed per configuration, so both padded-key blocks are hashed once in the
// constructor and their states kept: a MAC then costs the message's compressions plus
// two (inner finish, outer block) instead of four more. A MAC allocates nothing; the
// contexts are not reentrant (one request at a time per VM, as everywhere in the core).
import { Sha256, SHA256_BLOCK, SHA256_BYTES, writeHexBytes } from "./sha256";

export const HMAC_HEX_LEN = 64;

export class HmacSha256 {
  private inner: Sha256 = new Sha256();   // state after (key ^ ipad)
  private outer: Sha256 = new Sha256();   // state after (key ^ opad)
  private work: Sha256 = new Sha256();
  private digest: StaticArray<u8> = new StaticArray<u8>(SHA256_BYTES);
  private expected: StaticArray<u8> = new StaticArray<u8>(HMAC_HEX_LEN);

  // Key bytes at `ptr`; keys longer than a block are hashed first (RFC 2104).
  constructor(ptr: usize, len: i32) {
    const k = new StaticArray<u8>(SHA256_BLOCK);
    const kp = changetype<usize>(k);
    if (len > SHA256_BLOCK) {
      this.work.update(ptr, len);
      this.work.finish(kp);
    } else memory.copy(kp, ptr, len);
    for (let i = 0; i < SHA256_BLOCK; i++) k[i] ^= 0x36;
    this.inner.update(kp, SHA256_BLOCK);
    for (let i = 0; i < SHA256_BLOCK; i++) k[i] ^= 0x36 ^ 0x5c;
    this.outer.update(kp, SHA256_BLOCK);
    memory.fill(kp, 0, SHA256_BLOCK);   // no copy of the key left behind in scratch
  }

  static fromString(key: string): HmacSha256 {
    const b = String.UTF8.encode(key);
    return new HmacSha256(changetype<usize>(b), b.byteLength);
  }

  // The 32-byte MAC of `len` bytes at `ptr`, written at `out`.
  mac(ptr: usize, len: i32, out: usize): void {
    const w = this.work;
    const d = changetype<usize>(this.digest);
    w.copyFrom(this.inner);
    w.update(ptr, len);
    w.finish(d);
    w.copyFrom(this.outer);
    w.update(d, SHA256_BYTES);
    w.finish(out);
  }

  // The MAC as 64 lowercase hex digits at `out`.
  macHex(ptr: usize, len: i32, out: usize): void {
    const d = changetype<usize>(this.digest);
    this.mac(ptr, len, d);
    writeHexBytes(d, SHA256_BYTES, out);
  }

  // True when the `tokenLen` bytes at `token` are exactly the lowercase hex MAC of the
  // message. The comparison time does not depend on where the bytes differ, so a
  // client cannot find a valid token byte by byte from response timings.
  verifyHex(ptr: usize, len: i32, token: usize, tokenLen: i32): bool {
    const e = changetype<usize>(this.expected);
    this.macHex(ptr, len, e);
    if (tokenLen != HMAC_HEX_LEN) return false;   // the length is public
    return constantTimeEquals(e, token, HMAC_HEX_LEN);
  }
}

// Equal `len` bytes at a and b, in time independent of the contents.
export function constantTimeEquals(a: usize, b: usize, len: i32): bool {
  let diff: u32 = 0;
  for (let i = 0; i < len; i++) diff |= <u32>(load<u8>(a + <usize>i) ^ load<u8>(b + <usize>i));
  return diff == 0;
}
