// Breaker states by key (upstream, route or header value as bytes), at most maxKeys of
// them; the least recently used key is evicted to make room. O(1) per lookup: an
// open-addressing hash index (linear probing, backward-shift deletion, at most half
// full) over entry slots that also form an intrusive doubly linked LRU list.
//
// Memory is bounded and allocated up front except per new key: its state (window
// included) and its key buffer are allocated the first time a slot is used and reused
// by whichever key takes the slot after an eviction. Keys longer than MAX_KEY_BYTES
// are identified by their first MAX_KEY_BYTES bytes.
//
// Hashes are murmur3_32 with a seed the adapter passes: give it a random one so that
// clients choosing header keys cannot aim for collisions.
import { countSteps } from "../text/steps";
import { murmur3_32 } from "../hash/hash";
import { BreakerSettings } from "./settings";
import { BreakerState } from "./state";

export const MAX_KEY_BYTES = 1024;
const NONE: i32 = -1;
// A new key's first generation: (keys created so far) << GEN_SHIFT, so an outcome
// admitted for an evicted key does not count for the key that later takes its slot.
const GEN_SHIFT: u32 = 16;
// The serial of the last key any table created (../contract.ts tickets): a module-wide
// count, so a ticket of a released plan's table never names a key of a later one. 0 is
// never a key's: an entry not yet used holds serial 0.
let lastSerial: u32 = 0;

export class BreakerTable {
  readonly capacity: i32;
  count: i32 = 0;
  evictions: u32 = 0;
  private created: u32 = 0;
  private mask: i32;
  private index: StaticArray<i32>;                  // hash slot -> entry, NONE = empty
  private hashes: StaticArray<u32>;                 // entry -> hash
  private keyLens: StaticArray<i32>;                // entry -> key length
  private keys: StaticArray<StaticArray<u8>>;       // entry -> key bytes (buffer may be longer)
  private states: StaticArray<BreakerState | null>; // entry -> state
  private serials: StaticArray<u32>;                // entry -> serial of the key's stay there
  private prev: StaticArray<i32>;                   // LRU list: towards most recent
  private next: StaticArray<i32>;                   // LRU list: towards least recent
  private head: i32 = NONE;                         // most recently used
  private tail: i32 = NONE;                         // least recently used
  lastEntry: i32 = NONE;                            // the entry get() returned last

  constructor(public settings: BreakerSettings, public seed: u32 = 0) {
    const cap = settings.maxKeys;
    this.capacity = cap;
    let size = 2;
    while (size < cap * 2) size <<= 1;
    this.mask = size - 1;
    const index = new StaticArray<i32>(size);
    for (let i = 0; i < size; i++) index[i] = NONE;
    const keys = new StaticArray<StaticArray<u8>>(cap);
    const empty = new StaticArray<u8>(0);
    for (let i = 0; i < cap; i++) keys[i] = empty;
    this.index = index;
    this.keys = keys;
    this.hashes = new StaticArray<u32>(cap);
    this.keyLens = new StaticArray<i32>(cap);
    this.states = new StaticArray<BreakerState | null>(cap);
    this.serials = new StaticArray<u32>(cap);
    this.prev = new StaticArray<i32>(cap);
    this.next = new StaticArray<i32>(cap);
  }

  // The state of a key, or null when it is not in the table. Marks it recently used.
  find(ptr: usize, len: i32): BreakerState | null {
    if (len > MAX_KEY_BYTES) len = MAX_KEY_BYTES;
    const h = murmur3_32(ptr, len, this.seed);
    const slot = this.lookup(ptr, len, h);
    if (slot < 0) return null;
    const e = unchecked(this.index[slot]);
    this.touch(e);
    return unchecked(this.states[e]);
  }

  // The state of a key, created CLOSED when new (evicting the least recently used key
  // when the table is full). Marks it recently used.
  get(ptr: usize, len: i32): BreakerState {
    if (len > MAX_KEY_BYTES) len = MAX_KEY_BYTES;
    const h = murmur3_32(ptr, len, this.seed);
    const slot = this.lookup(ptr, len, h);
    if (slot >= 0) {
      const e = unchecked(this.index[slot]);
      this.touch(e);
      this.lastEntry = e;
      return unchecked(this.states[e]) as BreakerState;
    }
    let e: i32;
    if (this.count < this.capacity) {
      e = this.count++;
    } else {
      e = this.tail;
      this.unlink(e);
      this.remove(e);
      this.evictions++;
    }
    let buf = unchecked(this.keys[e]);
    if (buf.length < len) { buf = new StaticArray<u8>(len); unchecked(this.keys[e] = buf); }
    memory.copy(changetype<usize>(buf), ptr, <usize>len);
    unchecked(this.keyLens[e] = len);
    unchecked(this.hashes[e] = h);
    this.insert(e, h);
    this.pushFront(e);
    let st = unchecked(this.states[e]);
    if (st === null) { st = new BreakerState(this.settings); unchecked(this.states[e] = st); }
    st.reset(this.created << GEN_SHIFT);
    this.created++;
    if (++lastSerial == 0) lastSerial = 1;
    unchecked(this.serials[e] = lastSerial);
    this.lastEntry = e;
    return st;
  }

