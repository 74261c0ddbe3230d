// Independent reference implementations for the tests (not used by production code):
// MurmurHash3 x86_32 and FNV-1a 32 over bytes, and tandem's documented bucket formula.
export function murmur3(bytes: Uint8Array, seed: number): number {
  let h = seed >>> 0;
  const c1 = 0xcc9e2d51, c2 = 0x1b873593;
  const n = bytes.length;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    let k = bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24);
    k = Math.imul(k, c1); k = (k << 15) | (k >>> 17); k = Math.imul(k, c2);
    h ^= k; h = (h << 13) | (h >>> 19); h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  let k = 0;
  switch (n & 3) {
    case 3: k ^= bytes[i + 2] << 16; // fallthrough
    case 2: k ^= bytes[i + 1] << 8; // fallthrough
    case 1: k ^= bytes[i]; k = Math.imul(k, c1); k = (k << 15) | (k >>> 17); k = Math.imul(k, c2); h ^= k;
  }
  h ^= n;
  h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b); h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35); h ^= h >>> 16;
  return h >>> 0;
}

export function fnv1a(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (const b of bytes) { h ^= b; h = Math.imul(h, 16777619); }
  return h >>> 0;
}

const enc = new TextEncoder();

// docs/policy.md: bucket = floor(murmur3_32(utf8(key), fnv1a32(utf8(seed))) * 10000 / 2^32)
export function tandemBucket(seed: string, key: string): number {
  const h = murmur3(enc.encode(key), fnv1a(enc.encode(seed)));
  return Math.floor((h * 10000) / 2 ** 32);
}
