// Which decided requests the decision log samples: a hash of the request's id (the
// entropy fact the adapters already pass: x-request-id, else Kong's request id), so the
// same request is sampled on every path and the core reads no random source.
import { murmur3_32, scale } from "../hash/hash";

export const LOG_BP_ALL = 10000;   // percent in basis points: 100% = 10000
// Independent of the experiment's buckets and the faults' coins (their own seeds).
const LOG_SEED: u32 = 0x646c6f67;  // "dlog"

// ExperimentDecision.log / the decision area's D_LOG.
export const LOG_NO = 0;
export const LOG_YES = 1;
export const LOG_NEEDS_ENTROPY = 2;   // sampling needs the request id the adapter has not passed

// Whether the request whose id is [ptr, ptr + len) is logged at `bp` basis points.
export function logSampled(bp: i32, ptr: usize, len: i32): bool {
  if (bp <= 0) return false;
  if (bp >= LOG_BP_ALL) return true;
  return <i32>scale(murmur3_32(ptr, len, LOG_SEED), <u32>LOG_BP_ALL) < bp;
}
