// spec.upstreams (issue 9.9): every gateway's name for a neutral upstream, validated with
// the whole policy, with the field path, the rule and the bad value.
import { describe, expect, it } from "vitest";
import { loadCore } from "../support/dist";

const core = loadCore();
const VARIANTS = [{ name: "stable", weight: 90, upstream: "api-v1" }, { name: "canary", weight: 10, upstream: "api-v2" }];
const GOOD = {
  "api-v1": { address: "api-v1:9001", kong: "checkout-v1.shop.80.svc", istio: { subset: "v1", labels: { version: "v1", "app.kubernetes.io/part-of": "shop" } } },
  "api-v2": { kong: "Checkout-V2.shop.80.svc" },
};
function check(upstreams: unknown, extra: Record<string, unknown> = {}): string | null {
  return core.validatePolicy(JSON.stringify({
    apiVersion: "tandem.dev/v1alpha1", kind: "TrafficPolicy", metadata: { name: "checkout" },
    spec: { experiment: { name: "e", variants: VARIANTS }, upstreams, ...extra },
  }));
}

describe("spec.upstreams", () => {
  it("accepts per-gateway names for every upstream the policy routes to", () => {
    expect(check(GOOD)).toBeNull();
    expect(check({ ...GOOD, "api-v3": {} }, { circuitBreaker: {}, fallback: { reroute: { upstream: "api-v3" } } })).toBeNull();
  });

  const bad: Array<[string, unknown, string, Record<string, unknown>?]> = [
    ["not an object", [], "upstreams: must be an object, got an array"],
    ["empty", {}, "upstreams: must not be empty"],
    ["a neutral name that is not a DNS label", { ...GOOD, "API_v3": {} }, `upstreams.API_v3: must be a DNS-1123 label (lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters), got "API_v3"`],
    ["an unknown field", { "api-v1": { envoy: {} }, "api-v2": {} }, "upstreams.api-v1.envoy: unknown field (allowed: address, kong, istio)"],
    ["an address without a port", { "api-v1": { address: "api-v1" }, "api-v2": {} }, `upstreams.api-v1.address: must be host:port (a host name and a port 1-65535), got "api-v1"`],
    ["a port out of range", { "api-v1": { address: "api-v1:70000" }, "api-v2": {} }, `upstreams.api-v1.address: must be host:port (a host name and a port 1-65535), got "api-v1:70000"`],
    ["a Kong name with a space", { "api-v1": { kong: "API v1" }, "api-v2": {} }, `upstreams.api-v1.kong: must be a Kong Upstream name (a host name, e.g. <service>.<namespace>.<port>.svc), got "API v1"`],
    ["a subset that is not a DNS label", { "api-v1": { istio: { subset: "checkout.v1" } }, "api-v2": {} }, `upstreams.api-v1.istio.subset: must be a DNS-1123 label (lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters), got "checkout.v1"`],
    ["two upstreams on one subset", { "api-v1": { istio: { subset: "v1" } }, "api-v2": { istio: { subset: "v1" } } }, `upstreams.api-v2.istio.subset: must be unique, got "v1"`],
    ["a bad label key", { "api-v1": { istio: { labels: { "-version": "v1" } } }, "api-v2": {} }, `upstreams.api-v1.istio.labels.-version: must be a Kubernetes label key ([prefix/]name, name at most 63 of [A-Za-z0-9-_.] starting and ending alphanumeric), got "-version"`],
    ["a bad label value", { "api-v1": { istio: { labels: { version: "v 1" } } }, "api-v2": {} }, `upstreams.api-v1.istio.labels.version: must be a Kubernetes label value (at most 63 of [A-Za-z0-9-_.], starting and ending alphanumeric), got "v 1"`],
    ["no labels", { "api-v1": { istio: { labels: {} } }, "api-v2": {} }, "upstreams.api-v1.istio.labels: must not be empty"],
    ["a variant upstream missing", { "api-v1": {} }, `experiment.variants[1].upstream: must name one of spec.upstreams, got "api-v2"`],
    ["a reroute upstream missing", GOOD, `fallback.reroute.upstream: must name one of spec.upstreams, got "api-v9"`, { fallback: { reroute: { upstream: "api-v9" } } }],
  ];
  for (const [what, ups, message, extra] of bad) {
    it(`refuses ${what}`, () => expect(check(ups, extra)).toBe(message));
  }
});
