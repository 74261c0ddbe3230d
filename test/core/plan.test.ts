// The policy plan (wasm/core/plan.ts through core-js compilePolicy): one call turns a
// TrafficPolicy into what each gateway's plugins are configured with and the policy
// facts adapters read. Its part configs (which `tandem render` writes) equal an
// independent TypeScript account of them (../support/render-parts-oracle.ts), for the
// deploy examples and for seeded generated policies.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CoreError, TandemCore, type PolicyPlan } from "../../core-js/tandem-core";
import { readPolicyText, type PolicyDoc } from "../../cli/policy-file";
import { breakerConfig, experimentConfig, faultConfig, faultPartEnabled, kongBreakerConfig, kongExperimentConfig, kongFaultConfig } from "../support/render-parts-oracle";
import { generatedCases } from "../parity/generated-scenarios";
import { loadCore } from "../support/dist";

const core = loadCore();
const EXAMPLES = join(__dirname, "..", "..", "deploy", "examples");

function renderParts(p: PolicyDoc) {
  const ex = experimentConfig(p);
  const cb = breakerConfig(p);
  const fc = faultConfig(p);
  return [
    ...(ex ? [{ plugin: "experiment", config: ex, kong: kongExperimentConfig(ex), enabled: true }] : []),
    ...(cb ? [{ plugin: "circuit-breaker", config: cb, kong: kongBreakerConfig(p), enabled: true }] : []),
    ...(fc ? [{ plugin: "fault-injection", config: fc, kong: kongFaultConfig(p), enabled: faultPartEnabled(p) }] : []),
  ];
}

function policy(spec: Record<string, unknown>): PolicyDoc {
  return { apiVersion: "tandem.dev/v1alpha1", kind: "TrafficPolicy", metadata: { name: "t" }, spec } as PolicyDoc;
}

const examples = readdirSync(EXAMPLES).filter((f) => f.endsWith(".yaml"))
  .map((f) => [f, readPolicyText(join(EXAMPLES, f)) as PolicyDoc] as const);

