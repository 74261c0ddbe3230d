// Test entry for the issue-3 building blocks (regex, GrowthBook hashing, SHA-256/HMAC);
// test/support/blocks-core.ts compiles it with the "core" target. A flat ABI like
// ../api.ts: JS writes bytes into the arena, calls, and reads the out buffer. Not shipped.
import { resetSteps, workSteps } from "../text/steps";
import { utf8 } from "../text/bytes";
import { CompiledRegex, compileRegexBytes } from "../regex/index";
import { GrowthBookSplit, weightFromBp } from "../hash/growthbook";
import { sha256, writeHexBytes } from "../hmac/sha256";
import { constantTimeEquals, HmacSha256 } from "../hmac/hmac";

let arena = new StaticArray<u8>(65536);
let out = new StaticArray<u8>(256);
let outLen: i32 = 0;
const regexes = new Array<CompiledRegex | null>(0);
const splits = new Array<GrowthBookSplit>(0);
const macs = new Array<HmacSha256>(0);
const digest = new StaticArray<u8>(32);

function arenaPtr(): usize { return changetype<usize>(arena); }

function setOut(s: string): void {
  const b = utf8(s);
  if (out.length < b.length) out = new StaticArray<u8>(b.length + 256);
  memory.copy(changetype<usize>(out), changetype<usize>(b), b.length);
  outLen = b.length;
}

export function blocks_arena(size: i32): usize {
  if (arena.length < size) arena = new StaticArray<u8>(size + (size >> 1));
  return arenaPtr();
}
export function blocks_out_ptr(): usize { return changetype<usize>(out); }
export function blocks_out_len(): i32 { return outLen; }

// ---- regex ----

let lastErrorOffset: i32 = -1;

// Pattern = arena[0..len); flags: 1 ignoreCase, 2 NFA only. Returns a handle, or -1
// with the error text in out.
export function regex_compile(len: i32, flags: i32): i32 {
  const r = compileRegexBytes(arenaPtr(), len, (flags & 1) != 0);
  if (r.regex === null) { setOut(r.error); lastErrorOffset = r.offset; return -1; }
  const re = r.regex as CompiledRegex;
  if ((flags & 2) != 0) re.nfaOnly = true;
  regexes.push(re);
  return regexes.length - 1;
}
export function regex_error_offset(): i32 { return lastErrorOffset; }
export function regex_program_length(h: i32): i32 { return (regexes[h] as CompiledRegex).programLength; }

// Input = arena[0..len). 1 = match.
export function regex_search(h: i32, len: i32): i32 {
  return (regexes[h] as CompiledRegex).search(arenaPtr(), len) ? 1 : 0;
}

// The same search `times` times (for timing without the JS call overhead).
export function regex_search_repeat(h: i32, len: i32, times: i32): i32 {
  const r = regexes[h] as CompiledRegex;
  let hits = 0;
  for (let i = 0; i < times; i++) if (r.search(arenaPtr(), len)) hits++;
  return hits;
}

export function regex_release(h: i32): void { regexes[h] = null; }

// ---- GrowthBook ----

// Arena: n f64 weights, then the seed's UTF-8. asBp != 0: the weights are basis points
// (integers) converted with weightFromBp. Returns a handle.
export function gb_configure(n: i32, seedLen: i32, coverage: f64, asBp: i32): i32 {
  const w = new StaticArray<f64>(n);
  for (let i = 0; i < n; i++) {
    const v = load<f64>(arenaPtr() + <usize>(i << 3));
    w[i] = asBp != 0 ? weightFromBp(<i32>v) : v;
  }
  const seed = String.UTF8.decodeUnsafe(arenaPtr() + <usize>(n << 3), <usize>seedLen);
  splits.push(new GrowthBookSplit(seed, w, coverage));
  return splits.length - 1;
}
export function gb_hash(h: i32, keyLen: i32): f64 { return splits[h].hash(arenaPtr(), keyLen); }
export function gb_choose(h: i32, keyLen: i32): i32 { return splits[h].choose(arenaPtr(), keyLen); }

// ---- SHA-256 / HMAC ----

// SHA-256 of arena[0..len) as hex in out.
export function sha256_hex(len: i32): void {
  sha256(arenaPtr(), len, changetype<usize>(digest));
  if (out.length < 64) out = new StaticArray<u8>(256);
  writeHexBytes(changetype<usize>(digest), 32, changetype<usize>(out));
  outLen = 64;
}

// Key = arena[0..len). Returns a handle.
export function hmac_new(len: i32): i32 {
  macs.push(new HmacSha256(arenaPtr(), len));
  return macs.length - 1;
}

// HMAC of arena[0..len) as hex in out.
export function hmac_hex(h: i32, len: i32): void {
  if (out.length < 64) out = new StaticArray<u8>(256);
  macs[h].macHex(arenaPtr(), len, changetype<usize>(out));
  outLen = 64;
}

// Message = arena[0..len), token = arena[len..len+tokenLen). 1 = valid.
export function hmac_verify(h: i32, len: i32, tokenLen: i32): i32 {
  return macs[h].verifyHex(arenaPtr(), len, arenaPtr() + <usize>len, tokenLen) ? 1 : 0;
}

// arena[0..len) vs arena[len..2len).
export function ct_equal(len: i32): i32 {
  return constantTimeEquals(arenaPtr(), arenaPtr() + <usize>len, len) ? 1 : 0;
}

// Heap size, to check that searches and MACs allocate nothing.
export function blocks_memory_bytes(): i32 { return <i32>(memory.size() << 16); }

// Inner-loop steps of the regex engine and the substring scan since the last reset
// (wasm/core/text/steps.ts; counted in test builds only).
export function work_steps(): f64 { return <f64>workSteps; }
export function work_steps_reset(): void { resetSteps(); }
