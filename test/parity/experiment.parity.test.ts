// The product's promise: the same request gets the same decision from the core alone,
// from Kong (real kong-js-pluginserver behind the Kong harness) and from Envoy
// (tandem.wasm in the Envoy harness). Request by request, field by field.
import { describe, expect, it } from "vitest";
import { simulate } from "../../cli/simulate/run";
import { ENVOY_PROFILE, type SimResult } from "../../cli/simulate/result";
import { scenarios } from "./scenarios";
import { expectSameExceptNewIds } from "./edge-id";

const USERS = Number(process.env.TANDEM_PARITY_USERS ?? 1000);

describe.each(scenarios(USERS))("parity: $name", ({ policy, trace }) => {
  it(`${USERS} requests decide identically through core, Kong and Envoy`, async () => {
    const core = await simulate("core", policy, trace, () => {});
    // Envoy runs as an Istio ingress gateway: its own x-request-id (see ./edge-id.ts).
    const coreEnvoy = await simulate("core", policy, trace, () => {}, { profile: ENVOY_PROFILE });
    const [kong, envoy] = await Promise.all([
      simulate("kong", policy, trace, () => {}),
      simulate("envoy", policy, trace, () => {}),
    ]);
    const variants = new Set<string | null>();
    for (let i = 0; i < trace.length; i++) {
      const where = `line ${i + 1} ${JSON.stringify(trace[i].headers).slice(0, 200)} ${trace[i].path}`;
      expect(kong[i], `kong, ${where}`).toEqual(core[i]);
      expect(envoy[i], `envoy, ${where}`).toEqual(coreEnvoy[i]);
      variants.add(core[i].variant);
    }
    // The scenario really exercises the split: every path saw more than one outcome.
    expect(variants.size).toBeGreaterThan(1);
    // Tagging experiments: the x-tandem-experiments header each path sent upstream is
    // a compared field (SimResult.tags); it really varies, and is absent out of scope.
    if (policy.spec.experiments) {
      const tags = new Set(core.map((r) => r.tags));
      expect(core.every((r) => r.tags !== undefined)).toBe(true);
      expect(tags.has(null)).toBe(true);
      expect(tags.size).toBeGreaterThan(10);
    }
    const cookies = core.filter((r: SimResult) => r.setCookie !== null).length;
    expect(cookies).toBe(kong.filter((r) => r.setCookie !== null).length);
    expect(expectSameExceptNewIds(core, coreEnvoy, (i) => `line ${i + 1}`)).toBe(cookies);
  }, 600_000);
});
