// Configs `tandem validate` refuses, the gateways refuse with the same text, and the
// other way round: cookie domains browsers drop, non-finite numbers (1e400 reads as
// Infinity), values nested deeper than the core's parser takes (named by field path).
// Through the core's validatePolicy (what the CLI runs), the Envoy filter (tandem.wasm
// in the Envoy harness) and, where Kong's own schema lets the config through to the
// plugin, the Kong plugin (real kong-js-pluginserver). Kong's typed schema refuses a
// deeply nested or non-finite config itself, before tandem sees it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WasmHost } from "../../sim/envoy";
import { startKong } from "../../sim/kong";
import { FILTER_WASM, KONG_DIR, loadCore, requireBuilt } from "../support/dist";
import { startBackends, get, type Backends } from "../support/backends";
import { CHECKOUT } from "../support/policies";

const core = loadCore();
let be: Backends;
beforeAll(async () => { be = await startBackends(["svc"]); });
afterAll(async () => { await be?.close(); });

// `spec` as JSON text (may hold 1e400, which no JS value stringifies to).
const policyText = (spec: string) => `{"apiVersion":"tandem.dev/v1alpha1","kind":"TrafficPolicy","metadata":{"name":"t"},"spec":${spec}}`;
const ex = (cookie: unknown) => ({ ...CHECKOUT, stickiness: { sources: ["cookie:tandem-uid"], cookie } });
const nest = (levels: number, inner: unknown): unknown => (levels === 0 ? inner : [nest(levels - 1, inner)]);

// kongPlugins: the Kong plugins that take this config (default: the root id's namesake).
interface Case { what: string; root: "experiment" | "circuit-breaker"; plugin: string; spec: string; message: string; kong: boolean; kongPlugin?: string; kongPlugins?: string[] }

const DOMAIN = "must be a domain name (labels of letters, digits and -, joined by single dots; one leading dot allowed)";
const cases: Case[] = [
  ...[".", "..", "a..b", "-shop.example.com", "*.example.com", "shop.example.com."].map((domain): Case => ({
    what: `cookie domain ${JSON.stringify(domain)}`, root: "experiment", kong: true,
    plugin: JSON.stringify(ex({ name: "tandem-uid", domain })),
    spec: JSON.stringify({ experiment: ex({ name: "tandem-uid", domain }) }),
    message: `experiment.stickiness.cookie.domain: ${DOMAIN}, got ${JSON.stringify(domain)}`,
  })),
  // The sampled decision log (spec.experiment.decisionLog): faults' percent rules.
  ...([
    [{ percent: 101 }, "experiment.decisionLog.percent: must be between 0 and 100, got 101"],
    [{ percent: 0.125 }, "experiment.decisionLog.percent: must have at most 2 decimals, got 0.125"],
    [{}, "experiment.decisionLog.percent: is required"],
  ] as Array<[unknown, string]>).map(([decisionLog, message]): Case => ({
    what: `decisionLog ${JSON.stringify(decisionLog)}`, root: "experiment", kong: true, message,
    plugin: JSON.stringify({ ...CHECKOUT, decisionLog }), spec: JSON.stringify({ experiment: { ...CHECKOUT, decisionLog } }),
  })),
  {
    what: "openDurationMs 1e400", root: "circuit-breaker", kong: false,
    plugin: '{"openDurationMs":1e400}', spec: '{"circuitBreaker":{"openDurationMs":1e400}}',
    message: "circuitBreaker.openDurationMs: must be an integer, got 1e400",
  },
  {
    what: "weight -1e400", root: "experiment", kong: false,
    plugin: '{"name":"e","variants":[{"name":"a","weight":-1e400},{"name":"b","weight":100}]}',
    spec: '{"experiment":{"name":"e","variants":[{"name":"a","weight":-1e400},{"name":"b","weight":100}]}}',
    message: "experiment.variants[0].weight: must be a finite number, got -1e400",
  },
  {
    what: "a rule nested 40 levels deep", root: "experiment", kong: false,
    plugin: JSON.stringify({ ...CHECKOUT, rules: nest(40, 1) }), spec: JSON.stringify({ experiment: { ...CHECKOUT, rules: nest(40, 1) } }),
    message: `experiment.rules${"[0]".repeat(32)}: must not nest deeper than 32 levels`,
  },
  {
    what: "a tagging experiment nested 40 levels deep", root: "experiment", kong: false,
    plugin: JSON.stringify({ ...CHECKOUT, experiments: nest(40, 1) }), spec: JSON.stringify({ experiment: CHECKOUT, experiments: nest(40, 1) }),
    message: `experiments${"[0]".repeat(32)}: must not nest deeper than 32 levels`,
  },
  {
    what: "a fallback nested 40 levels deep", root: "circuit-breaker", kong: false,
    plugin: JSON.stringify({ fallback: { respond: nest(40, 1) } }), spec: JSON.stringify({ fallback: { respond: nest(40, 1) } }),
    message: `fallback.respond${"[0]".repeat(31)}: must not nest deeper than 32 levels`,
  },
  // The cache fallback's bad input (issue 16): the single and the list form; Kong gets
  // the list under its `fallbacks` field (wasm/core/plan.ts, Kong copy),
  // and so does its `fallback-cache` plugin (the breaker's config, kongCacheConfig), which
  // refuses it with the same text.
  ...([
    ["a cache body above 1 MiB", { cache: { maxBodyBytes: 1048577 } }, "fallback.cache.maxBodyBytes: must be between 1 and 1048576, got 1048577"],
    ["more than 100,000 cache entries", [{ cache: { maxEntries: 100001 } }, { respond: {} }], "fallback[0].cache.maxEntries: must be between 1 and 100000, got 100001"],
    ["an unknown cache method", [{ cache: { methods: ["GET", "PURGE"] } }], 'fallback[0].cache.methods[1]: must be one of GET, HEAD (the methods whose responses a cache may store, RFC 9110 9.2.3), got "PURGE"'],
    ["cache ttlMs 0", [{ cache: { ttlMs: 0 } }, { reroute: { upstream: "svc" } }], "fallback[0].cache.ttlMs: must be between 1 and 86400000, got 0"],
  ] as Array<[string, unknown, string]>).map(([what, fallback, message]): Case => ({
    what, root: "circuit-breaker", kong: true, message,
    plugin: JSON.stringify({ fallback }), spec: JSON.stringify({ fallback }),
    kongPlugin: JSON.stringify(Array.isArray(fallback) ? { fallbacks: fallback } : { fallback }),
    kongPlugins: ["circuit-breaker", "fallback-cache"],
  })),
];

