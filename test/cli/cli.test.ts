// The tandem CLI as users run it: the bundled dist/cli/tandem.js in a child process.
import { afterAll, describe, expect, it } from "vitest";
import { tandem } from "../support/cli-run";
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, parseAllDocuments } from "yaml";
import { CLI, ROOT } from "../support/dist";
import { BAD_WEIGHT, BAD_WEIGHT_MESSAGE, CHECKOUT } from "../support/policies";

const dir = mkdtempSync(join(tmpdir(), "tandem-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));   // leave no temp folder behind
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
    const bad = policyFile("bad.json", BAD_WEIGHT);
    const r = await tandem("validate", bad);
    expect(r.code).toBe(1);
    // <file>: then the gateways' text, exactly
    expect(r.stderr.trim()).toBe(`${bad}: ${BAD_WEIGHT_MESSAGE}`);
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
    expect(out.kong).toEqual(out.core);
    // --profile envoy makes the core do what an Istio ingress gateway does: answer dead
    // upstreams as Envoy does, and give a new user an id drawn from Envoy's own
    // x-request-id (cli/simulate/trace.ts envoyRequestId): all fields equal
    const asEnvoy = await tandem("simulate", "--policy", EXAMPLE, "--trace", TRACE, "--via", "core", "--profile", "envoy");
    expect(asEnvoy.stdout.trim().split("\n")).toEqual(out.envoy);
    // Across the gateways, users with their cookie decide identically; only the gateways'
    // own answers to a dead upstream (Kong 502, Envoy 503) and new users' ids differ.
    const decision = (l: string) => { const { status, ...rest } = JSON.parse(l); return rest; };
    const known = out.core.map((l, i) => [l, i] as const).filter(([l, i]) => JSON.parse(l).setCookie === null && JSON.parse(out.envoy[i]).setCookie === null);
    expect(known.length).toBeGreaterThan(0);
    for (const [l, i] of known) expect(decision(out.envoy[i])).toEqual(decision(l));
    expect(JSON.parse(out.envoy[0]).setCookie).not.toEqual(JSON.parse(out.core[0]).setCookie);
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
    const bad = policyFile("bad2.json", BAD_WEIGHT);
    const r = await tandem("render", bad);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(`${bad}: ${BAD_WEIGHT_MESSAGE}`);
  });
});

