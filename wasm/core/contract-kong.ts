// The part of the core's contract only Kong's copy of a config carries. Written like
// ./contract.ts (compiled by asc and tsc alike), in a file apart: the Envoy filter
// imports ./contract.ts, and each string exported there is bytes in tandem.wasm.

// The `circuit-breaker` config's {variant: Kong Upstream}: the upstream a `reroute` to
// a variant chooses with set_upstream (Kong routes before plugins run; Envoy routes on
// the variant header). Written by ./plan.ts, renamed to Kong Upstreams by
// cli/render/kong.ts, resolved by the core at configure time (./breaker/reroute.ts).
export const VARIANT_UPSTREAMS_FIELD = "variantUpstreams";
