// Entry point that turns the `circuit-breaker` plugin / root id configuration (the
// circuitBreaker fields plus an optional `fallback` object, as cli/render.ts renders
// it) into settings, for the Envoy filter. Same parser (parseBreakerPlugin) and the
// same message text as every other path, so a config is accepted or rejected alike on
// both gateways.
import { JsonResult } from "../json/json";
import { Reader, under } from "../config/reader";
import { E_DEPTH, E_JSON, ruleText } from "../config/errors";
import { BREAKER_SECTION, FALLBACK_SECTION, parseBreakerPlugin } from "./config";
import { BreakerSettings } from "./settings";

export class BreakerResult {
  settings: BreakerSettings | null = null;
  error: string = "";
}

// `j`: the config parsed (parseJson); the Node side's core takes Kong's own fields out
// of it first (./plugin-config.ts).
export function configureBreakerSettings(j: JsonResult): BreakerResult {
  const out = new BreakerResult();
  if (j.value === null) {
    // Worded as wasm/core/policy.ts words it for every configuration; a value nested too
    // deep is named as the policy names it (circuitBreaker.x, fallback.x).
    if (!j.tooDeep) out.error = ruleText(E_JSON) + ": " + j.error;
    else {
      const p = j.deepPath;
      const f = p == FALLBACK_SECTION || p.startsWith(FALLBACK_SECTION + ".");
      out.error = (f ? p : under(BREAKER_SECTION, p)) + ": " + ruleText(E_DEPTH);
    }
    return out;
  }
  const r = new Reader();
  const s = parseBreakerPlugin(r, j.value);
  if (r.failed || s === null) { out.error = r.error; return out; }
  out.settings = s;
  return out;
}
