// Kong schema of the `fault-injection` plugin: { faults, experiment, hasBreaker }
// (wasm/core/fault/policy.ts), types only. Every rule lives in the core, so Kong and
// Envoy refuse the same configs with the same text; Kong's own check only rejects
// wrong types and unknown fields.
import { Schema as ExperimentSchema, named, stringMatch } from "../experiment/schema";
import { METRICS_FIELD, POLICY_FIELD } from "../../wasm/core/metrics/catalog";

const str = { type: "string" };
const int = { type: "integer" };
const num = { type: "number" };
const bool = { type: "boolean" };
// Kong refuses "" for a string field unless len_min is 0.
const anyStr = { type: "string", len_min: 0 };

const fault = {
  type: "record",
  fields: [
    { name: str },
    {
      match: {
        type: "record",
        fields: [{ header: named }, { cookie: named }, { query: named }, { path: stringMatch }, { method: stringMatch }, { host: stringMatch }],
      },
    },
    { variant: str },
    { delay: { type: "record", fields: [{ fixedMs: int }, { percent: num }] } },
    {
      abort: {
        type: "record",
        fields: [{ status: int }, { headers: { type: "map", keys: str, values: anyStr } }, { body: anyStr }, { contentType: str }, { percent: num }],
      },
    },
    { by: str },
    { scope: str },
    { control: { type: "record", fields: [{ header: str }, { secret: { type: "string", referenceable: true, encrypted: true } }] } },
    { maxActive: int },
    { enabled: bool },
    { start: str },
    { end: str },
  ],
};

// The policy's spec.experiment (variants, variant header, stickiness): the experiment
// plugin's fields, none required here (the record itself is optional).
const experimentFields = ExperimentSchema
  .filter((f) => !("experiments" in f) && !(POLICY_FIELD in f) && !(METRICS_FIELD in f))
  .map((f) => Object.fromEntries(Object.entries(f).map(([k, v]) => {
    const { required: _r, ...rest } = v as Record<string, unknown>;
    return [k, rest];
  })));

export const Schema = [
  { faults: { type: "array", required: true, elements: fault } },
  { experiment: { type: "record", fields: experimentFields } },
  { hasBreaker: bool },
  { [POLICY_FIELD]: str },   // the policy's name: its metrics' label (core: wasm/core/metrics/policy-name.ts)
];
