// tandem.wasm's `experiment` root id in the Envoy harness: loading under Envoy's
// import rules, configuration rejection, header effects, routing, Set-Cookie.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { WasmHost, startEnvoy, type EnvoyGateway } from "../../sim/envoy";
import { FILTER_WASM, loadCore, requireBuilt } from "../support/dist";
import { answerNeeds } from "../../core-js/answer-needs";
import { startBackends, get, type Backends } from "../support/backends";
import { ALL_CANARY, BAD_WEIGHT, BAD_WEIGHT_MESSAGE, CHECKOUT, TAGGED } from "../support/policies";

const REQ: [string, string][] = [[":method", "GET"], [":path", "/cart"], [":authority", "shop"], ["x-request-id", "r-1"]];

describe("tandem.wasm module", () => {
  it("imports only host functions Envoy provides for ABI 0.2.x (no proxy_clear_route_cache)", () => {
    const mod = new WebAssembly.Module(readFileSync(requireBuilt(FILTER_WASM)));
    const imports = WebAssembly.Module.imports(mod).map((i) => `${i.module}.${i.name}`);
    expect(imports).not.toContain("env.proxy_clear_route_cache");
    for (const i of imports) expect(i).toMatch(/^(env\.proxy_|wasi_snapshot_preview1\.)/);
    expect(WebAssembly.Module.exports(mod).map((e) => e.name)).toContain("proxy_abi_version_0_2_0");
  });

  it("loads both root ids in the strict host", async () => {
    const ex = await WasmHost.load({ wasm: FILTER_WASM, rootId: "experiment", configuration: JSON.stringify(CHECKOUT) });
    const cb = await WasmHost.load({ wasm: FILTER_WASM, rootId: "circuit-breaker", configuration: "{}" });
    expect(ex.failed).toBeFalsy();
    expect(cb.failed).toBeFalsy();
  });

  it("rejects a bad configuration with the core's message and keeps the previous one", async () => {
    const host = await WasmHost.load({ wasm: FILTER_WASM, rootId: "experiment", configuration: JSON.stringify(ALL_CANARY) });
    expect(host.configure(JSON.stringify(BAD_WEIGHT))).toBe(false);
    expect(host.configure("{not json")).toBe(false);
    expect(host.logs.map((l: { message: string }) => l.message)).toContain(`tandem: experiment configuration rejected: ${BAD_WEIGHT_MESSAGE}`);
    const s = host.newStream();
    const r = s.requestHeaders([...REQ, ["x-user-id", "u1"]], true);
    expect(r.action).toBe("continue");
    expect(r.headers).toContainEqual(["x-tandem-variant", "canary"]); // ALL_CANARY still in force
    s.done();
  });

  it("replaces a client-sent variant header, also out of scope", async () => {
    const scoped = { ...CHECKOUT, scope: { pathPrefixes: ["/api"] } };
    const host = await WasmHost.load({ wasm: FILTER_WASM, rootId: "experiment", configuration: JSON.stringify(scoped) });
    const forged: [string, string][] = [["x-tandem-variant", "canary"], ["x-tandem-variant", "canary"], ["x-user-id", "u1"]];
    const inScope = host.newStream().requestHeaders([[":method", "GET"], [":path", "/api/x"], [":authority", "a"], ...forged], true);
    expect(inScope.headers.filter(([k]) => k === "x-tandem-variant")).toEqual([["x-tandem-variant", "stable"]]);
    const out = host.newStream().requestHeaders([[":method", "GET"], [":path", "/static"], [":authority", "a"], ...forged], true);
    expect(out.headers.filter(([k]) => k === "x-tandem-variant")).toEqual([]);
  });

  it("adds the sticky Set-Cookie to the response for a new user, keeping the upstream's cookies", async () => {
    const host = await WasmHost.load({ wasm: FILTER_WASM, rootId: "experiment", configuration: JSON.stringify(CHECKOUT) });
    const s = host.newStream();
    s.requestHeaders(REQ, true);
    const resp = s.responseHeaders([[":status", "200"], ["set-cookie", "app=1"]], false);
    const cookies = resp.headers.filter(([k]) => k === "set-cookie").map(([, v]) => v);
    expect(cookies[0]).toBe("app=1");
    expect(cookies[1]).toMatch(/^tandem-uid=[0-9a-f]{32}; Path=\/; Max-Age=2592000; HttpOnly; SameSite=Lax$/);
    s.done();
    const back = host.newStream();
    back.requestHeaders([...REQ, ["cookie", cookies[1].split(";")[0]]], true);
    expect(back.responseHeaders([[":status", "200"]], false).headers.filter(([k]) => k === "set-cookie")).toEqual([]);
  });

  it("survives hostile headers without trapping", async () => {
    const host = await WasmHost.load({ wasm: FILTER_WASM, rootId: "experiment", configuration: JSON.stringify(CHECKOUT) });
    const huge = "k=v; ".repeat(20000);
    for (const h of [[["cookie", huge]], [["cookie", ";;;==;"]], [["x-user-id", "\u00ff\u00fe"]], [["x-user-id", "x".repeat(200000)]]] as [string, string][][]) {
      const s = host.newStream();
      const r = s.requestHeaders([...REQ, ...h], true);
      expect(r.action).toBe("continue");
      s.done();
    }
    expect(host.failed).toBeFalsy();
  });
});

