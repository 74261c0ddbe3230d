// `simulate --via kong|envoy` on a loaded machine: an upstream answer that is slow in
// real time (the scripted upstream runs on the same 2 cores as everything else) must
// still count as the trace's answer, never as the gateway's upstream timeout; a line
// whose trace says `timeout` must still time out. Latency stays virtual either way.
import { afterEach, describe, expect, it } from "vitest";
import { simulate } from "../../cli/simulate/run";
import { ScriptedUpstreams } from "../../cli/simulate/scripted-upstream";
const SIM_TIMEOUT_MS = 300;
import type { PolicyDoc } from "../../cli/policy-file";
import type { TraceRequest } from "../../cli/simulate/trace";

const POLICY: PolicyDoc = {
  apiVersion: "tandem.dev/v1alpha1", kind: "TrafficPolicy", metadata: { name: "slow-answer" },
  spec: {
    experiment: {
      name: "checkout",
      stickiness: { sources: ["header:x-user-id"] },
      variants: [{ name: "stable", weight: 50, upstream: "api-v1" }, { name: "canary", weight: 50, upstream: "api-v2" }],
    },
    circuitBreaker: { key: "upstream", consecutiveFailures: 1000, failure: { statuses: ["5xx"], errors: ["connect", "reset", "timeout"] } },
  },
} as PolicyDoc;

const TRACE: TraceRequest[] = [
  { line: 1, t: 0, method: "GET", path: "/cart", headers: { "x-user-id": "u1" }, upstream: { status: 200, latencyMs: 20 } },
  { line: 2, t: 1000, method: "GET", path: "/cart", headers: { "x-user-id": "u2" }, upstream: { error: "timeout", latencyMs: 250 } },
  { line: 3, t: 2000, method: "GET", path: "/cart", headers: { "x-user-id": "u3" }, upstream: { status: 200, latencyMs: 20 } },
];

// Every scripted answer is held back this long in real time: well past SIM_TIMEOUT_MS.
const REAL_DELAY_MS = SIM_TIMEOUT_MS + 400;
type Answer = (name: string, req: unknown, res: unknown) => Promise<void>;
const proto = ScriptedUpstreams.prototype as unknown as { answer: Answer };
const original = proto.answer;
afterEach(() => { proto.answer = original; });

describe.each(["kong", "envoy"] as const)("simulate --via %s with a slow machine", (via) => {
  it("takes a slow answer as the answer and still times out a `timeout` line", async () => {
    proto.answer = async function (this: ScriptedUpstreams, name, req, res) {
      await new Promise((r) => setTimeout(r, REAL_DELAY_MS));
      return original.call(this, name, req, res);
    };
    const lines = await simulate(via, POLICY, TRACE, () => {});
    expect(lines.map((l) => l.status)).toEqual([200, 504, 200]);
    expect(lines.map((l) => l.action)).toEqual(["forward", "forward", "forward"]);
  }, 120_000);
});
