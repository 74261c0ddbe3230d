// What `tandem validate` accepts, the gateways accept (test/parity/config.parity.test.ts
// holds the gateways' side): YAML's non-finite numbers are not turned into "absent",
// cookie domains browsers drop are refused, and nesting too deep is named by field path
// at any depth, also past where the YAML reader's recursion ends. Every refusal reads
// "<file>: <field path>: <message>". The built CLI, as users run it.
import { afterAll, describe, expect, it } from "vitest";
import { tandem } from "../support/cli-run";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLI } from "../support/dist";

const dir = mkdtempSync(join(tmpdir(), "tandem-cli-gateways-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));   // leave no temp folder behind
const HEAD = "apiVersion: tandem.dev/v1alpha1\nkind: TrafficPolicy\nmetadata: { name: t }\nspec:\n";
const policy = (name: string, spec: string) => { const p = join(dir, name); writeFileSync(p, HEAD + spec); return p; };
const BREAKER = (v: string) => `  circuitBreaker:\n    openDurationMs: ${v}\n`;
const WEIGHT = (v: string) => `  experiment:\n    name: e\n    variants: [{ name: a, weight: ${v} }, { name: b, weight: 100 }]\n`;
const NO_STACK = /^\s+at /m;

async function refused(p: string, line: string, cmd = "validate"): Promise<void> {
  const r = await tandem(cmd, p);
  expect(r.stderr, r.stderr).not.toMatch(NO_STACK);
  expect(r.stderr).toBe(`${p}: ${line}\n`);
  expect(r.code).toBe(1);
}

describe("validate refuses what the gateways refuse", () => {
  it("non-finite numbers: .inf, -.inf, 1e400 as the Envoy filter says; .nan by field", async () => {
    await refused(policy("inf.yaml", BREAKER(".inf")), "circuitBreaker.openDurationMs: must be an integer, got 1e400");
    await refused(policy("big.yaml", BREAKER("1e400")), "circuitBreaker.openDurationMs: must be an integer, got 1e400");
    await refused(policy("neg.yaml", WEIGHT("-.inf")), "experiment.variants[0].weight: must be a finite number, got -1e400");
    await refused(policy("nan.yaml", WEIGHT(".nan")), "experiment.variants[0].weight: must be a finite number, got .nan");
    // render writes nothing for them
    await refused(policy("inf-render.yaml", BREAKER(".inf")), "circuitBreaker.openDurationMs: must be an integer, got 1e400", "render");
  });

  it("cookie domains browsers drop", async () => {
    for (const d of [".", "..", "a..b"]) {
      const p = policy(`domain-${d.length}.yaml`, `  experiment:\n    name: e\n    stickiness: { sources: ["cookie:u"], cookie: { name: u, domain: "${d}" } }\n    variants: [{ name: a, weight: 100 }]\n`);
      await refused(p, `experiment.stickiness.cookie.domain: must be a domain name (labels of letters, digits and -, joined by single dots; one leading dot allowed), got "${d}"`);
    }
  });

  it("nesting too deep, by field path: 40 levels, and 900 (past the YAML reader's recursion)", async () => {
    for (const levels of [40, 900]) {
      const p = policy(`deep-${levels}.yaml`, `  experiment:\n    name: e\n    variants: [{ name: a, weight: 100 }]\n    rules: ${"[".repeat(levels)}${"]".repeat(levels)}\n`);
      await refused(p, `experiment.rules${"[0]".repeat(32)}: must not nest deeper than 32 levels`);
    }
    const m = policy("deep-map.yaml", `  experiment:\n    name: e\n    variants: [{ name: a, weight: 100 }]\n    scope: ${"{a: ".repeat(900)}1${"}".repeat(900)}\n`);
    await refused(m, `experiment.scope${".a".repeat(32)}: must not nest deeper than 32 levels`);
  });

  it("and accepts what they accept: 32 levels, a leading-dot domain", async () => {
    const p = policy("ok.yaml", `  experiment:\n    name: e\n    stickiness: { sources: ["cookie:u"], cookie: { name: u, domain: ".example.com" } }\n    variants: [{ name: a, weight: 100 }]\n`);
    const r = await tandem("validate", p);
    expect(r.code, r.stderr).toBe(0);
  });
});
