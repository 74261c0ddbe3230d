// When the fallback (spec.fallback) answers instead of the upstream. Both gateways ask
// the core so they decide alike; building the response (status, headers, body,
// Retry-After) or rerouting is the adapter's part.
//   on: [open]             the breaker rejected the call (Admission.admitted false)
//   on: [upstreamFailure]  the upstream call failed (classify() said failure) and the
//                          method is idempotent (RFC 9110 9.2.2), so answering in its
//                          place cannot hide a side effect the client would retry
import { FallbackKind, FallbackSettings, OUTCOME_FAILURE } from "./settings";
import { EFFECT_CACHE_FIRST, EFFECT_REPLY, EFFECT_REROUTE, EFFECT_RESPOND } from "../contract";

const GET: StaticArray<u8> = [0x47, 0x45, 0x54];
const PUT: StaticArray<u8> = [0x50, 0x55, 0x54];
const HEAD: StaticArray<u8> = [0x48, 0x45, 0x41, 0x44];
const TRACE: StaticArray<u8> = [0x54, 0x52, 0x41, 0x43, 0x45];
const DELETE: StaticArray<u8> = [0x44, 0x45, 0x4c, 0x45, 0x54, 0x45];
const OPTIONS: StaticArray<u8> = [0x4f, 0x50, 0x54, 0x49, 0x4f, 0x4e, 0x53];

function eq(p: usize, n: i32, s: StaticArray<u8>): bool {
  return n == s.length && memory.compare(p, changetype<usize>(s), <usize>n) == 0;
}

// GET, HEAD, OPTIONS, TRACE, PUT, DELETE (methods are case-sensitive).
export function isIdempotentMethod(p: usize, n: i32): bool {
  return eq(p, n, GET) || eq(p, n, HEAD) || eq(p, n, PUT) || eq(p, n, DELETE) || eq(p, n, OPTIONS) || eq(p, n, TRACE);
}

// The fallback to apply to a call the breaker rejected: FallbackKind.None when the
// gateway should answer its own way (Envoy/Kong: 503).
export function fallbackOnReject(f: FallbackSettings | null): FallbackKind {
  if (f === null || !f.onOpen) return FallbackKind.None;
  return f.kind;
}

// The fallback to apply after the upstream answered (or failed) with `outcome`.
export function fallbackOnOutcome(f: FallbackSettings | null, outcome: i32, methodPtr: usize, methodLen: i32): FallbackKind {
  if (f === null || !f.onUpstreamFailure || outcome != OUTCOME_FAILURE) return FallbackKind.None;
  return isIdempotentMethod(methodPtr, methodLen) ? f.kind : FallbackKind.None;
}

// The effects of a call the breaker rejected (EFFECT_* of ../contract.ts): the cache
// first when it covers `open`, then the reroute or a local reply: the respond
// fallback's (EFFECT_RESPOND) when it applies, else the default rejection (also the
// answer should a reroute fail).
export function effectsOnReject(f: FallbackSettings | null): i32 {
  if (f === null) return EFFECT_REPLY;
  const k = f.onOpen ? f.kind : FallbackKind.None;   // fallbackOnReject's
  const e = k == FallbackKind.Reroute ? EFFECT_REROUTE : k == FallbackKind.Respond ? EFFECT_REPLY | EFFECT_RESPOND : EFFECT_REPLY;
  return f.cache !== null && f.cacheOnOpen ? e | EFFECT_CACHE_FIRST : e;
}

// Whether the cache fallback is asked first after the upstream answered with
// `outcome`. Only GET and HEAD are ever cached, both idempotent: no method check here.
export function cacheOnOutcome(f: FallbackSettings | null, outcome: i32): bool {
  return f !== null && f.cache !== null && f.cacheOnUpstreamFailure && outcome == OUTCOME_FAILURE;
}
