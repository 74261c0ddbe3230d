// Breaker states in Envoy shared data, so that every worker VM of the process runs ONE
// breaker per key: half-open admits exactly permittedCalls probes across workers and
// no outcome is lost, through compare-and-swap on every write.
//
// Names. Shared data is process-wide per vm_id and Istio leaves vm_id empty, so every
// plugin on a proxy shares one namespace; ours are
//     tandem:cb:<configId>:<slot>        e.g. tandem:cb:1f3a09c2:03ff
// configId: 8 hex digits, a hash of the configuration text (two configurations never
// share states; a configuration change starts afresh). slot: 4 hex digits in
// [0, maxKeys). A filter cannot delete shared data, and Envoy deletes a vm_id's only
// when that vm_id's last VM goes (proxy-wasm-cpp-host VmIdHandle, src/vm_id_handle.cc;
// with Istio's empty vm_id: when the proxy's last Wasm plugin is removed), so names
// outlive configurations and the number must be bounded: a key (upstream / route /
// header value) hashes to two candidate slots (two-choice hashing: two keys colliding
// on one slot still both fit); a key is in the
// first candidate that holds it; a key in neither takes an empty candidate, else the
// candidate least recently active (last state change; an open breaker counts as active
// until it may close), whose state is dropped, like the Kong table's LRU eviction. At
// most maxKeys names per configuration.
//
// Value layout (little-endian):
//    0  u8   layout version (1)
//    1  u8   0
//    2  u16  key length n (keys longer than MAX_KEY_BYTES are cut, as in keys.ts)
//    4  u32  key hash A (murmur3, seed configId): first candidate slot
//    8  u32  key hash B (murmur3, another seed): second candidate slot
//   12  u32  configId
//   16       breaker state, codec.ts layout (encodedSize bytes: 109 for a count window
//            of 100), at a fixed offset
//   16+E n   key bytes (the owner: compared on every lookup)
//
// A slot taken by another key starts a fresh CLOSED state whose generation is the
// slot's previous generation + 1: generations only grow per slot, so an outcome
// admitted under an earlier owner (or an earlier tenure of the same key) never counts.
// Outcomes also check the owner (hashes and length) before they count.
//
// Compare-and-swap. Every write passes the cas of the read it is based on; a value read
// as absent is written with cas 0xffffffff: Envoy's set ignores the cas when the name is
// absent (it creates it) and compares it when present, so two workers creating the same
// name at once cannot overwrite each other (cas 0 would write unconditionally). It only
// fails to protect if the value's cas happens to be exactly 0xffffffff, one cas in 2^32.
// On CasMismatch: re-read, recompute, retry, at most MAX_TRIES times; then fail open
// (admit untracked / drop the outcome) and report it. Reads that change nothing (a closed
// breaker admitting, an open one rejecting) write nothing; a key taking a slot writes
// its fresh state at once (so its outcome finds it).
//
// Cost per request: admission reads one value (two when the key sits in its second
// slot); an outcome writes one, on the value admission read when nothing wrote the slot
// since (kept; see `kept` below), else after reading it again. Each read/write copies the whole value, so
// its size matters: count windows cost size/4 bytes, time windows 12 bytes per bucket
// (10 buckets: 208 bytes; 1000 buckets: 12 KB per copy).
import { free } from "./host-memory";
import { fmix32, murmur3_32, scale } from "../core/hash/hash";
import { BreakerMode, BreakerSettings } from "../core/breaker/settings";
import { BreakerState } from "../core/breaker/state";
import { Admission, allow, classify, record } from "../core/breaker/machine";
import { decode, encode, encodedActivity, encodedGeneration, encodedSize } from "../core/breaker/codec";
import { MAX_KEY_BYTES } from "../core/breaker/keys";
import { utf8, writeHex32 } from "../core/text/bytes";
import { CAS_MISMATCH, NOT_FOUND, OK, SharedValue, getSharedData, setSharedData } from "./host";