describe("policy plan", () => {
  it.each(examples)("%s: parts are what render writes, on both gateways", (_f, doc) => {
    const plan = core.compilePolicy(JSON.stringify(doc));
    expect(plan.name).toBe(doc.metadata.name);
    expect(plan.parts).toEqual(renderParts(doc));
  });

  it("generated policies: parts are what render writes", () => {
    const cases = generatedCases(20260611, 40, 1);
    expect(cases.length).toBe(40);
    for (const c of cases) {
      const doc = c.policy as PolicyDoc;
      expect(core.compilePolicy(JSON.stringify(doc)).parts, `case ${c.index}`).toEqual(renderParts(doc));
    }
  });

  it("names the fallback's respond / reroute item by its field path (render cites it)", () => {
    const single = core.compilePolicy(JSON.stringify(policy({ fallback: { reroute: { upstream: "spare" } } })));
    expect(single.fallback).toMatchObject({ kind: "reroute", upstream: "spare", field: "fallback" });
    const list = core.compilePolicy(JSON.stringify(policy({ fallback: [{ cache: {} }, { respond: { status: 503 } }] })));
    expect(list.fallback).toMatchObject({ kind: "respond", field: "fallback[1]" });
    const cacheOnly = core.compilePolicy(JSON.stringify(policy({ fallback: [{ cache: {} }] })));
    expect(cacheOnly.fallback).toMatchObject({ kind: "none", field: null });
  });

  it("fills render's defaults in the core: upstream names, retries' retryOn, outlier detection, secrets", () => {
    const plan = core.compilePolicy(JSON.stringify(policy({
      experiment: {
        name: "e", override: { header: "x-qa", secret: "0123456789abcdef0123" },
        variants: [{ name: "a", weight: 50, upstream: "api-v1" }, { name: "b", weight: 50, upstream: "api-v2" }],
      },
      fallback: { reroute: { upstream: "spare" } },
      upstreams: { "api-v1": {}, spare: {}, "api-v2": { address: "checkout-v2:8080", kong: "checkout-v2.shop.80.svc", istio: { subset: "v2", labels: { version: "two" } } } },
      retries: { attempts: 2 }, outlierDetection: { intervalMs: 5000 }, timeoutMs: 1500,
    })));
    expect(plan.upstreams).toEqual([
      { name: "api-v1", kong: "api-v1", subset: "api-v1", labels: null, host: "api-v1", port: 80 },
      { name: "api-v2", kong: "checkout-v2.shop.80.svc", subset: "v2", labels: { version: "two" }, host: "checkout-v2", port: 8080 },
      { name: "spare", kong: "spare", subset: "spare", labels: null, host: "spare", port: 80 },
    ]);
    expect(plan.resilience).toEqual({
      retries: { attempts: 2, retryOn: ["connect-failure", "refused-stream"] }, timeoutMs: 1500,
      outlier: { consecutiveErrors: 5, intervalMs: 5000, baseEjectionTimeMs: 30000, maxEjectionPercent: 10 },
    });
    expect(plan.secrets).toEqual([{ field: "experiment.override.secret", name: "override-secret", value: "0123456789abcdef0123" }]);
  });

  it("carries header names, the variant -> upstream table, the breaker key and replies", () => {
    const plan: PolicyPlan = core.compilePolicy(JSON.stringify(policy({
      experiment: {
        name: "pricing", variantHeader: "X-Pricing-Variant", override: { header: "X-QA", secret: "0123456789abcdef0123" }, exposeHeader: true,
        variants: [{ name: "a", weight: 50, upstream: "api-v1" }, { name: "b", weight: 50 }],
      },
      circuitBreaker: { key: "header:X-Tenant", failure: { statuses: [500, 503] } },
      fallback: { reroute: { variant: "a" }, on: ["open", "upstreamFailure"] },
    })));
    expect(plan.variantHeader).toBe("x-pricing-variant");
    expect(plan.overrideHeader).toBe("x-qa");
    expect(plan.expose).toBe(true);
    expect(plan.variants).toEqual([{ name: "a", upstream: "api-v1", weight: 50, guarded: false }, { name: "b", upstream: null, weight: 50, guarded: false }]);
    expect(plan.breakerKey).toBe("header:x-tenant");
    expect(plan.fallback).toMatchObject({ kind: "reroute", variant: "a", upstream: null, onOpen: true, onUpstreamFailure: true });
    expect(plan.reject).toEqual({ status: 503, headers: {}, body: "circuit breaker open", contentType: "text/plain; charset=utf-8", retryAfter: true, grpcStatus: 14, grpcMessage: "circuit breaker open" });
    const kong = TandemCore.part(plan, "circuit-breaker")!.kong;
    expect(kong.failure).toEqual({ statuses: ["500", "503"] });
    expect(kong.variantUpstreams).toEqual({ a: "api-v1" });
  });

  it("a policy without a breaker has no breaker part, key or fallback", () => {
    const plan = core.compilePolicy(JSON.stringify(policy({ experiment: { name: "e", variants: [{ name: "a", weight: 100 }] } })));
    expect(plan.parts.map((p) => p.plugin)).toEqual(["experiment"]);
    expect(plan.variantHeader).toBe("x-tandem-variant");
    expect([plan.breakerKey, plan.fallback, plan.overrideHeader]).toEqual([null, null, null]);
  });

  it("refuses an invalid policy with validatePolicy's text", () => {
    const bad = JSON.stringify(policy({ experiment: { variants: [{ name: "a", weight: 120 }] } }));
    expect(() => core.compilePolicy(bad)).toThrow(CoreError);
    expect(() => core.compilePolicy(bad)).toThrow(core.validatePolicy(bad)!);
  });

  it("carries what the playground shows and builds a user's request from: weights, guards, faults, key sources, scope", () => {
    const plan = core.compilePolicy(JSON.stringify(policy({
      experiment: {
        name: "e", stickiness: { sources: ["header:x-user", "ip", "query:uid"] },
        scope: { hosts: ["*.Beta.example.com"], pathPrefixes: ["/api", "/v2"] },
        variants: [{ name: "stable", weight: 87.5 }, { name: "canary", weight: 12.45, guard: { failureRateThreshold: 50 } }, { name: "off", weight: 0.05 }],
      },
      experiments: [{ name: "t", variants: [{ name: "x", weight: 100 }] }],
      faults: [{ name: "f1", abort: { status: 503, percent: 1 } }, { name: "f2", enabled: false, delay: { fixedMs: 10, percent: 1 } }],
    })));
    expect(plan.variants).toEqual([
      { name: "stable", upstream: null, weight: 87.5, guarded: false },
      { name: "canary", upstream: null, weight: 12.45, guarded: true },
      { name: "off", upstream: null, weight: 0.05, guarded: false },
    ]);
    expect(plan.faults).toEqual({ count: 2, enabled: false });
    expect(plan.sources).toEqual([{ kind: "header", name: "x-user" }, { kind: "ip", name: "" }, { kind: "query", name: "uid" }]);
    expect(plan.scope).toEqual({ hosts: ["*.beta.example.com"], pathPrefixes: ["/api", "/v2"] });
    expect(plan.taggingExperiments).toBe(1);
  });

  it("marks the fault-injection part enabled only while a fault is on or one has a control header to strip", () => {
    const part = (faults: unknown[]) => core.compilePolicy(JSON.stringify(policy({ faults }))).parts.find((p) => p.plugin === "fault-injection")!.enabled;
    const abort = { status: 503, percent: 1 };
    expect(part([{ name: "a", abort }])).toBe(true);
    expect(part([{ name: "a", abort, enabled: true }])).toBe(true);
    expect(part([{ name: "a", abort, enabled: false }, { name: "b", abort }])).toBe(true);
    expect(part([{ name: "a", abort, enabled: false }, { name: "b", abort, enabled: false }])).toBe(false);
    expect(part([{ name: "a", abort, enabled: false }, { name: "q", enabled: false, control: { secret: "fault-control-secret-0123" } }])).toBe(true);
  });

  it("fills the key source's default and leaves scope, faults and tags empty when the policy has none", () => {
    const plan = core.compilePolicy(JSON.stringify(policy({ experiment: { name: "e", variants: [{ name: "a", weight: 100 }] } })));
    expect(plan.sources).toEqual([{ kind: "cookie", name: "tandem-uid" }]);
    expect(plan.scope).toEqual({ hosts: [], pathPrefixes: [] });
    expect([plan.faults, plan.taggingExperiments]).toEqual([null, 0]);
    expect(plan.variants).toEqual([{ name: "a", upstream: null, weight: 100, guarded: false }]);
  });
});
