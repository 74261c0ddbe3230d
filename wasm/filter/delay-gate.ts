// maxActive across worker VMs: each fault's delays in flight counted in Envoy shared data
// with compare-and-swap, so every worker VM of the proxy sees one count (Envoy's own fault
// filter counts max_active_faults process-wide too: a runtime gauge). Names:
//     tandem:fa:<configId>:<fault>        e.g. tandem:fa:1f3a09c2:0000
// configId: 8 hex digits, a hash of the configuration text (the same in every worker VM; a
// configuration change starts afresh, and the delays paused under the old one give their
// places back to the old names). Value: u32 count, little-endian. Only faults with
// maxActive have a name, and only a delay whose coin won reads it: a request no fault
// applies to costs no shared-data call.
//
// take: read, refuse when the count is at maxActive, else write count + 1 with the cas of
// the read (an absent name is written with cas 0xffffffff: ./breaker-store.ts says why);
// on CasMismatch re-read and retry, at most MAX_TRIES times, then refuse (no delay: the
// safe side of a fault). give: the same with count - 1 (never below 0), GIVE_TRIES times.
// A place is given back when its stream resumes (the root's tick) or ends while paused
// (on_done: reset by the client). A VM that traps keeps its places counted (Envoy calls
// it no more) until the configuration changes.
import { free } from "./host-memory";
import { DelayGate, FaultRuntime } from "../core/fault/fault";
import { utf8, writeHex32 } from "../core/text/bytes";
import { FAULT_ACTIVE_PREFIX } from "../core/contract";
import { ABSENT_CAS, MAX_TRIES } from "./breaker-store";
import { CAS_MISMATCH, NOT_FOUND, OK, SharedValue, getSharedData, setSharedData } from "./host";

// A give that loses its place counted for good would shrink maxActive: try harder
// (a CasMismatch means another VM wrote in the microseconds between read and write).
const GIVE_TRIES = 64;
const HEX = "0123456789abcdef";
const FAULT_DIGITS = 4;
const value = new StaticArray<u8>(4);
const read = new SharedValue();

export class SharedDelays extends DelayGate {
  // per fault: its shared-data name
  readonly names: StaticArray<StaticArray<u8>>;

  constructor(faults: i32, configId: u32) {
    super();
    const names = new StaticArray<StaticArray<u8>>(faults);
    const prefix = FAULT_ACTIVE_PREFIX.length;   // ASCII: one byte a character
    for (let i = 0; i < faults; i++) {
      const n = utf8(FAULT_ACTIVE_PREFIX + "00000000:0000");
      const p = changetype<usize>(n);
      writeHex32(p + prefix, configId);
      for (let d = 0; d < FAULT_DIGITS; d++) store<u8>(p + n.length - 1 - d, HEX.charCodeAt((i >>> (4 * d)) & 0xf));
      names[i] = n;
    }
    this.names = names;
  }

  admit(_rt: FaultRuntime, i: i32, max: i32): bool {
    return change(unchecked(this.names[i]), 1, max, MAX_TRIES);
  }

  // Gives back a place fault `i` took.
  give(i: i32): void {
    change(unchecked(this.names[i]), -1, 0, GIVE_TRIES);
  }
}

// Adds `delta` (+1 while below `limit`, or -1 down to 0) to the count under `name`.
function change(name: StaticArray<u8>, delta: i32, limit: i32, tries: i32): bool {
  const key = changetype<usize>(name);
  for (let t = 0; t < tries; t++) {
    const r = getSharedData(key, name.length, read);
    let count: i32 = 0;
    let cas = ABSENT_CAS;
    if (r == OK) {
      if (read.len == 4) count = <i32>load<u32>(read.ptr);
      cas = read.cas;
      if (read.ptr != 0) free(read.ptr);
    } else if (r != NOT_FOUND) return false;
    if (delta > 0 && count >= limit) return false;
    const next = max(0, count + delta);
    if (delta < 0 && next == count) return true;
    store<u32>(changetype<usize>(value), <u32>next);
    const w = setSharedData(key, name.length, changetype<usize>(value), 4, cas);
    if (w == OK) return true;
    if (w != CAS_MISMATCH) return false;
  }
  return false;
}