export const MAX_TRIES = 8;
const RECORD_AGAIN = -2;   // recordOn: the write failed (a try spent)
const RECORD_READ = -3;    // recordOn: the kept value decided nothing, read the slot
export const ABSENT_CAS: u32 = 0xffffffff;
// The value layout and the names' prefixes (canary guards' states, ./guard-store.ts:
// same layout, their own names): ../core/contract.ts.
import {
  BREAKER_PREFIX as NAME_PREFIX, CODEC_MIN_BYTES, VALUE_CONFIG_ID, VALUE_HASH_A, VALUE_HASH_B,
  VALUE_HEADER, VALUE_KEY_LEN, VALUE_VERSION,
} from "../core/contract";
export { GUARD_PREFIX, VALUE_HEADER } from "../core/contract";
const SEED_B: u32 = 0x62726b72;   // "brkr"

const SLOT_ABSENT = 0;
const SLOT_MINE = 1;
const SLOT_OTHER = 2;
const SLOT_BAD = 3;

const HEX = "0123456789abcdef";

export class BreakerStore {
  readonly stateSize: i32;
  readonly name: StaticArray<u8>;          // "tandem:cb:<configId>:<slot>", slot rewritten per call
  private readonly slotAt: i32;            // offset of the slot digits in name
  private readonly seedB: u32;
  private readonly buf: StaticArray<u8>;   // value being written
  readonly state: BreakerState;            // the state being worked on (decoded / fresh)
  readonly adm: Admission = new Admission();
  private readonly replay: Admission = new Admission();
  private readonly a: SharedValue = new SharedValue();
  private readonly b: SharedValue = new SharedValue();
  // The value of slot `keptSlot` as the last admit() that wrote nothing read it (the
  // host's buffer, kept instead of freed; ptr 0: none). record() tries its write on it
  // first, with its cas, instead of reading the slot again: one proxy_get_shared_data
  // less per outcome. The cas makes that exact: Envoy's set succeeds only if no write
  // happened since that read (every set stores a fresh cas, never 0:
  // source/extensions/common/wasm/context.cc / proxy-wasm-cpp-host SharedData::set,
  // sim/envoy/shared-data.ts), so the state it updates is the current one; a mismatch
  // (another worker or stream wrote) was the first of the MAX_TRIES writes, and the
  // next reads afresh as before (a retry, counted).
  private readonly kept: SharedValue = new SharedValue();
  private keptSlot: i32 = -1;

  // Where the last admit() found or put the key.
  slot: i32 = 0;
  hashA: u32 = 0;
  hashB: u32 = 0;
  keyLen: i32 = 0;
  // What the last admit() / record() did, for metrics.
  casRetries: i32 = 0;
  transitions: i32 = 0;
  fromState: i32 = 0;          // the state before the call that made `transitions` (STATE_*)
  transitionKey: string = "";  // record(): the key whose state changed (admit: the caller has it)
  exhausted: bool = false;
  // The cas the current state was read with (ABSENT_CAS: it was absent).
  private cas: u32 = 0;

  // namePrefix: NAME_PREFIX for circuit breakers, GUARD_PREFIX for canary guards.
  constructor(public settings: BreakerSettings, public configId: u32, namePrefix: string = NAME_PREFIX) {
    const size = encodedSize(settings);
    this.stateSize = size;
    this.buf = new StaticArray<u8>(VALUE_HEADER + size + MAX_KEY_BYTES);
    this.state = new BreakerState(settings);
    this.seedB = fmix32(configId ^ SEED_B);
    const prefix = utf8(namePrefix);
    const name = new StaticArray<u8>(prefix.length + 8 + 1 + 4);
    memory.copy(changetype<usize>(name), changetype<usize>(prefix), prefix.length);
    writeHex32(changetype<usize>(name) + prefix.length, configId);
    name[prefix.length + 8] = 0x3a;  // ':'
    this.slotAt = prefix.length + 9;
    this.name = name;
  }

