// Validation of spec.experiment in the core: field path, rule and bad value.
import { describe, expect, it } from "vitest";
import { loadCore } from "../support/dist";
import { CoreError } from "../../core-js/tandem-core";

const core = loadCore();
const base = {
  name: "checkout-v2",
  variants: [{ name: "stable", weight: 90, upstream: "api-v1" }, { name: "canary", weight: 10, upstream: "api-v2" }],
};

function reject(cfg: unknown): string {
  try {
    core.configureExperiment(typeof cfg === "string" ? cfg : JSON.stringify(cfg));
  } catch (e) {
    expect(e).toBeInstanceOf(CoreError);
    return (e as Error).message;
  }
  throw new Error("accepted: " + JSON.stringify(cfg));
}

describe("experiment config", () => {
  it("accepts the minimal config and fills defaults", () => {
    const p = core.configureExperiment(JSON.stringify(base));
    expect(p.variantHeader).toBe("x-tandem-variant");
    expect(p.variants).toEqual([{ name: "stable", upstream: "api-v1" }, { name: "canary", upstream: "api-v2" }]);
    // default stickiness: the tandem-uid cookie; entropy for new ids
    expect(p.needs).toEqual([
      { kind: 0, name: "cookie" }, { kind: 5, name: "" },
      // every experiment: a CORS preflight's header and its method on demand; with a cookie, the content-type (gRPC)
      { kind: 0, name: "access-control-request-method" }, { kind: 3, name: "on-demand" }, { kind: 0, name: "content-type" },
    ]);
  });

  it("treats null fields and all-null records as absent (Kong's stored shape)", () => {
    const p = core.configureExperiment(JSON.stringify({
      ...base, seed: null, variantHeader: null, scope: { hosts: null, pathPrefixes: null },
      stickiness: { sources: null, cookie: { name: null, maxAgeSeconds: null, path: null, domain: null, secure: null, httpOnly: null, sameSite: null } },
      variants: base.variants.map((v) => ({ ...v })).concat([]),
    }));
    expect(p.needs).toEqual([
      { kind: 0, name: "cookie" }, { kind: 5, name: "" },
      // every experiment: a CORS preflight's header and its method on demand; with a cookie, the content-type (gRPC)
      { kind: 0, name: "access-control-request-method" }, { kind: 3, name: "on-demand" }, { kind: 0, name: "content-type" },
    ]);
  });

  const cases: Array<[string, unknown, string]> = [
    ["weight above 100", { ...base, variants: [{ name: "a", weight: 120 }, { name: "b", weight: 0 }] }, "experiment.variants[0].weight: must be between 0 and 100, got 120"],
    ["the issue's example", { ...base, variants: [{ name: "a", weight: 0 }, { name: "b", weight: 120 }] }, "experiment.variants[1].weight: must be between 0 and 100, got 120"],
    ["negative weight", { ...base, variants: [{ name: "a", weight: -1 }, { name: "b", weight: 101 }] }, "experiment.variants[0].weight: must be between 0 and 100, got -1"],
    ["three decimals", { ...base, variants: [{ name: "a", weight: 33.333 }, { name: "b", weight: 66.667 }] }, "experiment.variants[0].weight: must have at most 2 decimals, got 33.333"],
    ["sum not 100", { ...base, variants: [{ name: "a", weight: 50.5 }, { name: "b", weight: 40 }] }, "experiment.variants: weights must sum to 100, got 90.5"],
    ["empty variants", { ...base, variants: [] }, "experiment.variants: must not be empty"],
    ["missing variants", { name: "x" }, "experiment.variants: is required"],
    ["missing name", { variants: base.variants }, "experiment.name: is required"],
    ["bad name", { ...base, name: "no spaces" }, "experiment.name: must match [A-Za-z0-9._-]{1,64}, got \"no spaces\""],
    ["duplicate variant", { ...base, variants: [{ name: "a", weight: 50 }, { name: "a", weight: 50 }] }, "experiment.variants[1].name: must be unique, got \"a\""],
    ["weight as string", { ...base, variants: [{ name: "a", weight: "50" }, { name: "b", weight: 50 }] }, "experiment.variants[0].weight: must be a number, got \"50\""],
    ["unknown field", { ...base, colour: "red" }, "experiment.colour: unknown field (allowed: name, seed, stickiness, variantHeader, variants, scope, rules, hash, override, rollout, exposeHeader, decisionLog)"],
    ["unknown variant field", { ...base, variants: [{ name: "a", weight: 100, extra: 1 }] }, "experiment.variants[0].extra: unknown field (allowed: name, weight, upstream, guard)"],
    ["bad source", { ...base, stickiness: { sources: ["session"] } }, "experiment.stickiness.sources[0]: must be one of cookie:<name>, header:<name>, query:<name>, ip, got \"session\""],
    ["duplicate source", { ...base, stickiness: { sources: ["ip", "ip"] } }, "experiment.stickiness.sources[1]: must be unique, got \"ip\""],
    ["cookie not a source", { ...base, stickiness: { sources: ["header:x-user-id"], cookie: { name: "uid" } } }, "experiment.stickiness.cookie.name: must also be listed in stickiness.sources as cookie:<name>, got \"uid\""],
    ["bad sameSite", { ...base, stickiness: { sources: ["cookie:u"], cookie: { name: "u", sameSite: "lax" } } }, "experiment.stickiness.cookie.sameSite: must be one of Lax, Strict, None, got \"lax\""],
    ["SameSite=None without Secure", { ...base, stickiness: { sources: ["cookie:u"], cookie: { name: "u", sameSite: "None" } } }, "experiment.stickiness.cookie.sameSite: None requires secure: true (browsers drop the cookie otherwise), got \"None\""],
    ["maxAge too big", { ...base, stickiness: { sources: ["cookie:u"], cookie: { name: "u", maxAgeSeconds: 1e9 } } }, "experiment.stickiness.cookie.maxAgeSeconds: must be between 0 and 34560000, got 1000000000"],
    ["bad variant header", { ...base, variantHeader: "x variant" }, "experiment.variantHeader: must be an HTTP header name (token characters, at most 128), got \"x variant\""],
    ["variant header the gateways own", { ...base, variantHeader: "Host" }, "experiment.variantHeader: must not be a header the gateways own (host, content-length, connection, keep-alive, proxy-connection, te, transfer-encoding, upgrade), got \"host\""],
    ["hop-by-hop variant header", { ...base, variantHeader: "connection" }, "experiment.variantHeader: must not be a header the gateways own (host, content-length, connection, keep-alive, proxy-connection, te, transfer-encoding, upgrade), got \"connection\""],
    ["the tags header as variant header, without tagging experiments", { ...base, variantHeader: "x-tandem-experiments" }, "experiment.variantHeader: must not be x-tandem-experiments (the tagging experiments' header), got \"x-tandem-experiments\""],
    ["override header = variant header", { ...base, override: { header: "X-Tandem-Variant", secret: "0123456789abcdef" } }, "experiment.override.header: must differ from variantHeader, got \"x-tandem-variant\""],
    ["override header the gateways own", { ...base, override: { header: "TE", secret: "0123456789abcdef" } }, "experiment.override.header: must not be a header the gateways own (host, content-length, connection, keep-alive, proxy-connection, te, transfer-encoding, upgrade), got \"te\""],
    ["the tags header as override header", { ...base, override: { header: "x-tandem-experiments", secret: "0123456789abcdef" } }, "experiment.override.header: must not be x-tandem-experiments (the tagging experiments' header), got \"x-tandem-experiments\""],
    ["scope path", { ...base, scope: { pathPrefixes: ["api"] } }, "experiment.scope.pathPrefixes[0]: must start with /, got \"api\""],
    ["scope host with scheme", { ...base, scope: { hosts: ["https://x"] } }, "experiment.scope.hosts[0]: must be a host name (no scheme, no path), got \"https://x\""],
    ["not an object", [1, 2], "experiment: must be an object, got an array"],
    ["broken JSON", "{\"name\": ", "configuration is not valid JSON: invalid JSON at offset 9: unexpected end of input"],
    ["trailing garbage", "{} x", "configuration is not valid JSON: invalid JSON at offset 3: unexpected data after the document"],
    ["duplicate key", "{\"name\":\"a\",\"name\":\"b\"}", "configuration is not valid JSON: invalid JSON at offset 18: duplicate key \"name\""],
    ["deep nesting", "[".repeat(100000), `experiment${"[0]".repeat(33)}: must not nest deeper than 32 levels`],
    ["a rule nested too deep", { ...base, rules: [{ match: { header: { a: JSON.parse("[".repeat(40) + "]".repeat(40)) } }, variant: "a" }] }, `experiment.rules[0].match.header.a${"[0]".repeat(28)}: must not nest deeper than 32 levels`],
    ["a weight of 1e400", `{"name":"e","variants":[{"name":"a","weight":1e400},{"name":"b","weight":0}]}`, "experiment.variants[0].weight: must be a finite number, got 1e400"],
    ["cookie domain \".\"", { ...base, stickiness: { sources: ["cookie:u"], cookie: { name: "u", domain: "." } } }, "experiment.stickiness.cookie.domain: must be a domain name (labels of letters, digits and -, joined by single dots; one leading dot allowed), got \".\""],
    ["cookie domain \"a..b\"", { ...base, stickiness: { sources: ["cookie:u"], cookie: { name: "u", domain: "a..b" } } }, "experiment.stickiness.cookie.domain: must be a domain name (labels of letters, digits and -, joined by single dots; one leading dot allowed), got \"a..b\""],
    ["cookie domain label over 63", { ...base, stickiness: { sources: ["cookie:u"], cookie: { name: "u", domain: "a".repeat(64) + ".com" } } }, `experiment.stickiness.cookie.domain: must be a domain name (labels of letters, digits and -, joined by single dots; one leading dot allowed), got "${"a".repeat(64)}..."`],
  ];
  for (const [what, cfg, msg] of cases) {
    it(`rejects ${what}`, () => expect(reject(cfg)).toBe(msg));
  }

  it("renders long bad values shortened", () => {
    const msg = reject({ ...base, name: "x".repeat(500) });
    expect(msg).toBe(`experiment.name: must match [A-Za-z0-9._-]{1,64}, got "${"x".repeat(64)}..."`);
  });

  it("accepts 2-decimal weights that sum to 100 in floating point", () => {
    const p = core.configureExperiment(JSON.stringify({ ...base, variants: [
      { name: "a", weight: 33.33 }, { name: "b", weight: 33.33 }, { name: "c", weight: 33.34 }] }));
    expect(p.variants.map((v) => v.name)).toEqual(["a", "b", "c"]);
  });

  it("survives hostile configs without trapping", () => {
    for (const text of ["", "nul", "\"\\u12\"", "{\"a\":\u0001}", "[1,]", "{\"name\":\"\\ud800\"}", "1e999999", "-", "{\"variants\":[{}]}"]) {
      expect(() => core.configureExperiment(text)).toThrow(CoreError);
    }
    // the core is still usable afterwards
    expect(core.configureExperiment(JSON.stringify(base)).variants).toHaveLength(2);
  });
});

