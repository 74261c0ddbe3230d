// The tandem CLI as users run it: the bundled dist/cli/tandem.js in a child process.
import { describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, parseAllDocuments } from "yaml";
import { CLI, ROOT, requireBuilt } from "../support/dist";
import { BAD_WEIGHT, BAD_WEIGHT_MESSAGE, CHECKOUT } from "../support/policies";

function tandem(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [requireBuilt(CLI), ...args], { cwd: ROOT, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

const dir = mkdtempSync(join(tmpdir(), "tandem-cli-"));
function policyFile(name: string, experiment: unknown): string {
  const p = join(dir, name);
  writeFileSync(p, JSON.stringify({ apiVersion: "tandem.dev/v1alpha1", kind: "TrafficPolicy", metadata: { name: "t" }, spec: { experiment } }));
  return p;
}
const EXAMPLE = "deploy/examples/checkout.yaml";
const TRACE = "deploy/examples/checkout.trace.jsonl";

describe("tandem validate", () => {
  it("accepts the example policy", async () => {
    const r = await tandem("validate", EXAMPLE);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("valid TrafficPolicy checkout");
  });

  it("rejects a bad policy with exactly the gateways' text", async () => {
    const r = await tandem("validate", policyFile("bad.json", BAD_WEIGHT));
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(BAD_WEIGHT_MESSAGE);
  });

  it("reports unreadable and non-YAML files", async () => {
    expect((await tandem("validate", join(dir, "missing.yaml"))).stderr).toMatch(/missing\.yaml: cannot read: ENOENT/);
    const p = join(dir, "broken.yaml");
    writeFileSync(p, "spec: [unclosed");
    const r = await tandem("validate", p);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/broken\.yaml: not valid YAML/);
  });

  it("exits 2 with usage on bad arguments", async () => {
    const r = await tandem("frobnicate");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("usage:");
  });
});

describe("tandem simulate", () => {
  it("prints one result per trace line with the documented keys, identically via core, kong and envoy", async () => {
    const out: Record<string, string[]> = {};
    for (const via of ["core", "kong", "envoy"]) {
      const r = await tandem("simulate", "--policy", EXAMPLE, "--trace", TRACE, "--via", via);
      expect(r.code, r.stderr).toBe(0);
      out[via] = r.stdout.trim().split("\n");
    }
    const lines = readFileSync(join(ROOT, TRACE), "utf8").trim().split("\n");
    expect(out.core).toHaveLength(lines.length);
    for (const l of out.core) expect(Object.keys(JSON.parse(l))).toEqual(["variant", "upstream", "action", "status", "breaker", "setCookie"]);
    // Decisions agree everywhere; only the gateways' own answers to a dead upstream differ
    // (Kong 502, Envoy 503: see cli/simulate/result.ts).
    const decision = (l: string) => { const { status, ...rest } = JSON.parse(l); return rest; };
    expect(out.kong.map(decision)).toEqual(out.core.map(decision));
    expect(out.envoy.map(decision)).toEqual(out.core.map(decision));
    expect(out.kong).toEqual(out.core);
    // --profile envoy makes the core answer dead upstreams as Envoy does: all fields equal
    const asEnvoy = await tandem("simulate", "--policy", EXAMPLE, "--trace", TRACE, "--via", "core", "--profile", "envoy");
    expect(asEnvoy.stdout.trim().split("\n")).toEqual(out.envoy);
    expect(JSON.parse(out.core[0]).setCookie).toMatch(/^tandem-uid=/);
    expect(out.core.map((l) => JSON.parse(l).variant)).toContain("canary");
  }, 120_000);

  it("rejects a malformed trace with the line and field", async () => {
    const t = join(dir, "bad.jsonl");
    writeFileSync(t, '{"t": 5}\n{"t": 1}\n');
    const r = await tandem("simulate", "--policy", EXAMPLE, "--trace", t);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(`${t}:2: t: must not decrease (previous 5), got 1`);
  });
});

describe("tandem explain", () => {
  it("says which rule matched, where the key came from and what the gateway does", async () => {
    const p = policyFile("rules.json", { ...CHECKOUT, exposeHeader: true, rules: [{ match: { header: { "x-beta": { exact: "yes" } } }, variant: "canary" }] });
    const ruled = await tandem("explain", "--policy", p, "--headers", "x-beta: yes", "--headers", "x-user-id: 42");
    expect(ruled.code, ruled.stderr).toBe(0);
    expect(ruled.stdout).toContain("variant:  canary (upstream api-v2)");
    expect(ruled.stdout).toContain("reason:   rule:0");
    expect(ruled.stdout).toContain("x-tandem-decision: canary; reason=rule:0");
    const split = await tandem("explain", "--policy", p, "--headers", "x-user-id: 42");
    expect(split.stdout).toMatch(/reason: {3}split/);
    expect(split.stdout).toContain("key:      from header:x-user-id");
    expect(split.stdout).toMatch(/bucket: {3}\d+ of 10000/);
    const bad = await tandem("explain", "--policy", p, "--headers", "no-colon");
    expect(bad.code).toBe(2);
  });
});

describe("tandem render", () => {
  it("renders a KongPlugin and an Istio WasmPlugin carrying spec.experiment verbatim", async () => {
    const out = join(dir, "out");
    const r = await tandem("render", policyFile("ok.json", CHECKOUT), "--out", out, "--namespace", "shop");
    expect(r.code, r.stderr).toBe(0);
    const kong = parseAllDocuments(readFileSync(join(out, "kong.yaml"), "utf8")).map((d) => d.toJS());
    expect(kong[0]).toMatchObject({ apiVersion: "configuration.konghq.com/v1", kind: "KongPlugin", plugin: "experiment", config: CHECKOUT });
    const istio = parseAllDocuments(readFileSync(join(out, "istio.yaml"), "utf8")).map((d) => d.toJS());
    expect(istio[0]).toMatchObject({ kind: "WasmPlugin", metadata: { namespace: "shop" }, spec: { pluginName: "experiment", pluginConfig: CHECKOUT, failStrategy: "FAIL_OPEN" } });
    const vs = istio.find((d) => d.kind === "VirtualService");
    expect(vs.spec.http[1]).toMatchObject({ match: [{ headers: { "x-tandem-variant": { exact: "canary" } } }], route: [{ destination: { subset: "api-v2" } }] });
    expect(parse(readFileSync(join(out, "istio.yaml"), "utf8").split("---\n")[0]).spec.url).toMatch(/^oci:\/\//);
  });

  it("refuses to render an invalid policy", async () => {
    const r = await tandem("render", policyFile("bad2.json", BAD_WEIGHT));
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(BAD_WEIGHT_MESSAGE);
  });
});
