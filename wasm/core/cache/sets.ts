// Where entries live: maxEntries slots in sets of up to WAYS (8); a key's set is its
// hash modulo the number of sets, and a set's index (one small value) says which key
// holds each way and when it was last used. A new entry takes the way of its own key,
// else an empty way, else the least recently used one. So eviction is exact LRU within
// a set (exact overall with maxEntries <= 8), and a lookup or store reads one index
// value and one entry, never a global list: on Envoy the index of a set is one
// shared-data value written with CAS.
//
// "Recently" is a per-set use counter, not a clock: two uses in the same millisecond
// still have an order, and every gateway orders them alike.
// Index layout (little endian): u32 use counter, then per way: u32 hash A, u32 hash B,
// u32 last use, u32 entry bytes (0: empty way).
export const WAYS = 8;
export const WAY_BYTES = 16;
export const INDEX_HEAD = 4;

export function setCount(maxEntries: i32): i32 { return (maxEntries + WAYS - 1) / WAYS; }
export function waysOf(maxEntries: i32, set: i32): i32 { return min(WAYS, maxEntries - set * WAYS); }
export function indexBytes(ways: i32): i32 { return INDEX_HEAD + ways * WAY_BYTES; }
export function setOf(hashA: u32, sets: i32): i32 { return <i32>(hashA % <u32>sets); }

// @ts-ignore: decorator
@inline function wayAt(p: usize, w: i32): usize { return p + INDEX_HEAD + <usize>(w * WAY_BYTES); }

// The way holding (hashA, hashB) in an index of n bytes at p, or -1.
export function findWay(p: usize, n: i32, hashA: u32, hashB: u32): i32 {
  const ways = (n - INDEX_HEAD) / WAY_BYTES;
  for (let w = 0; w < ways; w++) {
    const q = wayAt(p, w);
    if (load<u32>(q + 12) != 0 && load<u32>(q) == hashA && load<u32>(q + 4) == hashB) return w;
  }
  return -1;
}

// The way a new entry for (hashA, hashB) takes; `evicts`: it pushes another key out
// (whose entry had `bytes`).
export class Victim { way: i32 = 0; evicts: bool = false; bytes: u32 = 0; }

export function chooseWay(p: usize, n: i32, hashA: u32, hashB: u32, v: Victim): Victim {
  const own = findWay(p, n, hashA, hashB);
  if (own >= 0) { v.way = own; v.evicts = false; v.bytes = load<u32>(wayAt(p, own) + 12); return v; }
  const ways = (n - INDEX_HEAD) / WAY_BYTES;
  const now = load<u32>(p);
  let best = 0;
  let bestAge: u32 = 0;
  for (let w = 0; w < ways; w++) {
    const q = wayAt(p, w);
    if (load<u32>(q + 12) == 0) { v.way = w; v.evicts = false; v.bytes = 0; return v; }
    const age = now - load<u32>(q + 8);   // wraps correctly past 2^32 uses
    if (age > bestAge) { bestAge = age; best = w; }
  }
  v.way = best;
  v.evicts = true;
  v.bytes = load<u32>(wayAt(p, best) + 12);
  return v;
}

export function putWay(p: usize, way: i32, hashA: u32, hashB: u32, bytes: u32): void {
  const q = wayAt(p, way);
  const use = load<u32>(p) + 1;
  store<u32>(p, use);
  store<u32>(q, hashA);
  store<u32>(q + 4, hashB);
  store<u32>(q + 8, use);
  store<u32>(q + 12, bytes);
}

export function touchWay(p: usize, way: i32): void {
  const use = load<u32>(p) + 1;
  store<u32>(p, use);
  store<u32>(wayAt(p, way) + 8, use);
}

export function clearWay(p: usize, way: i32): void {
  memory.fill(wayAt(p, way), 0, WAY_BYTES);
}

// Entry bytes the index counts (sizes of all its ways).
export function indexEntryBytes(p: usize, n: i32): i64 {
  const ways = (n - INDEX_HEAD) / WAY_BYTES;
  let t: i64 = 0;
  for (let w = 0; w < ways; w++) t += <i64>load<u32>(wayAt(p, w) + 12);
  return t;
}
