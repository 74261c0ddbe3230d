// `tandem explain`'s fault section (spec.faults): which fault applies to the request as
// the experiment and breaker passed it on, and why; for each earlier fault, why not.
import { answerNeeds } from "../../core-js/answer-needs";
import { FAULT_WHY, FAULT_WHY_HEADER, FAULT_WHY_PERCENT, type TandemCore } from "../../core-js/tandem-core";
import { partConfig } from "../policy-plan";
import type { PolicyDoc } from "../policy-file";

interface RequestFacts { path: string; method: string; ip: string }

export function explainFaults(core: TandemCore, policy: PolicyDoc, headers: Record<string, string>, req: RequestFacts, now: number): string[] {
  const plan = core.configureFaults(JSON.stringify(partConfig(policy, "fault-injection")));
  try {
    const d = core.decideFault(plan, answerNeeds(plan.needs, { ...req, headers, requestId: null }), now);
    const out: string[] = [];
    for (let i = 0; i < plan.faults.length; i++) {
      const f = plan.faults[i];
      const t = core.faultTrace(plan, i);
      if (i === d.fault) {
        const what = [d.delayMs !== null ? `delay ${d.delayMs} ms` : null, d.abortStatus !== null ? `abort ${d.abortStatus}` : null].filter(Boolean).join(", then ");
        const coin = (kind: string, b: number, pct: number) => (b < 0 ? null : pct >= 100 ? `${kind}: percent 100` : `${kind} coin ${b} of 10000, applies below ${Math.round(pct * 100)}`);
        const coins = [coin("delay", t.delayBucket, f.delayPercent), coin("abort", t.abortBucket, f.abortPercent)].filter(Boolean).join("; ");
        const why = d.reason === FAULT_WHY_HEADER ? "a verified control token asked for it" : d.reason === FAULT_WHY_PERCENT ? `by ${f.by}${coins ? ` (${coins})` : ""}` : FAULT_WHY[d.reason];
        out.push(`fault:    faults[${i}] ${f.name}: ${what} (scope ${f.scope}) — ${why}`);
        break;
      }
      if (d.needsEntropy && i === plan.faults.length - 1) break;
      out.push(`fault:    faults[${i}] ${f.name} does not apply: ${FAULT_WHY[t.why]}`);
    }
    if (d.needsEntropy) out.push("fault:    a coin needs the request id: pass --headers 'x-request-id: <id>' (Kong: its own request id)");
    else if (d.fault < 0) out.push("fault:    none applies");
    if (d.strip) out.push(`effects:  remove ${plan.strip.join(", ")}`);
    return out;
  } finally {
    core.releaseFaults(plan);
  }
}
