// Test entry for the breaker core (test/support/breaker-core.ts compiles it with the
// "core" target). A flat ABI like ../api.ts: JS writes UTF-8 / bytes into the arena,
// calls, and reads results from the out buffer. Not shipped.
import { resetSteps, workSteps } from "../text/steps";
import { utf8 } from "../text/bytes";
import { parseJson } from "../json/json";
import { Reader } from "../config/reader";
import { E_JSON, ruleText } from "../config/errors";
import { parseBreaker, parseBreakerPlugin } from "../breaker/config";
import { parseFallback } from "../breaker/fallback-config";
import { BreakerSettings } from "../breaker/settings";
import { BreakerState } from "../breaker/state";
import { Breaker } from "../breaker/breaker";
import { Admission, advance, allow, classify, record, retryAfterSeconds } from "../breaker/machine";
import { decode, encode, encodedSize } from "../breaker/codec";
import { describeFallback, describeSettings, describeState } from "../breaker/describe";
import { fallbackOnOutcome, fallbackOnReject } from "../breaker/fallback";

let arena = new StaticArray<u8>(65536);
let out = new StaticArray<u8>(256);
let outLen: i32 = 0;
let breaker: Breaker | null = null;
let shared: BreakerState | null = null;       // the Envoy-style state decoded from bytes
const sharedAdmission = new Admission();

function setOut(s: string): void { setOutBytes(changetype<usize>(utf8(s)), String.UTF8.byteLength(s)); }

function setOutBytes(p: usize, n: i32): void {
  if (out.length < n) out = new StaticArray<u8>(n + 256);
  memory.copy(changetype<usize>(out), p, n);
  outLen = n;
}

function arenaPtr(): usize { return changetype<usize>(arena); }

export function breaker_arena(size: i32): usize {
  if (arena.length < size) arena = new StaticArray<u8>(size + (size >> 1));
  return changetype<usize>(arena);
}
export function breaker_out_ptr(): usize { return changetype<usize>(out); }
export function breaker_out_len(): i32 { return outLen; }

// which: 0 = the plugin config (circuitBreaker fields + fallback), 1 = spec.circuitBreaker
// alone, 2 = spec.fallback alone (validation only). Returns 1 and the settings as JSON
// in the out buffer, or 0 and the error text.
export function breaker_configure(len: i32, which: i32, seed: u32): i32 {
  const text = String.UTF8.decodeUnsafe(arenaPtr(), <usize>len);
  const r = new Reader();
  const j = parseJson(text);
  if (j.value === null) { setOut(ruleText(E_JSON) + ": " + j.error); return 0; }
  if (which == 2) {
    const f = parseFallback(r, j.value, "fallback");
    if (f === null || r.failed) { setOut(r.error); return 0; }
    setOut(describeFallback(f));
    return 1;
  }
  const s = which == 0 ? parseBreakerPlugin(r, j.value) : parseBreaker(r, j.value, "circuitBreaker");
  if (s === null || r.failed) { setOut(r.error); return 0; }
  const b = new Breaker(s as BreakerSettings, seed);
  breaker = b;
  shared = new BreakerState(b.settings);
  setOut(describeSettings(b.settings));
  return 1;
}

function br(): Breaker { return breaker as Breaker; }

// Key = the first keyLen bytes of the arena. Returns flags (1 admitted, 2 permitted,
// 4 probe) | 8 when the state changed | state << 8.
export function breaker_allow(keyLen: i32, nowMs: f64): i32 {
  const a = br().allow(arenaPtr(), keyLen, nowMs);
  return a.flags | (a.changed ? 8 : 0) | (<i32>a.state << 8);
}
export function breaker_generation(): u32 { return br().admission.generation; }
export function breaker_retry_after(): f64 { return br().admission.retryAfterMs; }

export function breaker_record(keyLen: i32, flags: i32, generation: u32, status: i32, error: i32, latencyMs: f64, nowMs: f64): i32 {
  return br().record(arenaPtr(), keyLen, flags, generation, status, error, latencyMs, nowMs);
}

// Time-driven transitions and window eviction as of nowMs. -1 when the key is absent.
export function breaker_advance(keyLen: i32, nowMs: f64): i32 {
  const st = br().state(arenaPtr(), keyLen);
  if (st === null) return -1;
  return advance(br().settings, st, nowMs) ? 1 : 0;
}

// 1 and the state as JSON, or 0 when the key is absent.
export function breaker_state(keyLen: i32): i32 {
  const st = br().state(arenaPtr(), keyLen);
  if (st === null) return 0;
  setOut(describeState(st));
  return 1;
}

