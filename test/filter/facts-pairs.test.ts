// tandem.wasm reading a many-header policy's facts from one proxy_get_header_map_pairs
// call (wasm/filter/facts.ts): one walk over the pairs fills every need. Checked here on
// what a walk could get wrong: the first of repeated entries, two needs reading one
// header, names of one length whose first and last 4 bytes agree (the walk's
// signature), names under 4 bytes, absent headers, and the client address (a property,
// not a header) among header needs. Each decision is compared with the core's on the
// same request (Envoy's get returns a repeated header's first entry: the core gets that).
import { describe, expect, it } from "vitest";
import { WasmHost } from "../../sim/envoy";
import { HeaderMap } from "../../sim/envoy/header-map";
import { FILTER_WASM, loadCore } from "../support/dist";
import { answerNeeds } from "../../core-js/answer-needs";
import { reasonName } from "../../core-js/tandem-core";

const POLICY = {
  name: "pairs",
  stickiness: { sources: ["header:x-user-id", "ip"] },
  variants: [{ name: "stable", weight: 50 }, { name: "canary", weight: 50 }, { name: "beta", weight: 0 }],
  exposeHeader: true,
  rules: [
    { match: { header: { "x-abcd-1-wxyz": { exact: "on" } } }, variant: "beta" },        // same length, first and
    { match: { header: { "x-abcd-2-wxyz": { exact: "on" } } }, variant: "canary" },      // last 4 bytes as rule 0
    { match: { header: { te: { exact: "trailers" }, dnt: { exact: "1" } } }, variant: "beta" },
    { match: { header: { "x-tier": { exact: "gold" } } }, variant: "beta" },
    { match: { header: { "x-request-id": { prefix: "probe-" } } }, variant: "beta" },     // also the entropy need
    { match: { header: { "x-missing": { present: true } } }, variant: "canary" },
    { match: { path: { prefix: "/beta" }, method: { exact: "PUT" } }, variant: "beta" },
  ],
};

const BASE: Array<[string, string]> = [[":authority", "shop.example.com"], [":path", "/cart"], [":method", "GET"], ["x-request-id", "r-1"]];

describe("tandem.wasm: facts from one pairs call", async () => {
  const core = loadCore();
  const plan = core.configureExperiment(JSON.stringify(POLICY));
  const host = await WasmHost.load({ wasm: FILTER_WASM, rootId: "experiment", configuration: JSON.stringify(POLICY) });

  // The filter's x-tandem-decision, and the core's on the first value of each header.
  // codec: the request as a map whose bytes the codec made (HeaderMap.encoded, what the
  // bench replays): the pairs call copies those bytes instead of serializing the lists.
  function both(extra: Array<[string, string]>, ip = "10.0.0.1", codec = false) {
    const pairs = [...BASE.filter(([k]) => !extra.some(([e]) => e === k)), ...extra];
    const s = host.newStream({ "source.address": `${ip}:5000` });
    s.requestHeaders(codec ? HeaderMap.encoded(pairs, "request") : pairs, true);
    const envoy = s.responseHeaders([[":status", "200"]], false).headers.find(([k]) => k === "x-tandem-decision")?.[1];
    s.done();
    const headers: Record<string, string> = {};
    for (const [k, v] of pairs) if (!k.startsWith(":") && !(k in headers)) headers[k] = v;
    headers.host = pairs.find(([k]) => k === ":authority")![1];
    const get = (k: string) => pairs.find(([n]) => n === k)![1];
    const d = core.decideExperiment(plan, answerNeeds(plan.needs, { headers, path: get(":path"), method: get(":method"), ip }), 0);
    return { envoy, core: `${plan.variants[d.variant].name}; reason=${reasonName(d.reason)}` };
  }

  it("reads the header each need names, and only that one", () => {
    const cases: Array<[Array<[string, string]>, string]> = [
      [[["x-abcd-1-wxyz", "on"]], "rule:0"],
      [[["x-abcd-2-wxyz", "on"]], "rule:1"],
      [[["x-abcd-3-wxyz", "on"]], "split"],
      [[["x-abcd-2-wxyz", "off"], ["x-abcd-1-wxyz", "on"]], "rule:0"],
      [[["te", "trailers"], ["dnt", "1"]], "rule:2"],
      [[["te", "trailers"], ["dnx", "1"]], "split"],
      [[["x-tier", "gold"]], "rule:3"],
      [[["x-tier", "silver"], ["x-tier", "gold"]], "split"],          // the first entry counts
      [[["x-tier", "gold"], ["x-tier", "silver"]], "rule:3"],
      [[["x-request-id", "probe-1"]], "rule:4"],
      [[["x-missing", ""]], "rule:5"],
      [[[":path", "/beta/x?y"], [":method", "PUT"]], "rule:6"],
      [[[":path", "/beta"], [":method", "PUTS"]], "split"],
      [[], "split"],
    ];
    for (const [extra, reason] of cases) {
      for (const codec of [false, true]) {
        const d = both(extra, "10.0.0.1", codec);
        expect(d.envoy, `${JSON.stringify(extra)} codec=${codec}`).toBe(d.core);
        expect(d.envoy?.endsWith(`reason=${reason}`), `${JSON.stringify(extra)}: ${d.envoy}`).toBe(true);
      }
    }
  });

  it("keys users by the client address when no header names them, stickily", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const ip = `10.0.${i}.7`;
      const a = both([], ip), b = both([["x-tier", "bronze"]], ip);
      expect(a.envoy).toBe(a.core);
      expect(b.envoy).toBe(a.envoy);
      seen.add(a.envoy!);
    }
    expect(seen).toEqual(new Set(["stable; reason=split", "canary; reason=split"]));
    expect(host.failed).toBeFalsy();
  });
});
