// deploy/examples/canary-guard.yaml with its trace, as a user runs it: the canary's
// users go to stable while api-v2 fails (t 5-15 s) and come back after the cooldown,
// identically through the core and the Envoy path; the trace file's per-upstream
// answers ("upstreams") are validated.
import { afterAll, describe, expect, it } from "vitest";
import { tandem } from "../support/cli-run";
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLI, ROOT } from "../support/dist";

// Temp folders of this file, removed when it ends.
const dirs: string[] = [];
const tempDir = () => { const d = mkdtempSync(join(tmpdir(), "tandem-guard-")); dirs.push(d); return d; };
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

const POLICY = "deploy/examples/canary-guard.yaml";
const TRACE = "deploy/examples/canary-guard.trace.jsonl";
const T_GAP = 100;   // ms between the trace's requests

async function firstCanaryUser(): Promise<string | null> {
  for (let u = 0; u < 60; u++) {
    const r = await tandem("explain", "--policy", POLICY, "--headers", `x-user-id: user-${u}`, "--at", "0");
    if (r.stdout.includes("variant:  canary")) return `user-${u}`;
  }
  return null;
}

describe("canary guard example", () => {
  it("rolls back while the canary fails and recovers after the cooldown, the same through envoy", async () => {
    const core = await tandem("simulate", "--policy", POLICY, "--trace", TRACE, "--profile", "envoy");
    expect(core.code).toBe(0);
    const lines = core.stdout.trim().split("\n").map((l) => JSON.parse(l) as { variant: string; status: number });
    const canary = (from: number, to: number) => lines.slice(from / T_GAP, to / T_GAP).filter((l) => l.variant === "canary").length;
    expect(canary(0, 5000)).toBeGreaterThan(5);            // 20% of 50 requests, give or take
    expect(canary(8000, 15000)).toBeLessThanOrEqual(3);    // rolled back: at most the half-open probes
    expect(lines.slice(8000 / T_GAP, 15000 / T_GAP).filter((l) => l.status === 503).length).toBeLessThanOrEqual(3);
    expect(canary(26000, 30000)).toBeGreaterThan(3);       // back after cooldown + probes
    const envoy = await tandem("simulate", "--policy", POLICY, "--trace", TRACE, "--via", "envoy");
    expect(envoy.code).toBe(0);
    expect(envoy.stdout).toBe(core.stdout);
  }, 180_000);

  it("rejects a bad per-upstream answer in a trace with its line and field", async () => {
    const dir = tempDir();
    const t = join(dir, "bad.jsonl");
    writeFileSync(t, JSON.stringify({ t: 0, upstreams: { "api-v2": { status: 99 } } }) + "\n");
    const r = await tandem("simulate", "--policy", POLICY, "--trace", t);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`${t}:1: upstreams.api-v2.status: must be an HTTP status 100-599, got 99`);
  });

  it("tandem explain names the guard a canary user's request passes", async () => {
    // the first canary user of the example (found by asking the CLI, not assumed)
    let line = "";
    for (let u = 0; u < 60 && !line; u++) {
      const r = await tandem("explain", "--policy", POLICY, "--headers", `x-user-id: user-${u}`, "--at", "0");
      expect(r.code).toBe(0);
      line = r.stdout.split("\n").find((l) => l.startsWith("guard:")) ?? "";
      if (line) expect(r.stdout).toContain("variant:  canary (upstream api-v2)");
    }
    expect(line).toBe("guard:    canary's canary guard (mode enforce) is closed: admitted; its outcome counts in the guard's window");
    // after the first 10 s of the trace (the canary failing since 5 s) the same user is rolled back
    const user = (await firstCanaryUser())!;
    const dir = tempDir();
    const t = join(dir, "first10s.jsonl");
    writeFileSync(t, readFileSync(join(ROOT, TRACE), "utf8").split("\n").slice(0, 100).join("\n") + "\n");
    const r = await tandem("explain", "--policy", POLICY, "--headers", `x-user-id: ${user}`, "--trace", t);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("variant:  stable (upstream api-v1)");
    expect(r.stdout).toContain("reason:   guard (");
    expect(r.stdout).toContain("guard:    canary's canary guard (mode enforce) is open: rolled back to stable");
    // The whole trace (its guard has recovered by its end) with an earlier --at: only the
    // calls over by then are replayed — at 10 s the guard is open, at 4 s (before the
    // canary fails) closed.
    const during = await tandem("explain", "--policy", POLICY, "--headers", `x-user-id: ${user}`, "--trace", TRACE, "--at", "10000");
    expect(during.code, during.stderr).toBe(0);
    expect(during.stdout).toContain("guard:    canary's canary guard (mode enforce) is open: rolled back to stable");
    const whole = await tandem("explain", "--policy", POLICY, "--headers", `x-user-id: ${user}`, "--trace", TRACE);
    expect(whole.stdout).toContain("variant:  canary (upstream api-v2)");
    const early = await tandem("explain", "--policy", POLICY, "--headers", `x-user-id: ${user}`, "--trace", TRACE, "--at", "4000");
    expect(early.code, early.stderr).toBe(0);
    expect(early.stdout).toContain("variant:  canary (upstream api-v2)");
    expect(early.stdout).toContain("guard:    canary's canary guard (mode enforce) is closed");
  }, 180_000);
});
