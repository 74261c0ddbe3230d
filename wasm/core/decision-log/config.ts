// spec.experiment.decisionLog: { percent } — the sampled decision log (./line.ts), off
// when absent. Read by parseExperiment, so `tandem validate`, the Kong experiment plugin
// and the Envoy experiment filter refuse the same input with the same path and text.
import { JValue } from "../json/json";
import { Reader, join } from "../config/reader";
import { requiredPercentBp } from "../config/percent";

export const DECISION_LOG_FIELD = "decisionLog";
const DECISION_LOG_KEYS: StaticArray<string> = ["percent"];

// The share of decided requests logged, in basis points (0: off, LOG_BP_ALL: every one).
// percent: 0-100 with at most 2 decimals (as faults' percent), required.
export function parseDecisionLog(r: Reader, obj: JValue, path: string): i32 {
  const o = r.obj(obj, DECISION_LOG_FIELD, path, DECISION_LOG_KEYS);
  if (r.failed || o === null) return 0;
  return requiredPercentBp(r, o, join(path, DECISION_LOG_FIELD));
}
