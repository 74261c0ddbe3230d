// deploy/examples/game-day.yaml with its trace, as a user runs it: 10% of the canary's
// users get 1.5 s injected (scope: upstream, so the canary guard counts it as the
// upstream's latency), the guard's slow-call rule opens and the canary's users go back
// to stable — identically through the core, Kong and Envoy.
import { describe, expect, it } from "vitest";
import { tandem, simulateEveryWay } from "../support/cli-run";

const POLICY = "deploy/examples/game-day.yaml";
const TRACE = "deploy/examples/game-day.trace.jsonl";

interface Line { variant: string | null; guards: { canary: string }; fault: { kind: string; ms?: number } | null; latencyMs: number }

describe("game day example", () => {
  it("the injected delay rolls the canary back; the same through kong and envoy", async () => {
    const results = await simulateEveryWay(POLICY, TRACE);
    expect(results.kong).toBe(results["core/kong"]);
    expect(results.envoy).toBe(results["core/envoy"]);
    const lines = results["core/envoy"].trim().split("\n").map((l) => JSON.parse(l) as Line);
    const delayed = lines.filter((l) => l.fault !== null);
    expect(delayed.length).toBeGreaterThan(0);
    for (const l of delayed) expect(l).toMatchObject({ variant: "canary", fault: { kind: "delay", ms: 1500 }, latencyMs: 1510 });
    const opened = lines.findIndex((l) => l.guards.canary === "open");
    expect(opened).toBeGreaterThan(0);
    expect(lines[opened].fault).not.toBeNull();   // the delayed call tripped it
    expect(lines.slice(0, opened).some((l) => l.variant === "canary")).toBe(true);
    expect(lines.slice(opened + 1).every((l) => l.variant === "stable")).toBe(true);
  }, 600_000);
});

describe("game day example: tandem explain", () => {
  it("as the policy's comment suggests: user-359 is in the slowed cohort at 5 s, and why", async () => {
    const r = await tandem("explain", "--policy", POLICY, "--headers", "x-user-id: user-359", "--at", "5000");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("variant:  canary (upstream api-v2)");
    expect(r.stdout).toMatch(/fault: {4}faults\[0\] slow-canary: delay 1500 ms \(scope upstream\) — by user \(delay coin \d+ of 10000, applies below 1000\)/);
    const before = await tandem("explain", "--policy", POLICY, "--headers", "x-user-id: user-359", "--at", "1000");
    expect(before.stdout).toContain("fault:    faults[0] slow-canary does not apply: outside its schedule");
  }, 60_000);
});
