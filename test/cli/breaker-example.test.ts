// deploy/examples/circuit-breaker.yaml with its trace, as a user runs it: api-v2 (the
// canary's upstream) fails from t=5 s to t=12 s; the breaker on the canary's key opens,
// the fallback answers the canary's users, a failed probe re-opens it, and it closes
// once api-v2 answers again — identically through the core, Kong and Envoy.
import { describe, expect, it } from "vitest";
import { tandem, simulateEveryWay } from "../support/cli-run";

const POLICY = "deploy/examples/circuit-breaker.yaml";
const TRACE = "deploy/examples/circuit-breaker.trace.jsonl";
const T_GAP = 50;   // ms between the trace's requests

interface Line { variant: string | null; action: string; status: number; breaker: string | null }

describe("circuit breaker example", () => {
  it("opens while the canary fails, answers with the fallback, probes and closes; the same through kong and envoy", async () => {
    const results = await simulateEveryWay(POLICY, TRACE);
    expect(results.kong).toBe(results["core/kong"]);
    expect(results.envoy).toBe(results["core/envoy"]);
    const lines = results["core/envoy"].trim().split("\n").map((l) => JSON.parse(l) as Line);
    const at = (ms: number) => lines[ms / T_GAP];
    const between = (from: number, to: number) => lines.slice(from / T_GAP, to / T_GAP);
    // healthy: every request forwarded and answered 200
    expect(between(0, 5000).every((l) => l.action === "forward" && l.status === 200)).toBe(true);
    // open: the canary's users get the fallback (503, no upstream), stable's are served
    const open = between(7500, 10000);
    expect(open.filter((l) => l.action === "fallback").length).toBeGreaterThan(5);
    expect(open.filter((l) => l.action === "fallback").every((l) => l.status === 503 && l.breaker === "open")).toBe(true);
    expect(open.filter((l) => l.variant === "stable").every((l) => l.status === 200)).toBe(true);
    // half-open and closed again once api-v2 answers 200
    expect(new Set(lines.map((l) => l.breaker))).toEqual(new Set(["closed", "open", "half_open"]));
    expect(between(15000, 30000).every((l) => l.action === "forward" && l.status === 200 && l.breaker === "closed")).toBe(true);
    expect(at(0).variant).not.toBeNull();
  }, 300_000);

  it("tandem explain, as the policy's comment suggests: the canary user is answered by the fallback at 9 s", async () => {
    const r = await tandem("explain", "--policy", POLICY, "--headers", "x-user-id: user-1", "--trace", TRACE, "--at", "9000");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("variant:  canary (upstream api-v2)");
    expect(r.stdout).toMatch(/state: {4}open since t=\d+ \(failure_rate/);
    expect(r.stdout).toMatch(/decision: rejected: open until t=\d+ \(Retry-After \d+ s\)/);
    expect(r.stdout).toContain("answer:   fallback.respond 503");
  }, 60_000);
});
