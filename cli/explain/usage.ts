// Usage errors of `tandem explain` (main.ts prints them with the usage, exit 2). Here
// rather than in ../explain.ts so the per-part sections (./breaker.ts, ...) can throw
// them without importing the command that imports them.
export class ExplainUsage extends Error {}

export const BREAKER_STATE_VALUES = ["open", "half_open", "half_open_full", "closed"] as const;
export type GivenBreakerState = (typeof BREAKER_STATE_VALUES)[number];

export const BAD_BREAKER_STATE = "--breaker-state must be one of open, half_open, half_open_full, closed, got ";
export const TRACE_AND_STATE = "--trace and --breaker-state are exclusive: a trace already sets the breaker's state";
export const NO_BREAKER = "has no spec.circuitBreaker: --breaker-state gives a breaker its history";
export const NO_HISTORY = "has neither spec.circuitBreaker nor a canary guard: --trace gives them their history";
export const HALF_OPEN_TOO_EARLY = "--breaker-state half_open(_full) opens the breaker circuitBreaker.openDurationMs before --at, so --at must be at least ";
export const CANNOT_OPEN = "--breaker-state: this breaker counts no outcome as a failure and no call as slow, so it never opens";
