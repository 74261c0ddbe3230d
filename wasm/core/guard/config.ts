// Parsing of a canary guard (`guard` on a variant of spec.experiment) into
// GuardSettings. A guard is a circuit breaker on the variant's outcomes: the same
// fields, checks and texts as spec.circuitBreaker (../breaker/config.ts), with
// `cooldownMs` for openDurationMs, one state per guarded variant (no key, no maxKeys)
// and no openBackoff, plus `to`: where the variant's users go while it is open.
//
//   guard: { window, minimumCalls, failureRateThreshold, slowCallDurationMs,
//            slowCallRateThreshold, consecutiveFailures, cooldownMs, halfOpen, failure,
//            mode, to }
import { JValue } from "../json/json";
import { Reader, join } from "../config/reader";
import { E_GUARD_TO, E_UNKNOWN_VARIANT, ruleText } from "../config/errors";
import { parseFields } from "../breaker/config";
import { KeyKind } from "../breaker/settings";
import { GuardSettings, Variant } from "../experiment/settings";

const GUARD_KEYS: StaticArray<string> = [
  "window", "minimumCalls", "failureRateThreshold", "slowCallDurationMs", "slowCallRateThreshold",
  "consecutiveFailures", "cooldownMs", "halfOpen", "failure", "mode", "to",
];

// The guard of variant `vi` at `path` ("experiment.variants[1].guard"). `to` defaults
// to the first variant (by convention the stable one).
export function parseGuard(r: Reader, v: JValue, path: string, vi: i32, variants: StaticArray<Variant>, guarded: StaticArray<bool>): GuardSettings | null {
  const b = parseFields(r, v, path, GUARD_KEYS, "cooldownMs");
  if (b === null || r.failed) return null;
  b.keyKind = KeyKind.Route;
  b.maxKeys = 1;
  const toName = r.str(v, "to", path, variants[0].name) as string;
  if (r.failed) return null;
  let to = -1;
  for (let i = 0; i < variants.length; i++) if (variants[i].name == toName) to = i;
  if (to < 0) { r.failRule(join(path, "to"), E_UNKNOWN_VARIANT, v.get("to")); return null; }
  if (to == vi || guarded[to]) {
    const shown = v.get("to");
    if (shown !== null) r.failRule(join(path, "to"), E_GUARD_TO, shown);
    else r.failText(join(path, "to"), ruleText(E_GUARD_TO) + ", got the default " + toName + " (the first variant)");
    return null;
  }
  return new GuardSettings(b, vi, to);
}
