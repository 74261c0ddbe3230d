// What a `reroute` fallback does to a request the breaker rejected, resolved once at
// configure time so the adapters apply it without deciding anything:
//   variant   the value of x-tandem-variant to set (reroute.variant); "" none
//   upstream  the upstream to choose: reroute.upstream, or for reroute.variant that
//             variant's upstream from `variantUpstreams`; "" keeps the request's own
// How an adapter chooses an upstream is its own: Kong calls set_upstream (it routes
// before plugins run, so a variant needs its Kong Upstream: Kong's copy of the config
// carries `variantUpstreams`, ../contract.ts); Envoy sets x-tandem-upstream, or for a
// variant the variant header, which its route table matches (Envoy's copy has no
// `variantUpstreams`: the route picks the variant's subset). The simulator's core
// driver applies it as Kong does. Core only: the Envoy filter reads the fallback's
// settings (wasm/filter/breaker-filter.ts), never this.
import { JType, JValue } from "../json/json";
import { jsonText } from "../json/write";
import { Reader, join } from "../config/reader";
import { E_OBJECT, E_STRING, E_UPSTREAM_NAME } from "../config/errors";
import { FallbackKind, FallbackSettings } from "./settings";
import { isUpstreamName } from "./fallback-config";
import { VARIANT_UPSTREAMS_FIELD } from "../contract-kong";

export class Reroute {
  variant: string = "";
  upstream: string = "";
}

// Takes Kong's `variantUpstreams` out of plugin config `v` (what stays is the config
// both gateways share, ./config.ts parseBreakerPlugin) and checks it: null when absent
// (Kong stores an unset map as null) or bad (then `r` says why).
export function takeVariantUpstreams(r: Reader, v: JValue | null): JValue | null {
  if (v === null || v.type != JType.Obj) return null;
  const i = v.keys.indexOf(VARIANT_UPSTREAMS_FIELD);
  if (i < 0) return null;
  const vu = v.vals[i];
  v.keys.splice(i, 1);
  v.vals.splice(i, 1);
  if (vu.type == JType.Null) return null;
  if (vu.type != JType.Obj) { r.failRule(VARIANT_UPSTREAMS_FIELD, E_OBJECT, vu); return null; }
  for (let k = 0; k < vu.keys.length; k++) {
    const u = vu.vals[k];
    const at = join(VARIANT_UPSTREAMS_FIELD, vu.keys[k]);
    if (u.type != JType.Str) { r.failRule(at, E_STRING, u); return null; }
    if (!isUpstreamName(u.s)) { r.failRule(at, E_UPSTREAM_NAME, u); return null; }
  }
  return vu;
}

// The reroute of fallback `f` (null: it has none), with `variantUpstreams` `vu`.
export function resolveReroute(f: FallbackSettings | null, vu: JValue | null): Reroute | null {
  if (f === null || f.kind != FallbackKind.Reroute) return null;
  const x = new Reroute();
  if (f.variant.length == 0) {
    x.upstream = f.upstream;
    return x;
  }
  x.variant = f.variant;
  const u = vu !== null ? vu.get(f.variant) : null;
  if (u !== null) x.upstream = u.s;
  return x;
}

// As the breaker plan describes it: {"variant": name | null, "upstream": name | null}, or null.
export function describeReroute(x: Reroute | null): string {
  if (x === null) return "null";
  return "{\"variant\":" + (x.variant.length > 0 ? jsonText(x.variant) : "null") +
    ",\"upstream\":" + (x.upstream.length > 0 ? jsonText(x.upstream) : "null") + "}";
}