  // get() of the key at [ptr, ptr + len) when the caller found it at entry e, serial
  // `serial`, last time: that entry while it holds that key still (no hash, no probe),
  // else get(). The same state, the same LRU move.
  getAgain(e: i32, serial: u32, ptr: usize, len: i32): BreakerState {
    if (serial != 0 && <u32>e < <u32>this.capacity && unchecked(this.serials[e]) == serial) {
      this.touch(e);
      this.lastEntry = e;
      return unchecked(this.states[e]) as BreakerState;
    }
    return this.get(ptr, len);
  }

  // Serial of entry e's key (get()'s lastEntry: the ticket of an admission).
  // @ts-ignore: decorator
  @inline serialAt(e: i32): u32 { return unchecked(this.serials[e]); }

  // The state of the key entry e held when its serial was `serial` (a ticket), or null
  // when that key has left the entry since (evicted; it may be elsewhere, admitted
  // again). Marks it recently used, as find() does: the same key, the same entry.
  atTicket(e: i32, serial: u32): BreakerState | null {
    if (<u32>e >= <u32>this.capacity || serial == 0 || unchecked(this.serials[e]) != serial) return null;
    this.touch(e);
    return unchecked(this.states[e]);
  }

  // The state of a key without marking it used (reporting), or null.
  peek(ptr: usize, len: i32): BreakerState | null {
    if (len > MAX_KEY_BYTES) len = MAX_KEY_BYTES;
    const slot = this.lookup(ptr, len, murmur3_32(ptr, len, this.seed));
    return slot < 0 ? null : unchecked(this.states[unchecked(this.index[slot])]);
  }

  has(ptr: usize, len: i32): bool {
    if (len > MAX_KEY_BYTES) len = MAX_KEY_BYTES;
    return this.lookup(ptr, len, murmur3_32(ptr, len, this.seed)) >= 0;
  }

  // Entries from most to least recently used: entry ids for keyAt / stateAt.
  first(): i32 { return this.head; }
  after(e: i32): i32 { return this.next[e]; }
  keyAt(e: i32): StaticArray<u8> {
    const out = new StaticArray<u8>(this.keyLens[e]);
    memory.copy(changetype<usize>(out), changetype<usize>(this.keys[e]), <usize>this.keyLens[e]);
    return out;
  }
  stateAt(e: i32): BreakerState { return this.states[e] as BreakerState; }

  // Hash slot holding the key, or -1.
  private lookup(ptr: usize, len: i32, h: u32): i32 {
    const mask = this.mask;
    let i = <i32>h & mask;
    while (true) {
      countSteps(1);
      const e = unchecked(this.index[i]);
      if (e == NONE) return -1;
      if (unchecked(this.hashes[e]) == h && unchecked(this.keyLens[e]) == len &&
          memory.compare(changetype<usize>(unchecked(this.keys[e])), ptr, <usize>len) == 0) return i;
      i = (i + 1) & mask;
    }
    return -1;
  }

  private insert(e: i32, h: u32): void {
    const mask = this.mask;
    let i = <i32>h & mask;
    while (unchecked(this.index[i]) != NONE) { countSteps(1); i = (i + 1) & mask; }
    unchecked(this.index[i] = e);
  }

  // Deletes entry e from the hash index; later entries of its probe run shift back so
  // lookups never stop early (no tombstones).
  private remove(e: i32): void {
    const mask = this.mask;
    let i = <i32>unchecked(this.hashes[e]) & mask;
    while (unchecked(this.index[i]) != e) i = (i + 1) & mask;
    let j = i;
    while (true) {
      j = (j + 1) & mask;
      const f = unchecked(this.index[j]);
      if (f == NONE) break;
      const home = <i32>unchecked(this.hashes[f]) & mask;
      // f stays when its home lies cyclically in (i, j]
      const stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
      if (stays) continue;
      unchecked(this.index[i] = f);
      i = j;
    }
    unchecked(this.index[i] = NONE);
  }

  // (inlined: every admission and record touches its key, usually already the most
  // recent; the call cost ~2-3 ns of an admit + record, issue 17)
  // @ts-ignore: decorator
  @inline private touch(e: i32): void {
    if (this.head == e) return;
    this.unlink(e);
    this.pushFront(e);
  }

  private unlink(e: i32): void {
    const p = unchecked(this.prev[e]);
    const n = unchecked(this.next[e]);
    if (p != NONE) unchecked(this.next[p] = n); else this.head = n;
    if (n != NONE) unchecked(this.prev[n] = p); else this.tail = p;
  }

  private pushFront(e: i32): void {
    unchecked(this.prev[e] = NONE);
    unchecked(this.next[e] = this.head);
    if (this.head != NONE) unchecked(this.prev[this.head] = e);
    this.head = e;
    if (this.tail == NONE) this.tail = e;
  }
}