export function breaker_keys(): i32 { return br().table.count; }
export function breaker_evictions(): u32 { return br().table.evictions; }
export function breaker_has(keyLen: i32): i32 { return br().table.has(arenaPtr(), keyLen) ? 1 : 0; }

// Keys from most to least recently used, as a JSON array of strings.
export function breaker_lru(): void {
  const t = br().table;
  let o = "[";
  for (let e = t.first(); e >= 0; e = t.after(e)) {
    const k = t.keyAt(e);
    if (o.length > 1) o += ",";
    o += "\"" + String.UTF8.decodeUnsafe(changetype<usize>(k), <usize>k.length) + "\"";
  }
  setOut(o + "]");
}

export function breaker_classify(status: i32, error: i32): i32 { return classify(br().settings, status, error); }

// Fallback kind (0 none, 1 respond, 2 reroute) for a rejected call (outcome -1) or
// after an upstream outcome; the method is the first methodLen bytes of the arena.
export function breaker_fallback(outcome: i32, methodLen: i32): i32 {
  const f = br().settings.fallback;
  if (outcome < 0) return <i32>fallbackOnReject(f);
  return <i32>fallbackOnOutcome(f, outcome, arenaPtr(), methodLen);
}
export function breaker_retry_after_seconds(ms: f64): i32 { return retryAfterSeconds(ms); }
export function breaker_encoded_size(): i32 { return encodedSize(br().settings); }

// The key's state as bytes in the out buffer; returns the length (0: key absent).
export function breaker_encode(keyLen: i32): i32 {
  const st = br().state(arenaPtr(), keyLen);
  if (st === null) return 0;
  const n = encodedSize(br().settings);
  if (out.length < n) out = new StaticArray<u8>(n + 256);
  encode(br().settings, st, changetype<usize>(out));
  outLen = n;
  return n;
}

// Decodes arena[keyLen .. keyLen + dataLen) into the key's state (created if new).
export function breaker_decode(keyLen: i32, dataLen: i32): i32 {
  const st = br().table.get(arenaPtr(), keyLen);
  return decode(br().settings, arenaPtr() + <usize>keyLen, dataLen, st) ? 1 : 0;
}

// ---- the Envoy way: state bytes in (arena[0..len), len 0 = absent), machine, bytes out ----

function loadShared(len: i32, generation: u32): BreakerState {
  const st = shared as BreakerState;
  if (len == 0 || !decode(br().settings, arenaPtr(), len, st)) st.reset(generation);
  return st;
}

function storeShared(st: BreakerState): void {
  const n = encodedSize(br().settings);
  if (out.length < n) out = new StaticArray<u8>(n + 256);
  encode(br().settings, st, changetype<usize>(out));
  outLen = n;
}

export function breaker_shared_allow(len: i32, nowMs: f64): i32 {
  const st = loadShared(len, 0);
  const a = allow(br().settings, st, nowMs, sharedAdmission);
  storeShared(st);
  return a.flags | (a.changed ? 8 : 0) | (<i32>a.state << 8);
}
export function breaker_shared_generation(): u32 { return sharedAdmission.generation; }

export function breaker_shared_record(len: i32, flags: i32, generation: u32, status: i32, error: i32, latencyMs: f64, nowMs: f64): i32 {
  const s = br().settings;
  const st = loadShared(len, 0);
  const changed = record(s, st, sharedAdmission.restore(flags, generation), classify(s, status, error), latencyMs, nowMs);
  storeShared(st);
  return changed ? 1 : 0;
}

// Runs `n` allow+record pairs on the key (outcomes cycle through success, failure,
// slow, ignored) from nowMs in steps of stepMs; for cost and allocation checks.
export function breaker_churn(keyLen: i32, n: i32, nowMs: f64, stepMs: f64): i32 {
  const b = br();
  let t = nowMs;
  let admitted = 0;
  for (let i = 0; i < n; i++) {
    const a = b.allow(arenaPtr(), keyLen, t);
    if (a.admitted) admitted++;
    const k = i & 3;
    const status = k == 1 ? 503 : k == 3 ? 0 : 200;
    b.record(arenaPtr(), keyLen, a.flags, a.generation, status, 0, k == 2 ? 1e9 : 1, t);
    t += stepMs;
  }
  return admitted;
}

// Inner-loop steps (window buckets advanced, key-table probes) since the last reset
// (wasm/core/text/steps.ts; counted in test builds only).
export function breaker_work_steps(): f64 { return <f64>workSteps; }
export function breaker_work_steps_reset(): void { resetSteps(); }