  // "tandem:cb:<configId>:" (for logs).
  prefix(): string {
    return String.UTF8.decodeUnsafe(changetype<usize>(this.name), this.slotAt);
  }

  slotName(slot: i32): string {
    this.setSlot(slot);
    return String.UTF8.decodeUnsafe(changetype<usize>(this.name), this.name.length);
  }

  private setSlot(slot: i32): void {
    const p = changetype<usize>(this.name) + this.slotAt;
    store<u8>(p, HEX.charCodeAt((slot >> 12) & 0xf));
    store<u8>(p + 1, HEX.charCodeAt((slot >> 8) & 0xf));
    store<u8>(p + 2, HEX.charCodeAt((slot >> 4) & 0xf));
    store<u8>(p + 3, HEX.charCodeAt(slot & 0xf));
  }

  private read(slot: i32, out: SharedValue): u32 {
    this.setSlot(slot);
    return getSharedData(changetype<usize>(this.name), this.name.length, out);
  }

  // Who holds the slot just read. checkBytes: compare the key bytes too (admit has them).
  private owner(r: u32, v: SharedValue, keyPtr: usize, keyLen: i32, checkBytes: bool): i32 {
    if (r == NOT_FOUND) return SLOT_ABSENT;
    if (r != OK || v.ptr == 0) return SLOT_BAD;
    const p = v.ptr;
    if (v.len < VALUE_HEADER + this.stateSize || load<u8>(p) != VALUE_VERSION) return SLOT_BAD;
    const n = <i32>load<u16>(p, VALUE_KEY_LEN);
    if (v.len != VALUE_HEADER + this.stateSize + n || load<u32>(p, VALUE_CONFIG_ID) != this.configId) return SLOT_BAD;
    if (n != keyLen || load<u32>(p, VALUE_HASH_A) != this.hashA || load<u32>(p, VALUE_HASH_B) != this.hashB) return SLOT_OTHER;
    if (checkBytes && memory.compare(p + VALUE_HEADER + <usize>this.stateSize, keyPtr, <usize>keyLen) != 0) return SLOT_OTHER;
    return SLOT_MINE;
  }

  // The generation a fresh state in this slot starts with.
  private nextGeneration(v: SharedValue): u32 {
    if (v.ptr == 0 || v.len < VALUE_HEADER + CODEC_MIN_BYTES) return 0;
    return encodedGeneration(v.ptr + VALUE_HEADER) + 1;
  }

  // Last activity of a slot's state, for eviction: its last state change; an open
  // breaker is active until it may half-open.
  private activity(v: SharedValue): f64 {
    return encodedActivity(v.ptr + VALUE_HEADER);
  }

  private release(v: SharedValue): void {
    if (v.ptr != 0) free(v.ptr);
    v.ptr = 0;
  }

  // Puts the key's state into this.state, this.slot and this.cas. True when the state
  // is fresh (a slot taken over, or an unreadable state): it must be written even if
  // allow() changes nothing, so the slot is ours before the outcome comes back.
  private locate(keyPtr: usize, keyLen: i32, slotA: i32, slotB: i32): bool {
    const a = this.a;
    const b = this.b;
    const oa = this.owner(this.read(slotA, a), a, keyPtr, keyLen, true);
    if (oa == SLOT_MINE) return this.take(a, slotA);
    let victim = a;
    let victimSlot = slotA;
    let ov = oa;
    if (slotB != slotA) {
      const ob = this.owner(this.read(slotB, b), b, keyPtr, keyLen, true);
      if (ob == SLOT_MINE) { this.release(a); return this.take(b, slotB); }
      let useB = false;
      if (oa == SLOT_ABSENT) useB = false;
      else if (ob == SLOT_ABSENT) useB = true;
      else if (oa == SLOT_BAD) useB = false;
      else if (ob == SLOT_BAD) useB = true;
      else useB = this.activity(b) < this.activity(a);
      if (useB) { victim = b; victimSlot = slotB; ov = ob; }
    }
    this.state.reset(this.nextGeneration(victim));
    this.cas = ov == SLOT_ABSENT ? ABSENT_CAS : victim.cas;
    this.slot = victimSlot;
    this.release(a);
    this.release(b);
    return true;
  }

