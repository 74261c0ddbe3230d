// Fuzzed plugin configs (valid example policies, mutated): the core never traps, an
// invalid config is refused with a field path and a rule, and tandem.wasm in the Envoy
// simulator accepts exactly the configs the Node core accepts (the one Kong's plugins
// load), refusing the others with the same text — after which the previous config stays.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { WasmHost } from "../../sim/envoy";
import { CoreError } from "../../core-js/tandem-core";
import { FILTER_WASM, ROOT, loadCore } from "../support/dist";
import { mutatedConfig, ran, runs, SEED } from "./arbitraries";

const EXAMPLES = ["checkout", "tagging", "canary-guard", "circuit-breaker"].map(
  (n) => parse(readFileSync(join(ROOT, "deploy", "examples", `${n}.yaml`), "utf8")),
);
const experiments = EXAMPLES.filter((p) => p.spec.experiment).map((p) => ({ ...p.spec.experiment, ...(p.spec.experiments ? { experiments: p.spec.experiments } : {}) }));
const breakers = EXAMPLES.filter((p) => p.spec.circuitBreaker).map((p) => ({ ...p.spec.circuitBreaker, ...(p.spec.fallback ? { fallback: p.spec.fallback } : {}) }));

// "<path>: <rule>": the path starts at the plugin's section (or is empty: the document
// itself) and may hold any key text a user wrote; the rule follows the first ": ".
const FIELD_MESSAGE = /^(experiment|experiments|circuitBreaker|fallback)?([.[][^\n]*)?: \S/;

describe("fuzzed configs", () => {
  const core = loadCore();

  function coreVerdict(kind: "experiment" | "breaker", text: string): string | null {
    try {
      if (kind === "experiment") core.release(core.configureExperiment(text));
      else core.releaseBreaker(core.configureBreaker(text));
      return null;
    } catch (e) {
      if (!(e instanceof CoreError) || /aborted/.test(e.message)) throw e;   // a trap or an abort: a bug
      return e.message;
    }
  }

  for (const [kind, rootId, bases, prefix] of [
    ["experiment", "experiment", experiments, "tandem: experiment configuration rejected: "],
    ["breaker", "circuit-breaker", breakers, "tandem: circuit-breaker configuration rejected: "],
  ] as const) {
    it(`${rootId}: the core refuses with a field path or accepts, and the filter agrees word for word`, async () => {
      expect(bases.length).toBeGreaterThan(0);
      const host = await WasmHost.load({ wasm: FILTER_WASM, rootId, configuration: JSON.stringify(bases[0]) });
      let refused = 0, accepted = 0;
      fc.assert(
        fc.property(mutatedConfig(bases), (text) => {
          const verdict = coreVerdict(kind, text);
          const before = host.logs.length;
          const ok = host.configure(text);
          expect(host.failed).toBe(false);                    // no trap, no abort: the VM lives
          if (verdict === null) {
            accepted++;
            expect(ok).toBe(true);
          } else {
            refused++;
            expect(verdict).toMatch(FIELD_MESSAGE);
            expect(verdict.length).toBeLessThan(1024);
            expect(ok).toBe(false);
            expect(host.logs.slice(before).map((l) => l.message)).toContain(prefix + verdict);
          }
        }),
        { numRuns: runs(250), seed: SEED },
      );
      // Both outcomes were exercised, so the property is not vacuous.
      expect(refused).toBeGreaterThan(0);
      expect(accepted).toBeGreaterThan(0);
      ran(`${rootId} configs (${refused} refused, ${accepted} accepted), filter = core`, refused + accepted);
    });
  }

  it("a refused config leaves the previous one deciding (the filter keeps serving)", async () => {
    const host = await WasmHost.load({ wasm: FILTER_WASM, rootId: "experiment", configuration: JSON.stringify(experiments[0]) });
    const s0 = host.newStream();
    const before = s0.requestHeaders([[":method", "GET"], [":path", "/"], [":authority", "a"], ["x-user-id", "42"], ["x-request-id", "r"]], true);
    s0.done();
    let refused = 0, skipped = 0;
    fc.assert(
      fc.property(mutatedConfig(experiments), (text) => {
        if (coreVerdict("experiment", text) === null) { skipped++; return; }   // only refused ones here
        refused++;
        expect(host.configure(text)).toBe(false);
        const s = host.newStream();
        const r = s.requestHeaders([[":method", "GET"], [":path", "/"], [":authority", "a"], ["x-user-id", "42"], ["x-request-id", "r"]], true);
        s.done();
        expect(r.headers).toEqual(before.headers);
      }),
      { numRuns: runs(60), seed: SEED },
    );
    expect(refused).toBeGreaterThan(0);
    ran(`refused experiment configs, the previous one kept deciding (${refused} refused, ${skipped} accepted and skipped)`, refused + skipped);
  });
});
