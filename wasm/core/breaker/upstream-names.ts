// `key: upstream` counts a request under the upstream its variant is sent to, named as
// the policy names it (the gateway-neutral name, ../config/upstreams.ts): two variants
// on one upstream share one breaker, and metrics, explain and simulate show `api-v2`,
// as the user configured it, not the variant `canary`.
//
// The plugin field `upstreamNames` ({variant: upstream}) is written by the plan
// (../plan.ts) from spec.experiment, into the breaker config of both gateways alike (Kong's
// `variantUpstreams`, renamed to Kong Upstream names for set_upstream, is another field).
// A variant it does not name (one without an upstream: the route's default) keeps its
// own name as key. Lookup: a linear scan of at most MAX_VARIANTS short byte strings per
// request, no allocation.
import { JType, JValue } from "../json/json";
import { Reader, join } from "../config/reader";
import { E_OBJECT, E_STRING, E_UPSTREAM_NAME } from "../config/errors";
import { Bytes, utf8 } from "../text/bytes";
import { BreakerSettings } from "./settings";
import { isUpstreamName } from "./fallback-config";

import { UPSTREAM_NAMES_FIELD } from "../contract";
// As many as an experiment has variants (../experiment/config.ts MAX_VARIANTS).
const MAX_ENTRIES = 32;

export function parseUpstreamNames(r: Reader, obj: JValue, path: string, s: BreakerSettings): void {
  const v = r.field(obj, UPSTREAM_NAMES_FIELD);
  if (v === null) return;
  const p = join(path, UPSTREAM_NAMES_FIELD);
  if (v.type != JType.Obj) { r.failRule(p, E_OBJECT, v); return; }
  if (v.keys.length > MAX_ENTRIES) { r.failText(p, "must have at most " + MAX_ENTRIES.toString() + " entries, got " + v.keys.length.toString()); return; }
  const variants = new StaticArray<StaticArray<u8>>(v.keys.length);
  const upstreams = new StaticArray<StaticArray<u8>>(v.keys.length);
  for (let i = 0; i < v.keys.length; i++) {
    const u = v.vals[i];
    const at = join(p, v.keys[i]);
    if (u.type != JType.Str) { r.failRule(at, E_STRING, u); return; }
    if (!isUpstreamName(u.s)) { r.failRule(at, E_UPSTREAM_NAME, u); return; }
    variants[i] = utf8(v.keys[i]);
    upstreams[i] = utf8(u.s);
  }
  s.keyVariants = variants;
  s.keyUpstreams = upstreams;
}

// `k` holds the request's variant: point it at that variant's upstream name, if named.
export function variantToUpstream(s: BreakerSettings, k: Bytes): void {
  const vs = s.keyVariants;
  for (let i = 0; i < vs.length; i++) {
    const name = unchecked(vs[i]);
    if (name.length == k.len && memory.compare(changetype<usize>(name), k.ptr, k.len) == 0) {
      const u = unchecked(s.keyUpstreams[i]);
      k.set(changetype<usize>(u), u.length);
      return;
    }
  }
}
