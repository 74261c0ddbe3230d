// The `policy` field every plugin config may carry (wasm/core/metrics/policy-name.ts):
// the metrics' policy label, checked by the core like metadata.name, written by
// compilePolicy into each part.
import { describe, expect, it } from "vitest";
import { loadCore } from "../support/dist";
import { NO_POLICY } from "../../wasm/core/metrics/catalog";

const core = loadCore();
const ex = { name: "e", variants: [{ name: "a", weight: 50 }, { name: "b", weight: 50 }] };

describe("plugin configs' policy name", () => {
  it("is read by every part, and defaults to the catalog's NO_POLICY", () => {
    expect(core.configureExperiment(JSON.stringify({ ...ex, policy: "checkout" })).policy).toBe("checkout");
    expect(core.configureExperiment(JSON.stringify(ex)).policy).toBe(NO_POLICY);
    expect(core.configureBreaker(JSON.stringify({ policy: "shop.v2" }), 1).policy).toBe("shop.v2");
    expect(core.configureBreaker(JSON.stringify({}), 1).policy).toBe(NO_POLICY);
    expect(core.configureFaults(JSON.stringify({ policy: "gd", faults: [{ name: "f", abort: { status: 503, percent: 100 } }] })).policy).toBe("gd");
  });

  it("is refused with its path, the rule and the value when it is not a name", () => {
    expect(() => core.configureExperiment(JSON.stringify({ ...ex, policy: "a b" }))).toThrow('policy: must match [A-Za-z0-9._-]{1,64}, got "a b"');
    expect(() => core.configureBreaker(JSON.stringify({ policy: 7 }), 1)).toThrow("policy: must be a string, got 7");
    expect(() => core.configureFaults(JSON.stringify({ policy: "", faults: [{ name: "f", abort: { status: 503, percent: 100 } }] }))).toThrow("policy: must match");
  });

  it("is written into every part by compilePolicy (metadata.name)", () => {
    const plan = core.compilePolicy(JSON.stringify({
      apiVersion: "tandem.dev/v1alpha1", kind: "TrafficPolicy", metadata: { name: "checkout" },
      spec: { experiment: ex, circuitBreaker: {}, faults: [{ name: "f", abort: { status: 503, percent: 1 } }] },
    }));
    expect(plan.parts.map((p) => [p.plugin, p.config.policy, p.kong.policy])).toEqual([
      ["experiment", "checkout", "checkout"], ["circuit-breaker", "checkout", "checkout"], ["fault-injection", "checkout", "checkout"],
    ]);
  });
});
