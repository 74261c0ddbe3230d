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

// `hasFaults` (wasm/core/metrics/catalog.ts HAS_FAULTS_FIELD): false tells the Envoy
// experiment filter that no fault-injection part shares the policy, so it reads no
// fault mark per stream; absent means true, so an older or hand-written config keeps
// seeing its faults.
describe("the experiment config's hasFaults", () => {
  it("defaults to true, reads false, and is refused with its path when not a boolean", () => {
    expect(core.configureExperiment(JSON.stringify(ex)).hasFaults).toBe(true);
    expect(core.configureExperiment(JSON.stringify({ ...ex, hasFaults: false })).hasFaults).toBe(false);
    expect(core.configureExperiment(JSON.stringify({ ...ex, hasFaults: true })).hasFaults).toBe(true);
    expect(() => core.configureExperiment(JSON.stringify({ ...ex, hasFaults: "no" }))).toThrow('hasFaults: must be a boolean, got "no"');
  });

  it("is not a policy field: spec.experiment.hasFaults is an unknown field", () => {
    const err = core.validatePolicy(JSON.stringify({
      apiVersion: "tandem.dev/v1alpha1", kind: "TrafficPolicy", metadata: { name: "checkout" }, spec: { experiment: { ...ex, hasFaults: false } },
    }));
    expect(err).toMatch(/^experiment\.hasFaults: unknown field/);
  });

  it("is written false by compilePolicy when the policy has no faults, left out (true) when it has", () => {
    const doc = (spec: Record<string, unknown>) => JSON.stringify({ apiVersion: "tandem.dev/v1alpha1", kind: "TrafficPolicy", metadata: { name: "checkout" }, spec });
    const without = core.compilePolicy(doc({ experiment: ex, circuitBreaker: {} }));
    expect(without.parts.map((p) => [p.plugin, p.config.hasFaults, p.kong.hasFaults])).toEqual([
      ["experiment", false, false], ["circuit-breaker", false, false],
    ]);
    const withFaults = core.compilePolicy(doc({ experiment: ex, faults: [{ name: "f", abort: { status: 503, percent: 1 } }] }));
    expect(withFaults.parts.map((p) => [p.plugin, "hasFaults" in p.config, "hasFaults" in p.kong])).toEqual([
      ["experiment", false, false], ["fault-injection", false, false],
    ]);
    // the plan's config is one the core accepts, with the fact it says
    expect(core.configureExperiment(JSON.stringify(without.parts[0].config)).hasFaults).toBe(false);
    expect(core.configureExperiment(JSON.stringify(withFaults.parts[0].config)).hasFaults).toBe(true);
  });

  it("the circuit-breaker config takes it too, checked as the experiment's is", () => {
    expect(core.validateBreaker(JSON.stringify({ hasFaults: false }))).toBeNull();
    expect(core.validateBreaker(JSON.stringify({ hasFaults: true }))).toBeNull();
    expect(core.validateBreaker(JSON.stringify({ hasFaults: "no" }))).toBe('hasFaults: must be a boolean, got "no"');
    const doc = JSON.stringify({ apiVersion: "tandem.dev/v1alpha1", kind: "TrafficPolicy", metadata: { name: "c" }, spec: { circuitBreaker: { hasFaults: false } } });
    expect(core.validatePolicy(doc)).toMatch(/^circuitBreaker\.hasFaults: unknown field/);
  });
});
