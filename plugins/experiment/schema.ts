// Kong schema of the `experiment` plugin: the shape of spec.experiment, types only.
// Defaults and every rule live in the core, so Kong and Envoy apply the same ones;
// Kong's own check only rejects wrong types and unknown fields.
const str = { type: "string" };
const strings = { type: "array", elements: { type: "string" } };
const bool = { type: "boolean" };
// A string match (rules): exactly one operator; the core checks that.
const stringMatch = {
  type: "record",
  fields: [
    { exact: str }, { prefix: str }, { suffix: str }, { contains: str }, { regex: str },
    { present: bool }, { ignoreCase: bool }, { invert: bool },
  ],
};
// header / cookie / query name -> string match
const named = { type: "map", keys: { type: "string" }, values: stringMatch };

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
        fields: [{ name: str }, { weight: { type: "number" } }, { upstream: str }],
      },
    },
  },
  { scope: { type: "record", fields: [{ hosts: strings }, { pathPrefixes: strings }] } },
  {
    rules: {
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
    },
  },
  { hash: str },
  { override: { type: "record", fields: [{ header: str }, { secret: { type: "string", referenceable: true, encrypted: true } }] } },
  {
    rollout: {
      type: "record",
      fields: [{ variant: str }, { start: str }, { steps: { type: "array", elements: { type: "record", fields: [{ weight: { type: "number" } }, { after: str }] } } }],
    },
  },
  { exposeHeader: { type: "boolean" } },
];
