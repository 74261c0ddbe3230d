// Entries and indexes in this module instance's memory (the Node-side core: one Kong
// plugin-server process, shared by its Kong workers; `tandem simulate --via core`).
// Slots are allocated when first used, so memory grows with what is stored, bounded
// by maxEntries x (entry bytes) plus 132 bytes an index of 8 ways.
import { Bytes } from "../text/bytes";
import { CacheStore } from "./runtime";
import { CacheSettings } from "./settings";
import { setCount } from "./sets";

export class LocalCacheStore extends CacheStore {
  indexes: StaticArray<StaticArray<u8> | null>;
  entries: StaticArray<StaticArray<u8> | null>;
  entryBytes: i64 = 0;     // bytes of the entries held
  indexBytes: i64 = 0;     // bytes of the indexes held
  count: i32 = 0;          // entries held

  constructor(s: CacheSettings) {
    super();
    this.indexes = new StaticArray<StaticArray<u8> | null>(setCount(s.maxEntries));
    this.entries = new StaticArray<StaticArray<u8> | null>(s.maxEntries);
  }

  readIndex(set: i32, out: Bytes): void {
    const b = this.indexes[set];
    if (b === null) out.set(0, -1); else out.set(changetype<usize>(b), b.length);
  }

  writeIndex(set: i32, p: usize, n: i32): bool {
    let b = this.indexes[set];
    if (b === null || b.length != n) {
      if (b !== null) this.indexBytes -= b.length;
      b = new StaticArray<u8>(n);
      this.indexes[set] = b;
      this.indexBytes += n;
    }
    memory.copy(changetype<usize>(b), p, <usize>n);
    return true;
  }

  readEntry(slot: i32, out: Bytes): void {
    const e = this.entries[slot];
    if (e === null) out.set(0, -1); else out.set(changetype<usize>(e), e.length);
  }

  writeEntry(slot: i32, e: StaticArray<u8>): void {
    const old = this.entries[slot];
    if (old !== null) this.entryBytes -= old.length; else this.count++;
    this.entries[slot] = e;
    this.entryBytes += e.length;
  }
}
