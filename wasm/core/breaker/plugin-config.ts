// The `circuit-breaker` plugin config as the Node side's core reads it (the Kong plugin,
// `tandem simulate --via core`, `tandem validate`): the circuitBreaker fields plus an
// optional `fallback` (cli/render.ts), and on Kong `variantUpstreams`, which resolves a
// reroute's upstream (./reroute.ts). Same parser and texts as the Envoy filter's
// (./policy.ts configureBreakerSettings, which knows no Kong field). A file apart from
// ../policy.ts so the filter, which imports that one, does not carry this.
import { parseJson } from "../json/json";
import { Reader } from "../config/reader";
import { configureBreakerSettings } from "./policy";
import { BreakerSettings } from "./settings";
import { Reroute, resolveReroute, takeVariantUpstreams } from "./reroute";

export class BreakerPluginResult {
  settings: BreakerSettings | null = null;
  error: string = "";
  reroute: Reroute | null = null;   // the reroute fallback's effects (./reroute.ts)
}

// Settings and the reroute resolved, or the error text.
export function configureBreakerPlugin(text: string): BreakerPluginResult {
  const j = parseJson(text);
  const r = new Reader();
  const vu = takeVariantUpstreams(r, j.value);
  const out = new BreakerPluginResult();
  const res = configureBreakerSettings(j);
  out.error = res.error.length > 0 ? res.error : r.error;
  if (out.error.length > 0) return out;
  const s = res.settings as BreakerSettings;
  out.settings = s;
  out.reroute = resolveReroute(s.fallback, vu);
  return out;
}

// The same, when only the verdict matters: "" when valid, else the error text.
export function configureBreaker(text: string): string {
  return configureBreakerPlugin(text).error;
}
