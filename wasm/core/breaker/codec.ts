// One key's breaker state as bytes, so the Envoy filter can keep it in proxy-wasm
// shared data (one value per key) and update it with compare-and-swap:
//   get_shared_data(key) -> bytes, cas;  decode;  allow/record;  if changed: encode,
//   set_shared_data(key, bytes, cas), retry on CAS mismatch.
// The size is fixed per configuration (encodedSize), so the filter preallocates one
// buffer. Little-endian, fields as in BreakerState:
//
//   off size  field
//     0  u8   version (1)
//     1  u8   state: 0 CLOSED, 1 OPEN, 2 HALF_OPEN
//     2  u8   reason of the last transition (REASON_*)
//     3  u8   window type: 0 count, 1 time
//     4  u32  shape: fingerprint of window type and size (settings.shape)
//     8  u32  generation
//    12  u32  backoffLevel
//    16  f64  clockMs
//    24  f64  sinceMs
//    32  f64  openUntilMs
//    40  f64  openMs
//    48  f64  probeActivityMs
//    56  u32  consecutive
//    60  u16  probesIssued      (permittedCalls <= 1000)
//    62  u16  probesSeen
//    64  u16  probeFailures
//    66  u16  probeSlow
//    68  u32  window calls
//    72  u32  window failures
//    76  u32  window slow
//    80       window body
//   count window: u32 head, then ceil(size / 4) bytes: outcome at ring position i in
//                 byte i >> 2, bits (i & 3) * 2: bit 0 failed, bit 1 slow.
//   time window:  f64 headEpoch (floor(t / bucketMs) of the newest bucket), then per
//                 bucket slot 0..buckets-1: u32 calls, u32 failures, u32 slow
//                 (bucket of epoch e at slot e mod buckets).
//
// Sizes: count window of 100 -> 80 + 4 + 25 = 109 bytes; time window of 10 buckets ->
// 80 + 8 + 120 = 208 bytes. Encoding and decoding cost a fixed number of loads and
// stores plus one memory.copy of the window body.
import { BreakerSettings, WindowType } from "./settings";
import { BreakerState, STATE_HALF_OPEN, STATE_OPEN } from "./state";
import { CODEC_GENERATION, CODEC_STATE, CODEC_WINDOW_CALLS, CODEC_WINDOW_FAILURES } from "../contract";
import { CountWindow, TimeWindow, BUCKET_FIELDS } from "./window";

export const CODEC_VERSION: u8 = 1;

// A finite time (or epoch) the machine can compare: a NaN deadline would wedge a state.
// @ts-ignore: decorator
@inline function isTime(x: f64): bool { return x - x == 0 && Math.abs(x) <= 9007199254740992; }
export const HEADER_BYTES = 80;

export function encodedSize(s: BreakerSettings): i32 {
  if (s.windowType == WindowType.Count) return HEADER_BYTES + 4 + ((s.windowSize + 3) >> 2);
  return HEADER_BYTES + 8 + s.buckets * BUCKET_FIELDS * 4;
}

// Writes encodedSize(s) bytes at dst.
export function encode(s: BreakerSettings, st: BreakerState, dst: usize): i32 {
  store<u8>(dst, CODEC_VERSION);
  store<u8>(dst, st.state, CODEC_STATE);
  store<u8>(dst, st.reason, 2);
  store<u8>(dst, <u8>s.windowType, 3);
  store<u32>(dst, s.shape, 4);
  store<u32>(dst, st.generation, CODEC_GENERATION);
  store<u32>(dst, st.backoffLevel, 12);
  store<f64>(dst, st.clockMs, 16);
  store<f64>(dst, st.sinceMs, 24);
  store<f64>(dst, st.openUntilMs, 32);
  store<f64>(dst, st.openMs, 40);
  store<f64>(dst, st.probeActivityMs, 48);
  store<u32>(dst, st.consecutive, 56);
  store<u16>(dst, <u16>st.probesIssued, 60);
  store<u16>(dst, <u16>st.probesSeen, 62);
  store<u16>(dst, <u16>st.probeFailures, 64);
  store<u16>(dst, <u16>st.probeSlow, 66);
  const w = st.window;
  store<u32>(dst, w.calls, CODEC_WINDOW_CALLS);
  store<u32>(dst, w.failures, CODEC_WINDOW_FAILURES);
  store<u32>(dst, w.slow, 76);
  const body = dst + HEADER_BYTES;
  if (s.windowType == WindowType.Count) {
    const cw = changetype<CountWindow>(w);
    store<u32>(body, <u32>cw.head);
    memory.copy(body + 4, changetype<usize>(cw.ring), <usize>cw.ring.length);
  } else {
    const tw = changetype<TimeWindow>(w);
    store<f64>(body, tw.headEpoch);
    memory.copy(body + 8, changetype<usize>(tw.counts), <usize>tw.counts.length << 2);
  }
  return encodedSize(s);
}

