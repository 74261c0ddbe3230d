// SHA-256 (FIPS 180-4) over bytes in linear memory. One context holds its state, the
// 64-byte block buffer and the message schedule, allocated once; hashing allocates
// nothing. Cost: one compression (64 rounds) per 64 bytes, plus one or two to finish.

const K: StaticArray<u32> = [
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

export const SHA256_BYTES = 32;
export const SHA256_BLOCK = 64;

export class Sha256 {
  private h: StaticArray<u32> = new StaticArray<u32>(8);
  private w: StaticArray<u32> = new StaticArray<u32>(64);
  private buf: StaticArray<u8> = new StaticArray<u8>(SHA256_BLOCK);
  private bufLen: i32 = 0;
  private total: u64 = 0;    // message bytes so far

  constructor() { this.reset(); }

  reset(): Sha256 {
    const h = this.h;
    h[0] = 0x6a09e667; h[1] = 0xbb67ae85; h[2] = 0x3c6ef372; h[3] = 0xa54ff53a;
    h[4] = 0x510e527f; h[5] = 0x9b05688c; h[6] = 0x1f83d9ab; h[7] = 0x5be0cd19;
    this.bufLen = 0;
    this.total = 0;
    return this;
  }

  // Copies another context's whole state (HMAC restarts from its precomputed pads).
  copyFrom(o: Sha256): void {
    memory.copy(changetype<usize>(this.h), changetype<usize>(o.h), 32);
    memory.copy(changetype<usize>(this.buf), changetype<usize>(o.buf), SHA256_BLOCK);
    this.bufLen = o.bufLen;
    this.total = o.total;
  }

  update(ptr: usize, len: i32): void {
    if (len <= 0) return;
    this.total += <u64>len;
    const buf = changetype<usize>(this.buf);
    let i = 0;
    if (this.bufLen > 0) {
      const take = min(SHA256_BLOCK - this.bufLen, len);
      memory.copy(buf + <usize>this.bufLen, ptr, take);
      this.bufLen += take;
      i = take;
      if (this.bufLen < SHA256_BLOCK) return;
      this.block(buf);
      this.bufLen = 0;
    }
    for (; i + SHA256_BLOCK <= len; i += SHA256_BLOCK) this.block(ptr + <usize>i);
    if (i < len) { memory.copy(buf, ptr + <usize>i, len - i); this.bufLen = len - i; }
  }

  // Pads, writes the 32-byte digest at `out` and resets.
  finish(out: usize): void {
    const buf = changetype<usize>(this.buf);
    const bits = this.total << 3;
    store<u8>(buf + <usize>this.bufLen, 0x80);
    this.bufLen++;
    if (this.bufLen > 56) {
      memory.fill(buf + <usize>this.bufLen, 0, SHA256_BLOCK - this.bufLen);
      this.block(buf);
      this.bufLen = 0;
    }
    memory.fill(buf + <usize>this.bufLen, 0, 56 - this.bufLen);
    store<u64>(buf + 56, bswap<u64>(bits));
    this.block(buf);
    for (let i = 0; i < 8; i++) store<u32>(out + <usize>(i << 2), bswap<u32>(unchecked(this.h[i])));
    this.reset();
  }

  private block(p: usize): void {
    const w = this.w;
    for (let t = 0; t < 16; t++) unchecked(w[t] = bswap<u32>(load<u32>(p + <usize>(t << 2))));
    for (let t = 16; t < 64; t++) {
      const a = unchecked(w[t - 15]), b = unchecked(w[t - 2]);
      const s0 = rotr<u32>(a, 7) ^ rotr<u32>(a, 18) ^ (a >>> 3);
      const s1 = rotr<u32>(b, 17) ^ rotr<u32>(b, 19) ^ (b >>> 10);
      unchecked(w[t] = unchecked(w[t - 16]) + s0 + unchecked(w[t - 7]) + s1);
    }
    const h = this.h;
    let a = unchecked(h[0]), b = unchecked(h[1]), c = unchecked(h[2]), d = unchecked(h[3]);
    let e = unchecked(h[4]), f = unchecked(h[5]), g = unchecked(h[6]), hh = unchecked(h[7]);
    for (let t = 0; t < 64; t++) {
      const S1 = rotr<u32>(e, 6) ^ rotr<u32>(e, 11) ^ rotr<u32>(e, 25);
      const ch = (e & f) ^ (~e & g);
      const t1 = hh + S1 + ch + unchecked(K[t]) + unchecked(w[t]);
      const S0 = rotr<u32>(a, 2) ^ rotr<u32>(a, 13) ^ rotr<u32>(a, 22);
      const maj = (a & b) ^ (a & c) ^ (b & c);
      const t2 = S0 + maj;
      hh = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
    }
    unchecked(h[0] += a); unchecked(h[1] += b); unchecked(h[2] += c); unchecked(h[3] += d);
    unchecked(h[4] += e); unchecked(h[5] += f); unchecked(h[6] += g); unchecked(h[7] += hh);
  }
}

// Writes `n` bytes at `src` as 2n lowercase hex digits at `dst`.
export function writeHexBytes(src: usize, n: i32, dst: usize): void {
  for (let i = 0; i < n; i++) {
    const b = <u32>load<u8>(src + <usize>i);
    const hi = b >> 4, lo = b & 15;
    store<u8>(dst + <usize>(i << 1), hi < 10 ? 0x30 + hi : 0x57 + hi);
    store<u8>(dst + <usize>(i << 1) + 1, lo < 10 ? 0x30 + lo : 0x57 + lo);
  }
}

const shared = new Sha256();

// SHA-256 of `len` bytes at `ptr` into 32 bytes at `out`, with a module-level context.
export function sha256(ptr: usize, len: i32, out: usize): void {
  shared.update(ptr, len);
  shared.finish(out);
}