describe("TrafficPolicy documents", () => {
  const doc = { apiVersion: "tandem.dev/v1alpha1", kind: "TrafficPolicy", metadata: { name: "checkout" }, spec: { experiment: base } };
  it("accepts a valid policy", () => expect(core.validatePolicy(JSON.stringify(doc))).toBeNull());
  it("names spec sections exactly as the gateways do", () => {
    const bad = { ...doc, spec: { experiment: { ...base, variants: [{ name: "a", weight: 0 }, { name: "b", weight: 120 }] } } };
    expect(core.validatePolicy(JSON.stringify(bad))).toBe("experiment.variants[1].weight: must be between 0 and 100, got 120");
  });
  it("checks the envelope", () => {
    expect(core.validatePolicy(JSON.stringify({ ...doc, kind: "Policy" }))).toBe("kind: must be TrafficPolicy, got \"Policy\"");
    expect(core.validatePolicy(JSON.stringify({ ...doc, apiVersion: "v1" }))).toBe("apiVersion: must be tandem.dev/v1alpha1, got \"v1\"");
    expect(core.validatePolicy(JSON.stringify({ ...doc, spec: { canary: {} } }))).toBe("spec.canary: unknown field (allowed: experiment, experiments, circuitBreaker, fallback, upstreams, retries, timeoutMs, connectionPool, outlierDetection, faults)");
    expect(core.validatePolicy(JSON.stringify({ ...doc, metadata: {} }))).toBe("metadata.name: is required");
  });
});