// Reads a state written by encode under settings of the same shape. Returns false
// (and leaves `st` untouched) when the bytes are not such a state: another version,
// another window shape (the configuration changed), a wrong length or bad values
// (non-finite times, totals above the window's calls, a ring position out of range).
// The caller then starts the key afresh.
export function decode(s: BreakerSettings, src: usize, len: i32, st: BreakerState): bool {
  if (len != encodedSize(s)) return false;
  if (load<u8>(src) != CODEC_VERSION) return false;
  if (load<u8>(src, 3) != <u8>s.windowType || load<u32>(src, 4) != s.shape) return false;
  const state = load<u8>(src, CODEC_STATE);
  if (state > STATE_HALF_OPEN) return false;
  const calls = load<u32>(src, CODEC_WINDOW_CALLS);
  const failures = load<u32>(src, CODEC_WINDOW_FAILURES);
  const slow = load<u32>(src, 76);
  if (failures > calls || slow > calls) return false;
  for (let off = 16; off < 56; off += 8) if (!isTime(load<f64>(src + <usize>off))) return false;
  const body = src + HEADER_BYTES;
  if (s.windowType == WindowType.Time && !isTime(load<f64>(body))) return false;
  const w = st.window;
  if (s.windowType == WindowType.Count) {
    const head = load<u32>(body);
    if (head >= <u32>s.windowSize || calls > <u32>s.windowSize) return false;
    const cw = changetype<CountWindow>(w);
    cw.head = <i32>head;
    memory.copy(changetype<usize>(cw.ring), body + 4, <usize>cw.ring.length);
  } else {
    const tw = changetype<TimeWindow>(w);
    tw.headEpoch = load<f64>(body);
    memory.copy(changetype<usize>(tw.counts), body + 8, <usize>tw.counts.length << 2);
  }
  w.calls = calls;
  w.failures = failures;
  w.slow = slow;
  st.state = state;
  st.reason = load<u8>(src, 2);
  st.generation = load<u32>(src, CODEC_GENERATION);
  st.backoffLevel = load<u32>(src, 12);
  st.clockMs = load<f64>(src, 16);
  st.sinceMs = load<f64>(src, 24);
  st.openUntilMs = load<f64>(src, 32);
  st.openMs = load<f64>(src, 40);
  st.probeActivityMs = load<f64>(src, 48);
  st.consecutive = load<u32>(src, 56);
  st.probesIssued = <u32>load<u16>(src, 60);
  st.probesSeen = <u32>load<u16>(src, 62);
  st.probeFailures = <u32>load<u16>(src, 64);
  st.probeSlow = <u32>load<u16>(src, 66);
  return true;
}

// Of an encoded state (at least CODEC_MIN_BYTES of it): its generation, and its last
// activity for eviction (its last state change; an open breaker is active until it may
// half-open). Two loads each: the store reads them without decoding the whole state.
export function encodedGeneration(src: usize): u32 {
  return load<u32>(src, CODEC_GENERATION);
}

export function encodedActivity(src: usize): f64 {
  const clock = load<f64>(src, 16);
  return load<u8>(src, CODEC_STATE) == STATE_OPEN ? max(clock, load<f64>(src, 32)) : clock;
}
