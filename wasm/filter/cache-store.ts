// The cache fallback's entries in Envoy shared data (wasm/core/cache/runtime.ts's
// CacheStore), so every worker VM of the process serves what any of them stored.
//
// Names (shared data is process-wide per vm_id; Istio leaves vm_id empty, so the prefix
// keeps ours apart):
//     tandem:fc:<configId>:i<set, 5 hex>     a set's index (wasm/core/cache/sets.ts)
//     tandem:fc:<configId>:e<slot, 5 hex>    an entry (wasm/core/cache/entry.ts)
// configId: 8 hex digits hashing the configuration text, as the breaker's names. At most
// ceil(maxEntries / 8) index names and maxEntries entry names per configuration: a filter
// cannot delete shared data, so what bounds memory is the number of names and each
// value's size (an entry <= 40 + key + headers + maxBodyBytes, an index 4 + 16 x ways).
//
// Compare-and-swap: an index is written with the cas it was read with (absent: 0xffffffff,
// which Envoy ignores for a name it creates), so two workers placing entries in one set
// cannot both take a way; the loser reads again and chooses again (CacheRuntime.put).
// An entry is written after its index, unconditionally: a reader that finds the index
// first reads the way's previous entry, whose key differs, and misses.
import { free } from "./host-memory";
import { Bytes, utf8, writeHex32 } from "../core/text/bytes";
import { CacheStore } from "../core/cache/runtime";
import { CACHE_PREFIX } from "../core/contract";
import { CAS_MISMATCH, OK, SharedValue, getSharedData, setSharedData } from "./host";

const ABSENT_CAS: u32 = 0xffffffff;
const HEX = "0123456789abcdef";

export class SharedCacheStore extends CacheStore {
  private name: StaticArray<u8>;
  private kindAt: i32;
  private v: SharedValue = new SharedValue();
  // Host buffers of the last index and entry read (freed on the next read or release()).
  private indexHeld: usize = 0;
  private entryHeld: usize = 0;
  // The cas each set's index was last read with (CacheRuntime reads, then writes, one set).
  private casSet: i32 = -1;
  private cas: u32 = ABSENT_CAS;

  constructor(configId: u32) {
    super();
    const prefix = utf8(CACHE_PREFIX);
    const name = new StaticArray<u8>(prefix.length + 8 + 1 + 1 + 5);
    memory.copy(changetype<usize>(name), changetype<usize>(prefix), prefix.length);
    writeHex32(changetype<usize>(name) + prefix.length, configId);
    name[prefix.length + 8] = 0x3a;  // ':'
    this.kindAt = prefix.length + 9;
    this.name = name;
  }

  // "tandem:fc:<configId>:" (for logs).
  prefix(): string { return String.UTF8.decodeUnsafe(changetype<usize>(this.name), this.kindAt); }

  private setName(kind: u8, n: i32): void {
    const p = changetype<usize>(this.name) + this.kindAt;
    store<u8>(p, kind);
    for (let i = 0; i < 5; i++) store<u8>(p + 5 - i, <u8>HEX.charCodeAt((n >> (i * 4)) & 0xf));
  }

  readIndex(set: i32, out: Bytes): void {
    if (this.indexHeld != 0) { free(this.indexHeld); this.indexHeld = 0; }
    this.setName(0x69, set);   // 'i'
    const v = this.v;
    const r = getSharedData(changetype<usize>(this.name), this.name.length, v);
    this.casSet = set;
    if (r != OK) { this.cas = ABSENT_CAS; out.set(0, -1); return; }
    this.cas = v.cas;
    this.indexHeld = v.ptr;
    out.set(v.ptr, v.len);
  }

  writeIndex(set: i32, p: usize, n: i32): bool {
    this.setName(0x69, set);
    const cas = this.casSet == set ? this.cas : ABSENT_CAS;
    const r = setSharedData(changetype<usize>(this.name), this.name.length, p, n, cas);
    if (r == CAS_MISMATCH) return false;
    // The next write of this set, without a read between, needs the new cas: read again.
    this.casSet = -1;
    return r == OK;
  }

  readEntry(slot: i32, out: Bytes): void {
    if (this.entryHeld != 0) { free(this.entryHeld); this.entryHeld = 0; }
    this.setName(0x65, slot);  // 'e'
    const v = this.v;
    if (getSharedData(changetype<usize>(this.name), this.name.length, v) != OK) { out.set(0, -1); return; }
    this.entryHeld = v.ptr;
    out.set(v.ptr, v.len);
  }

  writeEntry(slot: i32, e: StaticArray<u8>): void {
    this.setName(0x65, slot);
    setSharedData(changetype<usize>(this.name), this.name.length, changetype<usize>(e), e.length, 0);
  }

  // Frees the host buffers of the last reads (after the answer was sent).
  release(): void {
    if (this.indexHeld != 0) { free(this.indexHeld); this.indexHeld = 0; }
    if (this.entryHeld != 0) { free(this.entryHeld); this.entryHeld = 0; }
  }
}
