// spec.experiment.decisionLog: { percent } — the sampled decision log (./line.ts), off
// when absent. Read by parseExperiment, so `tandem validate`, the Kong experiment plugin
// and the Envoy experiment filter refuse the same input with the same path and text.
import { JValue } from "../json/json";
import { Reader, join } from "../config/reader";
import { E_PERCENT, E_PERCENT_DECIMALS } from "../config/errors";
import { LOG_BP_ALL } from "./sample";

export const DECISION_LOG_FIELD = "decisionLog";
const DECISION_LOG_KEYS: StaticArray<string> = ["percent"];

// The share of decided requests logged, in basis points (0: off, LOG_BP_ALL: every one).
// percent: 0-100 with at most 2 decimals (as faults' percent), required.
export function parseDecisionLog(r: Reader, obj: JValue, path: string): i32 {
  const o = r.obj(obj, DECISION_LOG_FIELD, path, DECISION_LOG_KEYS);
  if (r.failed || o === null) return 0;
  const p = join(path, DECISION_LOG_FIELD);
  const w = r.num(o, "percent", p, 0, true);
  if (r.failed) return 0;
  if (!(w >= 0 && w <= 100)) { r.failRule(join(p, "percent"), E_PERCENT, o.get("percent")); return 0; }
  const bp = Math.round(w * 100);
  if (Math.abs(w * 100 - bp) > 1e-6) { r.failRule(join(p, "percent"), E_PERCENT_DECIMALS, o.get("percent")); return 0; }
  return min(<i32>bp, LOG_BP_ALL);
}