  private take(v: SharedValue, slot: i32): bool {
    this.slot = slot;
    this.cas = v.cas;
    let fresh = false;
    if (!decode(this.settings, v.ptr + VALUE_HEADER, this.stateSize, this.state)) {
      this.state.reset(this.nextGeneration(v));
      fresh = true;
    }
    this.keep(v, slot);
    return fresh;
  }

  // v becomes the kept value of `slot` (the previous one freed); v is left empty.
  private keep(v: SharedValue, slot: i32): void {
    const k = this.kept;
    this.release(k);
    k.ptr = v.ptr;
    k.len = v.len;
    k.cas = v.cas;
    v.ptr = 0;
    this.keptSlot = slot;
  }

  // The kept value is stale once this store wrote its slot (the new cas is unknown).
  private forget(slot: i32): void {
    if (this.keptSlot != slot) return;
    this.release(this.kept);
    this.keptSlot = -1;
  }

  // Writes this.state for the key at keyPtr into this.slot with this.cas.
  private write(keyPtr: usize, keyLen: i32): u32 {
    const p = changetype<usize>(this.buf);
    // (the key may lie in the kept value: copied below, before that is freed)
    store<u8>(p, <u8>VALUE_VERSION);
    store<u8>(p, 0, 1);
    store<u16>(p, <u16>keyLen, VALUE_KEY_LEN);
    store<u32>(p, this.hashA, VALUE_HASH_A);
    store<u32>(p, this.hashB, VALUE_HASH_B);
    store<u32>(p, this.configId, VALUE_CONFIG_ID);
    encode(this.settings, this.state, p + VALUE_HEADER);
    const n = VALUE_HEADER + this.stateSize;
    memory.copy(p + <usize>n, keyPtr, <usize>keyLen);
    this.forget(this.slot);
    this.setSlot(this.slot);
    return setSharedData(changetype<usize>(this.name), this.name.length, p, n + keyLen, this.cas);
  }

  // allow() for the key of keyLen bytes at keyPtr, as of nowMs. The answer is this.adm;
  // this.slot / hashA / hashB / keyLen say where the key lives, for record(). After
  // MAX_TRIES CAS mismatches it fails open: admitted, not permitted (so not recorded),
  // and this.exhausted is set. Forced modes answer without a state (their outcomes
  // change nothing, so the filter does not record them either).
  admit(keyPtr: usize, keyLen: i32, nowMs: f64): Admission {
    const s = this.settings;
    this.casRetries = 0;
    this.transitions = 0;
    this.exhausted = false;
    // forced_open / forced_closed decide without a state: no shared data at all.
    if (s.mode >= BreakerMode.ForcedOpen) return allow(s, this.state, nowMs, this.adm);
    if (keyLen > MAX_KEY_BYTES) keyLen = MAX_KEY_BYTES;
    this.keyLen = keyLen;
    this.hashA = murmur3_32(keyPtr, keyLen, this.configId);
    this.hashB = murmur3_32(keyPtr, keyLen, this.seedB);
    const slotA = <i32>scale(this.hashA, <u32>s.maxKeys);
    const slotB = <i32>scale(this.hashB, <u32>s.maxKeys);
    const adm = this.adm;
    for (let t = 0; t < MAX_TRIES; t++) {
      if (t > 0) this.casRetries++;
      const fresh = this.locate(keyPtr, keyLen, slotA, slotB);
      const gen0 = this.state.generation;
      this.fromState = <i32>this.state.state;
      allow(s, this.state, nowMs, adm);
      if (!adm.changed && !fresh) return adm;
      const r = this.write(keyPtr, keyLen);
      if (r == OK) { this.transitions = <i32>(this.state.generation - gen0); return adm; }
      if (r != CAS_MISMATCH) break;
    }
    this.exhausted = true;
    adm.admitted = true;
    adm.permitted = false;
    adm.probe = false;
    adm.changed = false;
    return adm;
  }