describe("tandem explain: the circuit breaker", () => {
  // key: upstream, so a request's breaker key is its variant; 4 failures open it.
  const BREAKER = { key: "upstream", window: { type: "count", size: 10 }, minimumCalls: 4, failureRateThreshold: 50, openDurationMs: 30000, halfOpen: { permittedCalls: 2 } };
  const RESPOND = { respond: { status: 503, headers: { "cache-control": "no-store" }, body: "resting", contentType: "text/plain" } };
  function policy(name: string, spec: Record<string, unknown>): string {
    const p = join(dir, name);
    writeFileSync(p, JSON.stringify({ apiVersion: "tandem.dev/v1alpha1", kind: "TrafficPolicy", metadata: { name: "t" }, spec }));
    return p;
  }
  const withRespond = policy("cb-respond.json", { experiment: CHECKOUT, circuitBreaker: BREAKER, fallback: RESPOND });
  const user = ["--headers", "x-user-id: 42"];
  const fail = (t: number) => JSON.stringify({ t, headers: { "x-user-id": "42" }, upstream: { status: 500, latencyMs: 10 } });
  const trips = join(dir, "trips.jsonl");
  writeFileSync(trips, [0, 10, 20, 30].map(fail).join("\n") + "\n");

  it("closed: admits the request under its variant's key and counts its outcome", async () => {
    const r = await tandem("explain", "--policy", withRespond, ...user);
    expect(r.code, r.stderr).toBe(0);
    const variant = /^variant: {2}(\S+)/m.exec(r.stdout)![1];
    // key: upstream counts the variant under its upstream, as the policy names it
    const upstream = CHECKOUT.variants.find((v) => v.name === variant)!.upstream;
    expect(r.stdout).toContain(`breaker:  key "${upstream}": the upstream of x-tandem-variant "${variant}", the variant the experiment set (key: upstream)`);
    expect(r.stdout).toContain("history:  none: a fresh process, every key closed");
    expect(r.stdout).toContain("state:    closed; window: 0 outcomes, 0 failed, 0 slow");
    expect(r.stdout).toContain("decision: admitted: the breaker is closed");
    expect(r.stdout).toContain("answer:   the upstream's answer; its outcome is counted");
  });

  it("after a trace that trips it: rejected, the fallback answers with Retry-After, as simulate does", async () => {
    const r = await tandem("explain", "--policy", withRespond, ...user, "--trace", trips);
    expect(r.code, r.stderr).toBe(0);
    // The 4th failure came back at t=40 (t=30 + latencyMs 10), the trace's end.
    expect(r.stdout).toContain(`history:  ${trips}: 4 requests replayed through the core (as tandem simulate --via core), then this one at t=40`);
    expect(r.stdout).toContain("state:    open since t=40 (failure_rate: failure rate reached failureRateThreshold), until t=30040: open for 30000 ms");
    expect(r.stdout).toContain("decision: rejected: open until t=30040 (Retry-After 30 s)");
    expect(r.stdout).toMatch(/answer: {3}fallback\.respond 503\n {10}retry-after: 30\n {10}cache-control: no-store\n {10}content-type: text\/plain\n {10}body "resting" \(7 bytes\)/);
    // Later, less time left; at openUntil the core turns it half-open and admits a probe.
    const later = await tandem("explain", "--policy", withRespond, ...user, "--trace", trips, "--at", "20040");
    expect(later.stdout).toContain("decision: rejected: open until t=30040 (Retry-After 10 s)");
    expect(later.stdout).toMatch(/\n {10}retry-after: 10\n/);
    const probe = await tandem("explain", "--policy", withRespond, ...user, "--trace", trips, "--at", "30040");
    expect(probe.stdout).toContain("decision: probe: half-open, admitted as probe 1 of 2");
    // Earlier than the trace's end: only the calls over by then count (3 failures at t=35:
    // the 4th ends at t=40), so the breaker is still closed.
    const before = await tandem("explain", "--policy", withRespond, ...user, "--trace", trips, "--at", "35");
    expect(before.code, before.stderr).toBe(0);
    expect(before.stdout).toContain(`history:  ${trips}: 3 requests of 4 (the rest end after this request) replayed through the core (as tandem simulate --via core), then this one at t=35`);
    expect(before.stdout).toContain("state:    closed; window: 3 outcomes, 3 failed, 0 slow");
    expect(before.stdout).toContain("decision: admitted: the breaker is closed");
    // The same request appended to the trace: simulate answers it with the fallback.
    const plusOne = join(dir, "trips-plus-one.jsonl");
    writeFileSync(plusOne, [0, 10, 20, 30, 40].map(fail).join("\n") + "\n");
    const sim = await tandem("simulate", "--policy", withRespond, "--trace", plusOne);
    expect(JSON.parse(sim.stdout.trim().split("\n")[4])).toMatchObject({ action: "fallback", status: 503, breaker: "open" });
  });

  it("--breaker-state drives the request's key through the core; a reroute fallback answers", async () => {
    const reroute = policy("cb-reroute.json", { experiment: CHECKOUT, circuitBreaker: BREAKER, fallback: { reroute: { variant: "stable" } } });
    const at = (state: string) => tandem("explain", "--policy", reroute, ...user, "--at", "100000", "--breaker-state", state);
    const open = await at("open");
    expect(open.code, open.stderr).toBe(0);
    expect(open.stdout).toContain("history:  --breaker-state open: 4 failing calls recorded through the core at t=100000, then this request");
    expect(open.stdout).toContain("decision: rejected: open until t=130000 (Retry-After 30 s)");
    expect(open.stdout).toContain("answer:   fallback.reroute to variant stable: x-tandem-variant: stable, Kong set_upstream(api-v1); the breaker does not count it");
    const half = await at("half_open");
    expect(half.stdout).toContain("state:    half_open since t=100000: 1 of 2 probes admitted, 0 results in, 0 failed");
    expect(half.stdout).toContain("decision: probe: half-open, admitted as probe 1 of 2");
    const full = await at("half_open_full");
    expect(full.stdout).toContain("decision: rejected: half-open with all 2 probe permits out, 0 results in (Retry-After 1 s)");
    const closed = await at("closed");
    expect(closed.stdout).toContain("decision: admitted: the breaker is closed");
    // dry_run runs the same machine but admits: the decision says what enforce would do.
    const dry = policy("cb-dry.json", { experiment: CHECKOUT, circuitBreaker: { ...BREAKER, mode: "dry_run" } });
    const d = await tandem("explain", "--policy", dry, ...user, "--at", "100000", "--breaker-state", "open");
    expect(d.stdout).toContain("decision: admitted: mode dry_run; enforce would reject it: open until t=130000\n");
    expect(d.stdout).toContain("answer:   the upstream's answer; its outcome is not counted");
  });

  it("forced_open with no history: rejected, the gateway's own 503 without Retry-After", async () => {
    const forced = policy("cb-forced.json", { circuitBreaker: { mode: "forced_open" } });
    const r = await tandem("explain", "--policy", forced);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toContain("variant:");
    expect(r.stdout).toContain(`breaker:  key "localhost": the Host, no x-tandem-variant (key: upstream)`);
    expect(r.stdout).toContain("history:  mode forced_open keeps no state");
    expect(r.stdout).toContain("state:    not consulted (mode forced_open)");
    expect(r.stdout).toContain("decision: rejected: mode forced_open rejects every call");
    expect(r.stdout).toMatch(/answer: {3}no fallback: the gateway's own 503\n {10}content-type: text\/plain; charset=utf-8\n {10}body "circuit breaker open"/);
    expect(r.stdout).not.toMatch(/retry-after/i);
  });

  it("refuses an unknown --breaker-state, naming the accepted values", async () => {
    const r = await tandem("explain", "--policy", withRespond, "--breaker-state", "ajar");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`tandem: --breaker-state must be one of open, half_open, half_open_full, closed, got "ajar"`);
    expect(r.stdout).toBe("");
  });
});

