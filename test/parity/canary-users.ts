// Users the split sends to the canary (variant 1) while its guard is closed: the first
// `n` of u0, u1, … keyed by `x-user-id`, as the core decides them. Shared by the stream
// and WebSocket parity cases, which need canary users to exercise a guard.
import type { PolicyDoc } from "../../cli/policy-file";
import { loadCore } from "../support/dist";
import { answerNeeds } from "../../core-js/answer-needs";

export function canaryUsers(policy: PolicyDoc, n: number): string[] {
  const core = loadCore();
  const ex = policy.spec.experiment as { variants: Array<Record<string, unknown>> };
  const plan = core.configureExperiment(JSON.stringify({ ...ex, variants: ex.variants.map(({ name, weight }) => ({ name, weight })) }));
  const out: string[] = [];
  for (let i = 0; out.length < n; i++) {
    if (core.decideExperiment(plan, answerNeeds(plan.needs, { headers: { "x-user-id": `u${i}`, host: "localhost" } }), 0).variant === 1) out.push(`u${i}`);
  }
  core.release(plan);
  return out;
}
