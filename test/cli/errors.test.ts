// Bad input as users type it: every mistake gets one line naming it (a wrong command
// line also gets the usage) and a non-zero exit code, never a Node stack trace.
//   exit 1: a file that cannot be read or is not a valid policy / trace
//   exit 2: a wrong command line (unknown option, missing value, bad flag value)
import { afterAll, describe, expect, it } from "vitest";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NO_STACK, fails, tandem } from "../support/cli-run";


const dir = mkdtempSync(join(tmpdir(), "tandem-cli-errors-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));   // leave no temp folder behind
const file = (name: string, text: string) => { const p = join(dir, name); writeFileSync(p, text); return p; };
const POLICY = "deploy/examples/checkout.yaml";
const TRACE = "deploy/examples/checkout.trace.jsonl";

// exit 2, `line` then the usage on stderr
async function misused(line: string, ...args: string[]): Promise<void> {
  const r = await tandem(...args);
  expect(r.stderr, r.stderr).not.toMatch(NO_STACK);
  expect(r.stderr.split("\n")[0]).toBe(line);
  expect(r.stderr.split("\n")[1]).toBe("usage:");
  expect(r.code).toBe(2);
}

describe("policy files", () => {
  it("names a missing file, a directory, an empty file", async () => {
    const missing = join(dir, "missing.yaml");
    await fails(`${missing}: cannot read: ENOENT (no such file)`, "validate", missing);
    await fails(`${dir}: cannot read: EISDIR (a directory, not a file)`, "validate", dir);
    const empty = file("empty.yaml", "# nothing yet\n");
    await fails(`${empty}: empty: expected a TrafficPolicy (apiVersion, kind, metadata, spec)`, "validate", empty);
  });

  it("gives the line and column of bad YAML, and names aliases and extra documents", async () => {
    const bad = file("bad.yaml", "apiVersion: [\n  x: : y\n");
    await fails(`${bad}: not valid YAML at line 2, column 6: Unexpected : in flow sequence`, "validate", bad);
    const alias = file("alias.yaml", "a: &x 1\nb: *y\n");
    await fails(`${alias}: not valid YAML: Unresolved alias (the anchor must be set before the alias): y`, "validate", alias);
    const two = file("two.yaml", "a: 1\n---\nb: 2\n");
    await fails(`${two}: not valid YAML at line 2, column 1: more than one document (---): a policy file holds one TrafficPolicy`, "validate", two);
  });

  it("names the file when the document itself is not an object", async () => {
    const scalar = file("scalar.yaml", "hello\n");
    await fails(`${scalar}: must be an object, got "hello"`, "validate", scalar);
  });

  it("rejects a typo'd field with the core's text", async () => {
    const typo = file("typo.yaml", "apiVersion: tandem.dev/v1alpha1\nkind: TrafficPolicy\nmetadata: { name: t }\nspec:\n  experiment:\n    name: e\n    varientHeader: x-v\n    variants: [{ name: a, weight: 100 }]\n");
    await fails(`${typo}: experiment.varientHeader: unknown field (allowed: name, seed, stickiness, variantHeader, variants, scope, rules, hash, override, rollout, exposeHeader, decisionLog)`, "validate", typo);
  });
});

describe("traces", () => {
  it("names a missing file, a directory, an empty trace and a line that is not JSON", async () => {
    const missing = join(dir, "missing.jsonl");
    await fails(`${missing}: cannot read: ENOENT (no such file)`, "simulate", "--policy", POLICY, "--trace", missing);
    await fails(`${dir}: cannot read: EISDIR (a directory, not a file)`, "simulate", "--policy", POLICY, "--trace", dir);
    const empty = file("empty.jsonl", "\n");
    await fails(`${empty}: no requests: a trace has one JSON object a line`, "simulate", "--policy", POLICY, "--trace", empty);
    await fails(`${missing}: cannot read: ENOENT (no such file)`, "explain", "--policy", POLICY, "--trace", missing);
    const notJson = file("notjson.jsonl", '{"t": 0}\nnot json\n');
    const r = await tandem("simulate", "--policy", POLICY, "--trace", notJson);
    expect(r.stderr).toMatch(new RegExp(`^${notJson.replace(/[.]/g, "\\.")}:2: not JSON: [^\\n]+\\n$`));
    expect(r.code).toBe(1);
  });
});

describe("command lines", () => {
  it("unknown options, missing values and stray arguments are usage errors", async () => {
    await misused("tandem: Unknown option '--bogus'", "validate", POLICY, "--bogus");
    await misused("tandem: Unknown option '--bogus'", "simulate", "--policy", POLICY, "--trace", TRACE, "--bogus");
    await misused("tandem: Unknown option '--bogus'", "explain", "--policy", POLICY, "--bogus");
    await misused("tandem: Unknown option '--bogus'", "render", POLICY, "--bogus");
    await misused("tandem: Unknown option '--bogus'", "playground", "--bogus");
    await misused("tandem: Option '--via <value>' argument missing", "simulate", "--policy", POLICY, "--trace", TRACE, "--via");
    await misused("tandem: Unexpected argument 'extra'. This command does not take positional arguments", "simulate", "--policy", POLICY, "--trace", TRACE, "extra");
  });

  it("bad flag values and missing required arguments are usage errors", async () => {
    await misused("tandem: --via must be core, kong or envoy, got bogus", "simulate", "--policy", POLICY, "--trace", TRACE, "--via", "bogus");
    await misused("tandem: simulate needs --policy and --trace", "simulate", "--policy", POLICY);
    await misused("tandem: render takes one policy file", "render");
    await misused('tandem: --selector takes label=value[,label=value...], got "istio"', "render", POLICY, "--selector", "istio");
    await misused('tandem: --kong-port must be a port number 0-65535, got "abc"', "playground", "--kong-port", "abc");
  });

  it("render --out that cannot be created: the system call's one line", async () => {
    const notDir = file("not-a-dir", "");
    await fails(`tandem: ENOTDIR: not a directory, mkdir '${join(notDir, "out")}'`, "render", POLICY, "--out", join(notDir, "out"));
  });

  it("render --out where the file system refuses new entries: exits 1 at once with the reason (no mkdir loop)", async () => {
    const started = Date.now();
    await fails("tandem: ENOENT: no such file or directory, mkdir '/proc/nope'", "render", POLICY, "--out", "/proc/nope");
    await fails("tandem: ENOENT: no such file or directory, mkdir '/proc/nope'", "render", POLICY, "--out", "/proc/nope/deeper");
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it("playground: a port in use is named before anything starts", async () => {
    const busy: Server = createServer();
    const port = await new Promise<number>((ok) => busy.listen(0, "127.0.0.1", () => ok((busy.address() as { port: number }).port)));
    try {
      await fails(`tandem: listen EADDRINUSE: address already in use 127.0.0.1:${port} (--kong-port)`, "playground", "--check", "--kong-port", String(port), "--envoy-port", "0");
    } finally {
      busy.close();
    }
  });
});
