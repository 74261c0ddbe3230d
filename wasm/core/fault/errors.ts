// Validation rules of spec.faults, one constant each (see ../config/errors.ts): the
// same text from `tandem validate`, Kong's error log and Envoy's log.
export const E_FAULT_ACTION = "must have at least one of delay, abort, control";
export const E_FAULT_BY = "must be one of request, user";
export const E_FAULT_SCOPE = "must be one of gateway, upstream";
export const E_FAULT_NEEDS_EXPERIMENT = "needs spec.experiment";
export const E_FAULT_BY_USER = "needs spec.experiment (its stickiness names the user)";
export const E_FAULT_UPSTREAM = "needs spec.circuitBreaker or a canary guard in spec.experiment to feed";
export const E_FAULT_END = "must be after start";
export const E_FAULT_TIME = "must be an RFC 3339 time like 2026-11-27T10:00:00Z";
export const E_FAULT_SECRET = "must be at least 16 bytes";
