// The names of the contract's states and transition reasons (./contract.ts), as
// reports print them. A file apart: AssemblyScript builds a file's arrays at start, and
// the Envoy filter, which prints no names, should not carry them.
// Written in the part of TypeScript AssemblyScript also compiles, like ./contract.ts.

// By state number (STATE_*).
export const STATE_NAMES = ["closed", "open", "half_open"];
// Why the last transition happened, by REASON_* number of ./breaker/state.ts.
export const TRANSITION_NAMES = [
  "none", "failure_rate", "slow_call_rate", "consecutive_failures", "open_elapsed", "probe_failures",
  "probe_slow_calls", "probe_timeout", "probes_passed",
];
