// The cache fallback at request time, over a store the adapter provides (CacheStore):
// the Node core keeps entries in this module's memory (./local.ts: Kong's plugin-server
// process, `tandem simulate --via core`), the Envoy filter in shared data
// (wasm/filter/cache-store.ts) so every worker VM serves them. Lookup, storage rules,
// placement and eviction are all here, so every gateway stores, finds and evicts alike.
//
//   lookup  the request's key (./key.ts) -> a servable entry's answer (status, headers
//           with Age and x-tandem-fallback: cache, body), or a miss
//   check   the response head -> store it? (./rules.ts): the adapter buffers the body
//           only then, and only up to maxBodyBytes
//   store   the whole response -> its set's way (./sets.ts), evicting the least recently
//           used entry of a full set
import { Bytes } from "../text/bytes";
import { CacheSettings } from "./settings";
import { Answer, EntryView, buildEntry } from "./entry";
import { Storability, StorageRules } from "./rules";
import { Victim, chooseWay, findWay, indexBytes, putWay, setCount, setOf, touchWay, waysOf, WAYS } from "./sets";

export abstract class CacheStore {
  // The index of `set` into `out` (len -1: none yet). A store with CAS remembers the
  // version it read for the next writeIndex of that set.
  abstract readIndex(set: i32, out: Bytes): void;
  // False when another writer changed it since readIndex (read again and redo).
  abstract writeIndex(set: i32, p: usize, n: i32): bool;
  abstract readEntry(slot: i32, out: Bytes): void;
  abstract writeEntry(slot: i32, e: StaticArray<u8>): void;
}

export const STORED = 1;
export const STORED_EVICTED = 2;
export const NOT_STORED_BODY = -1;   // body above maxBodyBytes
export const NOT_STORED_BUSY = -2;   // the index kept changing under CAS
const TRIES = 4;

export class CacheRuntime {
  rules: StorageRules;
  sets: i32;
  view: EntryView = new EntryView();
  answer: Answer = new Answer();
  private idx: StaticArray<u8> = new StaticArray<u8>(indexBytes(WAYS));
  private raw: Bytes = new Bytes();
  private victim: Victim = new Victim();
  // Counts since configuration (reports, bench, metrics).
  hits: u32 = 0;
  misses: u32 = 0;
  stores: u32 = 0;
  evictions: u32 = 0;
  lastEvicted: bool = false;

  constructor(public settings: CacheSettings, public store: CacheStore) {
    this.rules = new StorageRules(settings);
    this.sets = setCount(settings.maxEntries);
  }

  check(status: i32, hp: usize, hn: i32): Storability { return this.rules.check(status, hp, hn); }

  // A servable entry for the key: true and this.view / this.answer hold it. `use`: the
  // entry answers now, so it becomes the set's most recently used and counts as a hit
  // or miss. A look that is not a use (false: the Kong fallback-cache plugin reads ahead
  // in access, before it knows whether the breaker will serve it) changes nothing; the
  // use is recorded once the answer was served (lookup again with use).
  lookup(key: usize, keyLen: i32, hashA: u32, hashB: u32, nowMs: f64, use: bool = true): bool {
    const set = setOf(hashA, this.sets);
    const n = this.loadIndex(set);
    const way = n > 0 ? findWay(changetype<usize>(this.idx), n, hashA, hashB) : -1;
    if (way < 0) { if (use) this.misses++; return false; }
    const raw = this.raw;
    this.store.readEntry(set * WAYS + way, raw);
    const v = this.view;
    if (raw.len <= 0 || !v.of(raw.ptr, raw.len, key, keyLen) || !v.servable(nowMs)) { if (use) this.misses++; return false; }
    this.answer.build(v, nowMs);
    if (!use) return true;
    // Recently used: best effort (a lost CAS race only blurs the LRU order).
    touchWay(changetype<usize>(this.idx), way);
    this.store.writeIndex(set, changetype<usize>(this.idx), n);
    this.hits++;
    return true;
  }

  // Stores a response whose head `check` accepted (st) and its whole body.
  put(key: usize, keyLen: i32, hashA: u32, hashB: u32, status: i32, hp: usize, hn: i32, st: Storability, body: usize, bodyLen: i32, nowMs: f64): i32 {
    this.lastEvicted = false;
    if (bodyLen > this.settings.maxBodyBytes) return NOT_STORED_BODY;
    const e = buildEntry(key, keyLen, status, hp, hn, st, body, bodyLen, nowMs);
    const set = setOf(hashA, this.sets);
    const ways = waysOf(this.settings.maxEntries, set);
    for (let t = 0; t < TRIES; t++) {
      let n = this.loadIndex(set);
      if (n <= 0) { n = indexBytes(ways); memory.fill(changetype<usize>(this.idx), 0, <usize>n); }
      const p = changetype<usize>(this.idx);
      const v = chooseWay(p, n, hashA, hashB, this.victim);
      putWay(p, v.way, hashA, hashB, <u32>e.length);
      if (!this.store.writeIndex(set, p, n)) continue;
      this.store.writeEntry(set * WAYS + v.way, e);
      this.stores++;
      if (v.evicts) { this.evictions++; this.lastEvicted = true; return STORED_EVICTED; }
      return STORED;
    }
    return NOT_STORED_BUSY;
  }

  // Copies the set's index into this.idx; its length (0: none yet or malformed).
  private loadIndex(set: i32): i32 {
    const raw = this.raw;
    this.store.readIndex(set, raw);
    const want = indexBytes(waysOf(this.settings.maxEntries, set));
    if (raw.len != want) return 0;
    memory.copy(changetype<usize>(this.idx), raw.ptr, <usize>want);
    return want;
  }
}
