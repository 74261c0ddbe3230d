// Kong schema of the `experiment` plugin: the shape of spec.experiment, types only.
// Defaults and every rule live in the core, so Kong and Envoy apply the same ones;
// Kong's own check only rejects wrong types and unknown fields.
import { HAS_FAULTS_FIELD, METRICS_FIELD, POLICY_FIELD } from "../../wasm/core/metrics/catalog";

const str = { type: "string" };
const strings = { type: "array", elements: { type: "string" } };
const bool = { type: "boolean" };
// A string match (rules): exactly one operator; the core checks that.
export const stringMatch = {
  type: "record",
  fields: [
    { exact: str }, { prefix: str }, { suffix: str }, { contains: str }, { regex: str },
    { present: bool }, { ignoreCase: bool }, { invert: bool },
  ],
};
// header / cookie / query name -> string match
export const named = { type: "map", keys: { type: "string" }, values: stringMatch };

// A canary guard (a breaker on the variant's outcomes): the circuitBreaker fields it
// shares, `cooldownMs` and `to`. failure.statuses are strings, as for the breaker.
const int = { type: "integer" };
const guard = {
  type: "record",
  fields: [
    { window: { type: "record", fields: [{ type: str }, { size: int }, { sizeMs: int }, { buckets: int }] } },
    { minimumCalls: int },
    { failureRateThreshold: { type: "number" } },
    { slowCallDurationMs: int },
    { slowCallRateThreshold: { type: "number" } },
    { consecutiveFailures: int },
    { cooldownMs: int },
    { halfOpen: { type: "record", fields: [{ permittedCalls: int }, { maxWaitMs: int }] } },
    { failure: { type: "record", fields: [{ statuses: strings }, { ignoreStatuses: strings }, { errors: strings }, { grpcStatuses: { type: "array", elements: { type: "integer" } } }] } },
    { mode: str },
    { to: str },
  ],
};

// A/B rules (first match wins), for the experiment and each tagging experiment.
const rules = {
  type: "array",
  elements: {
    type: "record",
    fields: [
      {
        match: {
          type: "record",
          fields: [
            { header: named }, { cookie: named }, { query: named },
            { path: stringMatch }, { method: stringMatch }, { host: stringMatch },
          ],
        },
      },
      { variant: str },
      { split: { type: "array", elements: { type: "record", fields: [{ variant: str }, { weight: { type: "number" } }] } } },
    ],
  },
};
const rollout = {
  type: "record",
  fields: [{ variant: str }, { start: str }, { steps: { type: "array", elements: { type: "record", fields: [{ weight: { type: "number" } }, { after: str }] } } }],
};

export const Schema = [
  { name: { type: "string", required: true } },
  { seed: str },
  { variantHeader: str },
  {
    stickiness: {
      type: "record",
      fields: [
        { sources: strings },
        {
          cookie: {
            type: "record",
            fields: [
              { name: str },
              { maxAgeSeconds: { type: "integer" } },
              { path: str },
              { domain: str },
              { secure: { type: "boolean" } },
              { httpOnly: { type: "boolean" } },
              { sameSite: str },
            ],
          },
        },
      ],
    },
  },
  {
    variants: {
      type: "array",
      required: true,
      elements: {
        type: "record",
        fields: [{ name: str }, { weight: { type: "number" } }, { upstream: str }, { guard }],
      },
    },
  },
  { scope: { type: "record", fields: [{ hosts: strings }, { pathPrefixes: strings }] } },
  { rules },
  { hash: str },
  { override: { type: "record", fields: [{ header: str }, { secret: { type: "string", referenceable: true, encrypted: true } }] } },
  { rollout },
  { exposeHeader: { type: "boolean" } },
  // spec.experiment.decisionLog: the sampled decision log (wasm/core/decision-log/)
  { decisionLog: { type: "record", fields: [{ percent: { type: "number" } }] } },
  // spec.experiments, the tagging experiments (`tandem render` puts them here): the
  // fields of an experiment that only tags. Kong rejects undeclared fields, so the
  // whole shape is declared; the core checks the rest (and nulls count as absent).
  {
    experiments: {
      type: "array",
      elements: {
        type: "record",
        fields: [
          { name: str }, { seed: str },
          { variants: { type: "array", elements: { type: "record", fields: [{ name: str }, { weight: { type: "number" } }] } } },
          { rules }, { hash: str }, { rollout },
        ],
      },
    },
  },
  { [POLICY_FIELD]: str },     // the policy's name: its metrics' label (core: wasm/core/metrics/policy-name.ts)
  { [METRICS_FIELD]: bool },   // false: this plugin records no metrics (docs/metrics.md)
  // false: no fault-injection part shares the policy (tandem render); Kong reads the fault
  // from the log serializer it reads anyway, so the field changes nothing here
  { [HAS_FAULTS_FIELD]: bool },
];
