// Hashes over raw bytes in linear memory. No allocation; cost linear in length.

const FNV_OFFSET: u32 = 0x811c9dc5;
const FNV_PRIME: u32 = 16777619;

// FNV-1a, 32 bit, over `len` bytes at `ptr`, continuing from state `h`.
export function fnv1a32(ptr: usize, len: i32, h: u32 = FNV_OFFSET): u32 {
  for (let i = 0; i < len; i++) {
    h ^= <u32>load<u8>(ptr + i);
    h *= FNV_PRIME;
  }
  return h;
}

// @ts-ignore: decorator
@inline function rotl32(x: u32, r: u32): u32 { return (x << r) | (x >>> (32 - r)); }

// MurmurHash3 finalizer: full avalanche of a 32-bit state.
// @ts-ignore: decorator
@inline export function fmix32(h: u32): u32 {
  h ^= h >>> 16;
  h *= 0x85ebca6b;
  h ^= h >>> 13;
  h *= 0xc2b2ae35;
  h ^= h >>> 16;
  return h;
}

// MurmurHash3 x86_32 (Austin Appleby's reference), little-endian blocks.
export function murmur3_32(ptr: usize, len: i32, seed: u32): u32 {
  let h = seed;
  const c1: u32 = 0xcc9e2d51;
  const c2: u32 = 0x1b873593;
  const nblocks = len >> 2;
  for (let i = 0; i < nblocks; i++) {
    let k = load<u32>(ptr + (<usize>i << 2));
    k *= c1;
    k = rotl32(k, 15);
    k *= c2;
    h ^= k;
    h = rotl32(h, 13);
    h = h * 5 + 0xe6546b64;
  }
  const tail = ptr + (<usize>nblocks << 2);
  let k1: u32 = 0;
  const rem = len & 3;
  if (rem == 3) k1 ^= (<u32>load<u8>(tail + 2)) << 16;
  if (rem >= 2) k1 ^= (<u32>load<u8>(tail + 1)) << 8;
  if (rem >= 1) {
    k1 ^= <u32>load<u8>(tail);
    k1 *= c1;
    k1 = rotl32(k1, 15);
    k1 *= c2;
    h ^= k1;
  }
  h ^= <u32>len;
  return fmix32(h);
}

// Maps a uniform 32-bit hash onto [0, n) without modulo bias (multiply-shift).
// @ts-ignore: decorator
@inline export function scale(h: u32, n: u32): u32 {
  return <u32>((<u64>h * <u64>n) >>> 32);
}
