// Reads the breaker and canary-guard states the Envoy filter keeps in proxy-wasm shared
// data (wasm/filter/breaker-store.ts), for reports: `tandem simulate --via envoy` and the
// benchmark. The layout's offsets are the contract's (wasm/core/contract.ts); this is the
// one Node-side reader of it.
import {
  BREAKER_PREFIX, CODEC_GENERATION, CODEC_MIN_BYTES, CODEC_STATE, CODEC_WINDOW_CALLS, CODEC_WINDOW_FAILURES,
  VALUE_HEADER, VALUE_KEY_LEN, VALUE_VERSION,
} from "../wasm/core/contract";
import { STATE_NAMES } from "../wasm/core/contract-names";
import type { BreakerStateName } from "./tandem-core";

export { BREAKER_PREFIX, GUARD_PREFIX } from "../wasm/core/contract";

export interface SharedState {
  name: string;               // the shared-data key, <prefix><configId>:<slot>
  key: Buffer;                // the breaker key the slot holds
  state: BreakerStateName;
  generation: number;
  calls: number;              // in the window
  failures: number;
}

// One value's state, or null when the value is no state of this layout.
export function readSharedState(name: string, v: Buffer): SharedState | null {
  if (v.length < VALUE_HEADER + CODEC_MIN_BYTES || v[0] !== VALUE_VERSION) return null;
  const keyLen = v.readUInt16LE(VALUE_KEY_LEN);
  const s = VALUE_HEADER;
  const long = v.length >= s + CODEC_WINDOW_FAILURES + 4;
  return {
    name,
    key: v.subarray(v.length - keyLen),
    state: (STATE_NAMES[v[s + CODEC_STATE]] ?? "closed") as BreakerStateName,
    generation: v.readUInt32LE(s + CODEC_GENERATION),
    calls: long ? v.readUInt32LE(s + CODEC_WINDOW_CALLS) : 0,
    failures: long ? v.readUInt32LE(s + CODEC_WINDOW_FAILURES) : 0,
  };
}

// Whether a shared-data key names a breaker state.
export function isBreakerSlot(name: string): boolean {
  return name.startsWith(BREAKER_PREFIX);
}