  // Counts the outcome of a call admitted with (flags, generation) for the key that
  // admit() put in `slot` with hashes (hashA, hashB) and length keyLen. status 0 = none;
  // error ERROR_*. Returns the classification (OUTCOME_*), or -1 when the outcome was
  // dropped because the key no longer owns the slot (or after MAX_TRIES mismatches:
  // this.exhausted).
  record(slot: i32, hashA: u32, hashB: u32, keyLen: i32, flags: i32, generation: u32,
         status: i32, error: i32, latencyMs: f64, nowMs: f64): i32 {
    const outcome = classify(this.settings, status, error);
    this.casRetries = 0;
    this.transitions = 0;
    this.exhausted = false;
    this.hashA = hashA;
    this.hashB = hashB;
    this.slot = slot;
    const v = this.a;
    let t = 0;
    // First on the value admit() kept for this slot, when there is one: no read.
    if (this.keptSlot == slot && this.kept.ptr != 0) {
      const k = this.kept;
      v.ptr = k.ptr;
      v.len = k.len;
      v.cas = k.cas;
      k.ptr = 0;
      this.keptSlot = -1;
      const done = this.recordOn(OK, v, keyLen, flags, generation, outcome, latencyMs, nowMs, true);
      if (done == RECORD_AGAIN) {
        // its write failed: that was the first of the MAX_TRIES writes
        if (this.lastWrite != CAS_MISMATCH) { this.exhausted = true; return -1; }
        t = 1;
      } else if (done != RECORD_READ) return done;
    }
    for (; t < MAX_TRIES; t++) {
      if (t > 0) this.casRetries++;
      const done = this.recordOn(this.read(slot, v), v, keyLen, flags, generation, outcome, latencyMs, nowMs, false);
      if (done != RECORD_AGAIN) return done;
      if (this.lastWrite != CAS_MISMATCH) break;
    }
    this.exhausted = true;
    return -1;
  }

  private lastWrite: u32 = OK;

  // One attempt of record() on value v (r: how it was read). Returns the outcome, -1
  // (dropped: not the key's slot, or no state), or RECORD_AGAIN (the write failed:
  // this.lastWrite says how). `kept`: v is the kept value, which may be stale: anything
  // but a successful write on it goes on to a fresh read (a mismatch: RECORD_AGAIN;
  // nothing to write, not the key's, no state: RECORD_READ, no write was tried), so it
  // decides nothing a read would not have.
  private recordOn(r: u32, v: SharedValue, keyLen: i32, flags: i32, generation: u32,
                   outcome: i32, latencyMs: f64, nowMs: f64, kept: bool): i32 {
    const s = this.settings;
    const adm = this.replay;
    if (this.owner(r, v, 0, keyLen, false) != SLOT_MINE) { this.release(v); return kept ? RECORD_READ : -1; }
    if (!decode(s, v.ptr + VALUE_HEADER, this.stateSize, this.state)) { this.release(v); return kept ? RECORD_READ : -1; }
    this.cas = v.cas;
    const gen0 = this.state.generation;
    this.fromState = <i32>this.state.state;
    if (!record(s, this.state, adm.restore(flags, generation), outcome, latencyMs, nowMs)) {
      this.release(v);
      return kept ? RECORD_READ : outcome;
    }
    // The key bytes come from the value just read (the request's are gone by now).
    const keyAt = v.ptr + VALUE_HEADER + <usize>this.stateSize;
    const w = this.write(keyAt, keyLen);
    this.lastWrite = w;
    if (w == OK) {
      this.transitions = <i32>(this.state.generation - gen0);
      // (decoded only for a transition: the metrics' key label, ./metrics.ts)
      if (this.transitions > 0) this.transitionKey = String.UTF8.decodeUnsafe(keyAt, <usize>keyLen);
      this.release(v);
      return outcome;
    }
    this.release(v);
    return RECORD_AGAIN;
  }
}
