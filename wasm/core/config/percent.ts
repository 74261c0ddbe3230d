// A required `percent` field: 0-100 with at most 2 decimals, as basis points (100% =
// 10000). One reader for every such share (faults' delay and abort, the decision log),
// so each refuses with the same path and texts.
import { JValue } from "../json/json";
import { Reader, join } from "./reader";
import { E_PERCENT, E_PERCENT_DECIMALS } from "./errors";

export const PERCENT_BP_ALL = 10000;

export function requiredPercentBp(r: Reader, o: JValue, p: string): i32 {
  const w = r.num(o, "percent", p, 0, true);
  if (r.failed) return 0;
  if (!(w >= 0 && w <= 100)) { r.failRule(join(p, "percent"), E_PERCENT, o.get("percent")); return 0; }
  const bp = Math.round(w * 100);
  if (Math.abs(w * 100 - bp) > 1e-6) { r.failRule(join(p, "percent"), E_PERCENT_DECIMALS, o.get("percent")); return 0; }
  return min(<i32>bp, PERCENT_BP_ALL);
}