describe("what validate refuses, both gateways refuse with the same text", () => {
  for (const c of cases) {
    it(c.what, async () => {
      expect(core.validatePolicy(policyText(c.spec))).toBe(c.message);
      const good = c.root === "experiment" ? JSON.stringify(CHECKOUT) : "{}";
      const host = await WasmHost.load({ wasm: requireBuilt(FILTER_WASM), rootId: c.root, configuration: good });
      expect(host.configure(c.plugin)).toBe(false);
      expect(host.logs.map((l: { message: string }) => l.message)).toContain(`tandem: ${c.root} configuration rejected: ${c.message}`);
      if (!c.kong) return;
      for (const name of c.kongPlugins ?? [c.root]) {
        const k = await startKong({ plugins: [{ name, dir: KONG_DIR(name), config: JSON.parse(c.kongPlugin ?? c.plugin) }], upstreams: be.addrs, defaultUpstream: "svc" });
        try {
          expect((await get(k.port, "/")).status, name).toBe(500);
          let logs = "";
          for (let i = 0; i < 100 && !logs.includes(c.message); i++) {
            await new Promise((r) => setTimeout(r, 20));
            logs = k.logs("debug").map((l) => l.message).join("\n");
          }
          expect(logs, name).toContain(c.message);
        } finally {
          await k.close();
        }
      }
    }, 60_000);
  }

  it("what it accepts, they accept: a leading dot, a one-label domain, 32 levels", async () => {
    for (const domain of [".example.com", "shop.example.com", "localhost", "a-b.c0"]) {
      expect(core.validatePolicy(policyText(JSON.stringify({ experiment: ex({ name: "tandem-uid", domain }) })))).toBeNull();
      const host = await WasmHost.load({ wasm: requireBuilt(FILTER_WASM), rootId: "experiment", configuration: JSON.stringify(ex({ name: "tandem-uid", domain })) });
      expect(host.failed).toBeFalsy();
    }
  });
});