describe("tandem.wasm behind the Envoy harness proxy", () => {
  let be: Backends;
  let gw: EnvoyGateway;
  beforeAll(async () => {
    be = await startBackends(["api-v1", "api-v2"]);
    gw = await startEnvoy({
      filters: [{ wasm: FILTER_WASM, rootId: "experiment", configuration: JSON.stringify(CHECKOUT) }],
      clusters: be.addrs,
      routes: [{ header: { name: "x-tandem-variant", value: "canary" }, cluster: "api-v2" }, { cluster: "api-v1" }],
    });
  });
  afterAll(async () => { await gw?.close(); await be?.close(); });

  it("routes each user to its variant's backend, stickily, whichever worker VM serves it", async () => {
    const seen = new Map<string, string>();
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 100; i++) {
        const r = await get(gw.port, "/", { "x-user-id": `u${i}` });
        const j = r.json();
        expect(j.backend).toBe(j.variant === "canary" ? "api-v2" : "api-v1");
        if (round === 0) seen.set(`u${i}`, j.variant!);
        else expect(j.variant).toBe(seen.get(`u${i}`));
      }
    }
    expect(new Set(seen.values())).toEqual(new Set(["stable", "canary"]));
  });

  it("a rejected reconfiguration keeps the running policy", async () => {
    expect(gw.reconfigure("experiment", JSON.stringify(BAD_WEIGHT))).toBe(false);
    const r = await get(gw.port, "/", { "x-user-id": "u1" });
    expect(r.status).toBe(200);
    expect(gw.reconfigure("experiment", JSON.stringify(ALL_CANARY))).toBe(true);
    expect((await get(gw.port, "/", { "x-user-id": "u1" })).json()).toEqual({ backend: "api-v2", variant: "canary" });
  });
});

// spec.experiments: the tags header (wasm/filter/tagging-filter.ts).
describe("tandem.wasm with tagging experiments", () => {
  const core = loadCore();
  const plan = core.configureExperiment(JSON.stringify(TAGGED));
  const FORGED: [string, string][] = [["x-tandem-experiments", "recs=B; pricing=high"], ["x-tandem-experiments", "recs=A"]];
  const tagsOf = (headers: [string, string][]) => headers.filter(([k]) => k === "x-tandem-experiments").map(([, v]) => v);
  const req = (path: string, extra: [string, string][]): [string, string][] => [[":method", "GET"], [":path", path], [":authority", "shop"], ["x-request-id", "r-1"], ...extra];

  it("adds the core's tags in scope, after removing every client copy", async () => {
    const host = await WasmHost.load({ wasm: FILTER_WASM, rootId: "experiment", configuration: JSON.stringify(TAGGED) });
    const values = new Set<string>();
    for (let i = 0; i < 60; i++) {
      const h: Record<string, string> = { "x-user-id": `t${i}`, ...(i % 3 === 0 ? { "x-plan": "pro" } : {}) };
      const s = host.newStream();
      const r = s.requestHeaders(req("/shop/cart", [...Object.entries(h), ...FORGED]), true);
      s.done();
      const want = core.decideExperiment(plan, answerNeeds(plan.needs, { headers: h, path: "/shop/cart", method: "GET" }), 0).tags!;
      expect(tagsOf(r.headers)).toEqual([want]);
      if (i % 3 === 0) expect(want).toMatch(/; pricing=high$/);
      values.add(want);
    }
    expect(values.size).toBeGreaterThan(2);
    expect(host.failed).toBeFalsy();
  });

  it("gives a new user the tags of the id it is issued", async () => {
    const host = await WasmHost.load({ wasm: FILTER_WASM, rootId: "experiment", configuration: JSON.stringify(TAGGED) });
    const s = host.newStream();
    const first = tagsOf(s.requestHeaders(req("/shop/", []), true).headers);
    const cookie = s.responseHeaders([[":status", "200"]], false).headers.find(([k]) => k === "set-cookie")![1].split(";")[0];
    s.done();
    const back = host.newStream();
    expect(tagsOf(back.requestHeaders(req("/shop/", [["cookie", cookie]]), true).headers)).toEqual(first);
    back.done();
    expect(first).toHaveLength(1);
  });

  it("removes client copies out of scope and for a policy without tagging experiments", async () => {
    const host = await WasmHost.load({ wasm: FILTER_WASM, rootId: "experiment", configuration: JSON.stringify(TAGGED) });
    expect(tagsOf(host.newStream().requestHeaders(req("/static/x", [["x-user-id", "u1"], ...FORGED]), true).headers)).toEqual([]);
    const plain = await WasmHost.load({ wasm: FILTER_WASM, rootId: "experiment", configuration: JSON.stringify(CHECKOUT) });
    expect(tagsOf(plain.newStream().requestHeaders(req("/shop/", [["x-user-id", "u1"], ...FORGED]), true).headers)).toEqual([]);
  });

  it("rejects a bad tagging experiment with the core's message", async () => {
    const host = await WasmHost.load({ wasm: FILTER_WASM, rootId: "experiment", configuration: JSON.stringify(CHECKOUT) });
    const bad = { ...TAGGED, experiments: [{ name: "recs", variants: [{ name: "A", weight: 100, upstream: "api-v2" }] }] };
    expect(host.configure(JSON.stringify(bad))).toBe(false);
    expect(host.logs.map((l: { message: string }) => l.message)).toContain("tandem: experiment configuration rejected: experiments[0].variants[0].upstream: unknown field (allowed: name, weight)");
  });
});