// spec.experiments: tagging experiments (docs/policy.md "Tagging experiments").
describe("tagging experiments in the CLI", () => {
  const TAGGING = "deploy/examples/tagging.yaml";
  const TAGGING_TRACE = "deploy/examples/tagging.trace.jsonl";
  const specFile = (name: string, spec: unknown) => {
    const p = join(dir, name);
    writeFileSync(p, JSON.stringify({ apiVersion: "tandem.dev/v1alpha1", kind: "TrafficPolicy", metadata: { name: "t" }, spec }));
    return p;
  };

  it("validate accepts the example and rejects bad entries with the gateways' text", async () => {
    expect((await tandem("validate", TAGGING)).stdout).toContain("valid TrafficPolicy shop-tests (experiment, experiments)");
    const badFile = specFile("tags-bad.json", { experiment: CHECKOUT, experiments: [{ name: "recs", variants: [{ name: "A", weight: 50 }, { name: "B", weight: 60 }] }] });
    const bad = await tandem("validate", badFile);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim()).toBe(`${badFile}: experiments[0].variants: weights must sum to 100, got 110`);
    const aloneFile = specFile("tags-alone.json", { experiments: [{ name: "recs", variants: [{ name: "A", weight: 100 }] }] });
    const alone = await tandem("validate", aloneFile);
    expect(alone.stderr.trim()).toBe(`${aloneFile}: experiments: needs spec.experiment: tagging experiments use its user key and scope (to only tag, declare one with a single variant of weight 100)`);
  });

  it("render puts spec.experiments in the experiment plugin's config on both gateways", async () => {
    const out = join(dir, "tags-out");
    const r = await tandem("render", TAGGING, "--out", out);
    expect(r.code, r.stderr).toBe(0);
    const policy = parse(readFileSync(join(ROOT, TAGGING), "utf8"));
    // plus `policy` (metadata.name): the metrics' policy label, written by render (docs/metrics.md),
    // and `hasFaults: false` (the policy has no spec.faults: the filter reads no fault mark, docs/policy.md)
    const config = { ...policy.spec.experiment, experiments: policy.spec.experiments, policy: policy.metadata.name, hasFaults: false };
    const kong = parseAllDocuments(readFileSync(join(out, "kong.yaml"), "utf8")).map((d) => d.toJS());
    expect(kong.find((d) => d.plugin === "experiment").config).toEqual(config);
    const istio = parseAllDocuments(readFileSync(join(out, "istio.yaml"), "utf8")).map((d) => d.toJS());
    expect(istio.find((d) => d.kind === "WasmPlugin" && d.spec.pluginName === "experiment").spec.pluginConfig).toEqual(config);
  });

  it("simulate reports the tags header the request went upstream with, identically on every path", async () => {
    const out: Record<string, string[]> = {};
    for (const via of ["core", "kong", "envoy"]) {
      const r = await tandem("simulate", "--policy", TAGGING, "--trace", TAGGING_TRACE, "--via", via);
      expect(r.code, r.stderr).toBe(0);
      out[via] = r.stdout.trim().split("\n");
    }
    expect(out.kong).toEqual(out.core);
    // Envoy (an ingress gateway) draws new users' ids from its own x-request-id: --profile envoy
    const asEnvoy = await tandem("simulate", "--policy", TAGGING, "--trace", TAGGING_TRACE, "--via", "core", "--profile", "envoy");
    expect(out.envoy).toEqual(asEnvoy.stdout.trim().split("\n"));
    const lines = out.core.map((l) => JSON.parse(l));
    for (const l of out.core) expect(Object.keys(JSON.parse(l))).toEqual(["variant", "upstream", "action", "status", "breaker", "setCookie", "tags"]);
    expect(lines[0].tags).toMatch(/^recs=(popular|collab); pricing=(monthly-first|annual-first); layout=(grid|list)$/);
    expect(lines[2].tags).toContain("pricing=annual-first");            // x-plan: pro (a rule)
    expect(lines[1].tags.replace(/pricing=[^;]+/, "")).toBe(lines[2].tags.replace(/pricing=[^;]+/, "")); // same user
    expect(lines[4].tags).not.toBe("pricing=monthly-first");             // the client's copy replaced
    expect(lines[5].tags).toBeNull();                                     // out of scope
  }, 120_000);

  it("explain lists each tagging experiment's variant and why", async () => {
    const r = await tandem("explain", "--policy", TAGGING, "--path", "/shop/x", "--headers", "x-user-id: 42", "--headers", "x-plan: pro");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^tags: {5}recs=(popular|collab) \(split, bucket \d+ of 10000\)$/m);
    expect(r.stdout).toContain("pricing=annual-first (experiments[1].rules[0] matched)");
    expect(r.stdout).toMatch(/x-tandem-experiments: recs=\w+; pricing=annual-first; layout=(grid|list) \(client copies removed\)/);
  });
});
