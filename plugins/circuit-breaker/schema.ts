// Kong schema of the `circuit-breaker` plugin: the shape of spec.circuitBreaker plus
// `fallback` (spec.fallback) and the Kong-only `variantUpstreams`, types only.
// Defaults and every rule live in the core, so Kong and Envoy apply the same ones;
// Kong's own check only rejects wrong types and unknown fields.
//
// Kong types array elements: failure.statuses / ignoreStatuses are strings here ("5xx",
// "503"); `tandem render` writes numeric statuses as strings for Kong.
import { HAS_FAULTS_FIELD, POLICY_FIELD } from "../../wasm/core/metrics/catalog";
import { UPSTREAM_NAMES_FIELD } from "../../wasm/core/contract";

const str = { type: "string" };
const int = { type: "integer" };
const num = { type: "number" };
const strings = { type: "array", elements: { type: "string" } };
// Kong refuses "" for a string field unless len_min is 0 (and drops it when read back).
const anyStr = { type: "string", len_min: 0 };

// spec.fallback's cache (wasm/core/cache/config.ts).
const cacheRecord = {
  type: "record",
  fields: [
    { methods: strings }, { maxEntries: int }, { maxBodyBytes: int }, { ttlMs: int }, { varyHeaders: strings },
    { statuses: { type: "array", elements: int } }, { cacheAuthorized: { type: "boolean" } },
  ],
};

// One fallback: respond, reroute or cache, and when (`on`).
const fallbackRecord = {
  type: "record",
  fields: [
    {
      respond: {
        type: "record",
        fields: [
          { status: int },
          { headers: { type: "map", keys: { type: "string" }, values: anyStr } },
          { body: anyStr },
          { contentType: str },
          { grpcStatus: int },
        ],
      },
    },
    { reroute: { type: "record", fields: [{ variant: str }, { upstream: str }] } },
    { cache: cacheRecord },
    { on: strings },
  ],
};

export const Schema = [
  { key: str },
  { maxKeys: int },
  { window: { type: "record", fields: [{ type: str }, { size: int }, { sizeMs: int }, { buckets: int }] } },
  { minimumCalls: int },
  { failureRateThreshold: num },
  { slowCallDurationMs: int },
  { slowCallRateThreshold: num },
  { consecutiveFailures: int },
  { openDurationMs: int },
  { openBackoff: { type: "record", fields: [{ multiplier: num }, { maxMs: int }] } },
  { halfOpen: { type: "record", fields: [{ permittedCalls: int }, { maxWaitMs: int }] } },
  { failure: { type: "record", fields: [{ statuses: strings }, { ignoreStatuses: strings }, { errors: strings }, { grpcStatuses: { type: "array", elements: { type: "integer" } } }] } },
  { mode: str },
  { fallback: fallbackRecord },
  // Kong only: spec.fallback as an ordered list ([cache, respond], ...). Kong types a
  // field as one shape, so `tandem render` writes the list here and the single form
  // under `fallback`; the plugin hands the core the list as `fallback` (./fallback-form.ts),
  // so both gateways read, and refuse, the same config with the same field paths.
  { fallbacks: { type: "array", elements: fallbackRecord } },
  // Kong only (stripped before the core sees the config): the Kong Upstream of each
  // experiment variant, so a `fallback.reroute.variant` can call set_upstream. Kong
  // routes before plugins run, so the variant header alone cannot move a request;
  // `tandem render` fills it from spec.experiment.variants[].upstream.
  { variantUpstreams: { type: "map", keys: { type: "string" }, values: { type: "string" } } },
  { [HAS_FAULTS_FIELD]: { type: "boolean" } },   // false: no fault-injection part (read by the Envoy filter only)
  { [POLICY_FIELD]: str },   // the policy's name: its metrics' label (core: wasm/core/metrics/policy-name.ts)
  // key: upstream: each variant's upstream as the policy names it, the key its requests
  // count under (core: wasm/core/breaker/upstream-names.ts), the same on both gateways.
  { [UPSTREAM_NAMES_FIELD]: { type: "map", keys: { type: "string" }, values: { type: "string" } } },
];