// What the generated-policy parity test found (test/parity/generated.parity.test.ts).
describe("tandem.wasm reads the client's request as Kong does", () => {
  const decision = (h: WasmHost, pairs: Array<[string, string]>) => {
    const s = h.newStream({ "source.address": "10.0.0.1:5000" });
    const rq = s.requestHeaders(pairs, true);
    const rs = s.responseHeaders([[":status", "200"]], false);
    s.done();
    return { decision: rs.headers.find(([k]) => k === "x-tandem-decision")?.[1], tags: rq.headers.filter(([k]) => k === "x-tandem-experiments").map(([, v]) => v) };
  };
  const base = (authority: string): Array<[string, string]> => [[":method", "GET"], [":path", "/"], [":authority", authority], ["x-user-id", "u1"], ["x-request-id", "r-1"]];

  it("a rule on header `host` reads Envoy's :authority (HTTP/1 Host), with few needs and with the pairs walk", async () => {
    const few = { name: "h", stickiness: { sources: ["header:x-user-id"] }, exposeHeader: true,
      variants: [{ name: "stable", weight: 100 }, { name: "eu", weight: 0 }],
      rules: [{ match: { header: { Host: { suffix: ".eu" } } }, variant: "eu" }] };
    const many = { ...few, rules: [
      { match: { header: { "x-a": { present: true }, "x-b": { present: true }, "x-c": { present: true } } }, variant: "stable" },
      ...few.rules] };
    for (const policy of [few, many]) {
      const h = await WasmHost.load({ wasm: FILTER_WASM, rootId: "experiment", configuration: JSON.stringify(policy) });
      expect(decision(h, base("shop.eu")).decision, JSON.stringify(policy.rules.length)).toBe(`eu; reason=rule:${policy.rules.length - 1}`);
      expect(decision(h, base("shop.us")).decision).toBe("stable; reason=split");
      expect(h.failed).toBeFalsy();
    }
  });

  it("tagging rules see the client's variant and tags headers, not the filter's rewrites", async () => {
    // keyed by the client address: under PAIRS_THRESHOLD header needs, so each header is
    // fetched when a rule first reads it — for the tags, after the routing decision
    const policy = { name: "r", stickiness: { sources: ["ip"] },
      variants: [{ name: "stable", weight: 100 }],
      experiments: [
        { name: "forged", variants: [{ name: "no", weight: 100 }, { name: "yes", weight: 0 }],
          rules: [{ match: { header: { "x-tandem-variant": { present: true } } }, variant: "yes" }] },
        { name: "sent", variants: [{ name: "no", weight: 100 }, { name: "yes", weight: 0 }],
          rules: [{ match: { header: { "x-tandem-experiments": { present: true } } }, variant: "yes" }] },
      ] };
    const h = await WasmHost.load({ wasm: FILTER_WASM, rootId: "experiment", configuration: JSON.stringify(policy) });
    // the filter writes x-tandem-variant and removes x-tandem-experiments; the rules must not see that
    expect(decision(h, base("shop")).tags).toEqual(["forged=no; sent=no"]);
    expect(decision(h, [...base("shop"), ["x-tandem-variant", "stable"], ["x-tandem-experiments", "forged=yes"]]).tags).toEqual(["forged=yes; sent=yes"]);
    const core = loadCore();
    const plan = core.configureExperiment(JSON.stringify(policy));
    const d = core.decideExperiment(plan, answerNeeds(plan.needs, { headers: { "x-user-id": "u1", host: "shop" }, path: "/", method: "GET", ip: "10.0.0.1" }), 0);
    expect(d.tags).toBe("forged=no; sent=no");
  });
});
