// Kong schema of the `experiment` plugin: the shape of spec.experiment, types only.
// Defaults and every rule live in the core, so Kong and Envoy apply the same ones;
// Kong's own check only rejects wrong types and unknown fields.
const str = { type: "string" };
const strings = { type: "array", elements: { type: "string" } };

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
];
