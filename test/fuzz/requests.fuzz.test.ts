// Fuzzed requests through tandem.wasm (Envoy simulator, filter called directly as
// Envoy's filter chain would) and the Node core the Kong plugins load: odd header sets
// (non-ASCII values, huge cookies, hundreds of headers, empty values, long paths)
// never trap the VM, every decision names a configured variant, and the filter decides
// exactly as the core does on the same facts. Ill-formed UTF-8 (which Kong's msgpack
// layer rewrites before a plugin sees it) is checked on the filter alone: no trap, a
// configured variant.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { WasmHost } from "../../sim/envoy";
import { answerNeeds } from "../../core-js/answer-needs";
import { reasonName } from "../../core-js/tandem-core";
import { FILTER_WASM, loadCore } from "../support/dist";
import { ran, requestArb, runs, SEED, type FuzzRequest } from "./arbitraries";

// Every fact kind and match kind the rules language has, several stickiness sources,
// an override header, tagging experiments: the widest surface a request can reach.
const POLICY = {
  name: "fuzz",
  stickiness: { sources: ["cookie:tandem-uid", "header:x-user-id", "query:uid", "ip"], cookie: { name: "tandem-uid" } },
  variants: [{ name: "stable", weight: 70 }, { name: "canary", weight: 20 }, { name: "beta", weight: 10 }],
  exposeHeader: true,
  rules: [
    { match: { header: { "x-tier": { exact: "gold" } } }, variant: "beta" },
    { match: { header: { "user-agent": { regex: "bot|crawl(er)?", ignoreCase: true } } }, variant: "stable" },
    { match: { cookie: { beta: { present: true } } }, variant: "beta" },
    { match: { query: { tandem: { exact: "canary" } } }, variant: "canary" },
    { match: { path: { prefix: "/admin" }, method: { exact: "POST" } }, variant: "stable" },
    { match: { host: { suffix: ".internal" } }, variant: "stable" },
    { match: { header: { "accept-language": { contains: "fr" } } }, split: [{ variant: "canary", weight: 50 }, { variant: "beta", weight: 50 }] },
  ],
  override: { header: "x-tandem-override", secret: "s3cret-s3cret-s3cret" },
  experiments: [
    { name: "recs", variants: [{ name: "A", weight: 50 }, { name: "B", weight: 50 }],
      rules: [{ match: { header: { "x-plan": { exact: "pro" } } }, variant: "B" }] },
    { name: "pricing", hash: "growthbook-v2", variants: [{ name: "low", weight: 50 }, { name: "high", weight: 50 }] },
  ],
};
const VARIANTS = POLICY.variants.map((v) => v.name);
const latin1 = (s: string) => Buffer.from(s, "utf8").toString("latin1");

describe("fuzzed requests", async () => {
  const core = loadCore();
  const plan = core.configureExperiment(JSON.stringify(POLICY));
  const host = await WasmHost.load({ wasm: FILTER_WASM, rootId: "experiment", configuration: JSON.stringify(POLICY) });

  // The request as Envoy's codec hands it to the filters (UTF-8 bytes), with an
  // x-request-id (Envoy sets one on every request unless configured not to), and the
  // filter's x-tandem-decision header for it.
  function throughFilter(req: FuzzRequest, rid: string, raw = false): string | undefined {
    const enc = raw ? (s: string) => s : latin1;
    const pairs: Array<[string, string]> = [[":method", req.method], [":path", enc(req.path)], [":authority", "shop.example.com"], ["x-request-id", rid],
      ...req.headers.filter(([k]) => k !== "x-request-id").map(([k, v]) => [k, enc(v)] as [string, string])];
    const s = host.newStream({ "source.address": `${req.ip}:5000` });
    s.requestHeaders(pairs, true);
    const d = s.responseHeaders([[":status", "200"]], false).headers.find(([k]) => k === "x-tandem-decision")?.[1];
    s.done();
    expect(host.failed).toBe(false);
    return d;
  }

  function throughCore(req: FuzzRequest, rid: string): string {
    // As Kong's get_headers hands them over: a repeated header as an array of its copies.
    const headers: Record<string, string | string[]> = { "x-request-id": rid };
    for (const [k, v] of req.headers) {
      if (k === "x-request-id") continue;
      const had = headers[k];
      headers[k] = had === undefined ? v : Array.isArray(had) ? [...had, v] : [had, v];
    }
    headers.host = "shop.example.com";
    const d = core.decideExperiment(plan, answerNeeds(plan.needs, { headers, path: req.path, method: req.method, ip: req.ip }), 0);
    return `${plan.variants[d.variant].name}; reason=${reasonName(d.reason)}`;
  }

  it("the filter decides as the core on every request, and never traps", () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(requestArb, fc.string({ unit: fc.constantFrom(..."0123456789abcdef".split("")), minLength: 8, maxLength: 32 }), (req, rid) => {
        const envoy = throughFilter(req, rid);
        expect(envoy).toBeDefined();
        expect(VARIANTS).toContain(envoy!.split(";")[0]);
        expect(envoy).toBe(throughCore(req, rid));
        seen.add(envoy!.split("; reason=")[1].replace(/:\d+$/, ""));
      }),
      { numRuns: runs(400), seed: SEED },
    );
    // The generator reaches rules, the split and the override path, not just one reason.
    expect(seen.has("split")).toBe(true);
    ran("requests, filter = core", runs(400));
    expect([...seen].some((r) => r.startsWith("rule"))).toBe(true);
  });

  it("ill-formed UTF-8 in header values and paths: no trap, a configured variant", () => {
    const bytes = fc.uint8Array({ minLength: 0, maxLength: 300 }).map((b) => Buffer.from(b).toString("latin1").replace(/[\r\n\0]/g, " "));
    fc.assert(
      fc.property(requestArb, fc.array(fc.tuple(fc.constantFrom("x-user-id", "cookie", "x-tier", "user-agent", "x-tandem-override", "accept-language"), bytes), { maxLength: 6 }), bytes,
        (req, raw, rawPath) => {
          const d = throughFilter({ ...req, headers: raw, path: "/" + rawPath }, "r-1", true);
          expect(d).toBeDefined();
          expect(VARIANTS).toContain(d!.split(";")[0]);
        }),
      { numRuns: runs(300), seed: SEED },
    );
    ran("requests with ill-formed UTF-8, filter alone", runs(300));
  });
});
