// `tandem validate` warns (one line, exit code unchanged) when a policy that speaks of
// gRPC keys its experiment on cookies alone: gRPC clients keep none.
import { afterAll, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { validateWarnings } from "../../cli/validate-warnings";
import type { PolicyDoc } from "../../cli/policy-file";
import { CLI, ROOT, requireBuilt } from "../support/dist";

const VARIANTS = [{ name: "stable", weight: 90 }, { name: "canary", weight: 10 }];
const BREAKER_GRPC = { key: "route", failure: { grpcStatuses: [14] } };
function doc(spec: Record<string, unknown>): PolicyDoc {
  return { apiVersion: "tandem.dev/v1alpha1", kind: "TrafficPolicy", metadata: { name: "g" }, spec } as PolicyDoc;
}

describe("validateWarnings", () => {
  it("warns for cookie-only sources (default or explicit) when the policy configures gRPC outcomes or answers", () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ experiment: { name: "e", variants: VARIANTS }, circuitBreaker: BREAKER_GRPC }, "circuitBreaker.failure.grpcStatuses is set"],
      [{ experiment: { name: "e", stickiness: { sources: ["cookie:a", "cookie:b"] }, variants: VARIANTS }, fallback: { respond: { status: 503, grpcStatus: 14 } } }, "fallback.respond.grpcStatus is set"],
      [{ experiment: { name: "e", variants: [VARIANTS[0], { ...VARIANTS[1], guard: { failure: { grpcStatuses: [13] }, to: "stable" } }] } }, "experiment.variants[1].guard.failure.grpcStatuses is set"],
      [{ experiment: { name: "e", variants: VARIANTS, rules: [{ match: { header: { "Content-Type": { prefix: "application/grpc" } } }, variant: "canary" }] } }, "experiment.rules[0].match.header.Content-Type matches gRPC"],
    ];
    for (const [spec, why] of cases) {
      const w = validateWarnings(doc(spec));
      expect(w).toHaveLength(1);
      expect(w[0]).toContain(`(${why})`);
      expect(w[0]).toMatch(/^experiment\.stickiness\.sources: only cookie sources, but the policy serves gRPC .*add a header: source/);
      expect(w[0]).not.toContain("\n");
    }
  });

  it("is silent with a header source, without gRPC in the policy, or without an experiment", () => {
    expect(validateWarnings(doc({ experiment: { name: "e", stickiness: { sources: ["cookie:a", "header:x-user-id"] }, variants: VARIANTS }, circuitBreaker: BREAKER_GRPC }))).toEqual([]);
    expect(validateWarnings(doc({ experiment: { name: "e", variants: VARIANTS }, circuitBreaker: { key: "route" } }))).toEqual([]);
    expect(validateWarnings(doc({ experiment: { name: "e", variants: VARIANTS, rules: [{ match: { header: { "content-type": { exact: "application/json" } } }, variant: "canary" }] } }))).toEqual([]);
    expect(validateWarnings(doc({ circuitBreaker: BREAKER_GRPC }))).toEqual([]);
  });
});

describe("tandem validate prints it", () => {
  const dir = mkdtempSync(join(tmpdir(), "tandem-vw-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const run = (file: string) => new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, [requireBuilt(CLI), "validate", file], { cwd: ROOT, timeout: 120_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr }));
  });

  it("one warning line on stderr, exit 0, the usual line on stdout", async () => {
    const p = join(dir, "grpc.json");
    writeFileSync(p, JSON.stringify(doc({ experiment: { name: "e", variants: VARIANTS }, circuitBreaker: BREAKER_GRPC })));
    const r = await run(p);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${p}: valid TrafficPolicy g (experiment, circuitBreaker)\n`);
    expect(r.stderr).toBe(`tandem: warning: ${p}: ${validateWarnings(doc({ experiment: { name: "e", variants: VARIANTS }, circuitBreaker: BREAKER_GRPC }))[0]}\n`);
  }, 120_000);

  it("nothing on stderr for the same policy with a header source", async () => {
    const p = join(dir, "grpc-header.json");
    writeFileSync(p, JSON.stringify(doc({ experiment: { name: "e", stickiness: { sources: ["header:x-user-id", "cookie:tandem-uid"], cookie: { name: "tandem-uid" } }, variants: VARIANTS }, circuitBreaker: BREAKER_GRPC })));
    const r = await run(p);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
  }, 120_000);
});
