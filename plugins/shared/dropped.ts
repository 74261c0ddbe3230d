// The plugin server's outcome ledger (./outcome-ledger.ts): one per process (module
// scope, shared by every instance and every Kong worker), counted into
// tandem_outcomes_dropped_total when metrics are on, swept before each scrape.
import { randomInt } from "node:crypto";
import { OutcomeLedger, OUTCOME_DEADLINE_ENV, outcomeDeadlineMs } from "./outcome-ledger";
import { kongMetrics } from "./metrics";

const ledgers = new Map<string, OutcomeLedger>();

export function outcomeLedger(plugin: string): OutcomeLedger {
  let l = ledgers.get(plugin);
  if (l) return l;
  let deadline = outcomeDeadlineMs(process.env[OUTCOME_DEADLINE_ENV]);
  if (typeof deadline === "string") {
    process.stderr.write(deadline + "\n");
    deadline = outcomeDeadlineMs(undefined) as number;
  }
  const m = kongMetrics();
  l = new OutcomeLedger(deadline, (policy) => m?.outcomeDropped(policy, plugin), randomInt(0, 2 ** 30));
  const ledger = l;
  m?.onScrape(() => ledger.sweep(Date.now()));
  ledgers.set(plugin, l);
  return l;
}
