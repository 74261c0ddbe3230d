// The product's promise: the same request gets the same decision from the core alone,
// from Kong (real kong-js-pluginserver behind the Kong harness) and from Envoy
// (tandem.wasm in the Envoy harness). Request by request, field by field.
import { describe, expect, it } from "vitest";
import { simulate } from "../../cli/simulate/run";
import { ENVOY_PROFILE, type SimResult } from "../../cli/simulate/result";
import { scenarios } from "./scenarios";
import { expectSameExceptNewIds, newUserLines } from "./edge-id";

const USERS = Number(process.env.TANDEM_PARITY_USERS ?? 1000);

describe.each(scenarios(USERS))("parity: $name", ({ name, policy, trace }) => {
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
    // The edge scenarios really reach each gateway's refusals (cli/simulate/edge.ts) and,
    // for paths, the rule through every spelling of /admin/x.
    const refusals = new Set(core.map((r) => JSON.stringify(r.refused ?? null)));
    if (name === "large-heads") expect(refusals).toEqual(new Set(["null", '{"kong":400}', '{"kong":400,"envoy":431}', '{"envoy":431}', '{"kong":414}']));
    if (name === "odd-paths") {
      expect(refusals).toEqual(new Set(["null", '{"kong":400}', '{"kong":400,"envoy":400}']));
      // every spelling of /admin/x takes rule 0, of /admin%2F.. rule 1, on every path
      const rule0 = ["/admin/x", "/a/../admin/x", "//admin/x", "/%61dmin/x", "/admin/x?next=/../../y"];
      const rule1 = ["/admin%2f.."];
      let seen0 = 0;
      for (let i = 0; i < trace.length; i++) {
        const want = rule0.includes(trace[i].path) ? "canary" : rule1.includes(trace[i].path) ? "beta" : null;
        if (want === null) continue;
        seen0++;
        for (const r of [core[i], kong[i], envoy[i]]) expect(r.variant, trace[i].path).toBe(want);
      }
      expect(seen0).toBeGreaterThan(trace.length / 4);
    }
    const cookies = core.filter((r: SimResult) => r.setCookie !== null).length;
    expect(cookies).toBe(kong.filter((r) => r.setCookie !== null).length);
    const fresh = newUserLines(policy, trace);
    expect(fresh.filter(Boolean).length).toBeGreaterThanOrEqual(cookies);
    expect(expectSameExceptNewIds(core, coreEnvoy, fresh, (i) => `line ${i + 1}`)).toBeGreaterThan(trace.length / 4);
  }, 600_000);
});
