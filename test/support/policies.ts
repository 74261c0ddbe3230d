// Experiment configs shared by gateway tests.
export const CHECKOUT = {
  name: "checkout-v2",
  stickiness: { sources: ["cookie:tandem-uid", "header:x-user-id"], cookie: { name: "tandem-uid", maxAgeSeconds: 2592000 } },
  variantHeader: "x-tandem-variant",
  variants: [{ name: "stable", weight: 90, upstream: "api-v1" }, { name: "canary", weight: 10, upstream: "api-v2" }],
};

// Same users, all to the canary: a config change a test can observe.
export const ALL_CANARY = { ...CHECKOUT, variants: [{ name: "stable", weight: 0, upstream: "api-v1" }, { name: "canary", weight: 100, upstream: "api-v2" }] };

export const BAD_WEIGHT = { ...CHECKOUT, variants: [{ name: "stable", weight: 0, upstream: "api-v1" }, { name: "canary", weight: 120, upstream: "api-v2" }] };
export const BAD_WEIGHT_MESSAGE = "experiment.variants[1].weight: must be between 0 and 100, got 120";

// CHECKOUT under /shop with two tagging experiments (spec.experiments), one with a rule:
// the Kong plugin's and the Envoy filter's tagging tests run the same policy.
export const TAGGED = {
  ...CHECKOUT,
  scope: { pathPrefixes: ["/shop"] },
  experiments: [
    { name: "recs", variants: [{ name: "A", weight: 50 }, { name: "B", weight: 50 }] },
    { name: "pricing", hash: "growthbook-v2", variants: [{ name: "low", weight: 50 }, { name: "high", weight: 50 }],
      rules: [{ match: { header: { "x-plan": { exact: "pro" } } }, variant: "high" }] },
  ],
};

// A 50/50 split keyed by x-user-id whose canary (api-v2) carries `guard`: the canary
// guard tests on both gateways differ only in the guard's settings.
export function guardedCheckout(guard: Record<string, unknown>) {
  return {
    name: "checkout",
    stickiness: { sources: ["header:x-user-id"] },
    variants: [
      { name: "stable", weight: 50, upstream: "api-v1" },
      { name: "canary", weight: 50, upstream: "api-v2", guard },
    ],
  };
}
