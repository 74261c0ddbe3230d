// Validation rules of spec.faults, one constant each (see ../config/errors.ts): the
// same text from `tandem validate`, Kong's error log and Envoy's log.
import { Rule } from "../text/rule-bytes";
export const E_FAULT_ACTION: Rule = 0x000dd12f; // "must have at least one of delay, abort, control"
export const E_FAULT_BY: Rule = 0x000e001c; // "must be one of request, user"
export const E_FAULT_SCOPE: Rule = 0x000e1c20; // "must be one of gateway, upstream"
export const E_FAULT_NEEDS_EXPERIMENT: Rule = 0x000e3c15; // "needs spec.experiment"
export const E_FAULT_BY_USER: Rule = 0x000e5135; // "needs spec.experiment (its stickiness names the user)"
export const E_FAULT_UPSTREAM: Rule = 0x000e8646; // "needs spec.circuitBreaker or a canary guard in spec.experiment to feed"
export const E_FAULT_END: Rule = 0x000ecc13; // "must be after start"
export const E_FAULT_TIME: Rule = 0x000ce332; // "must be an RFC 3339 time like 2026-11-27T10:00:00Z"
export const E_FAULT_SECRET: Rule = 0x000edf19; // "must be at least 16 bytes"

export const E_FAULT_HEADER_OWNED: Rule = 0x000ef836; // "must not be a header the gateways own or tandem writes"
export const E_FAULT_HEADER_VARIANT: Rule = 0x000f2e43; // "must differ from the experiment's variantHeader and override.header"
