// JSON descriptions of breaker settings and states, for `tandem simulate` output,
// `tandem explain`, tests and adapters' logs. Allocates: not for the hot path.
import { formatBp } from "../config/reader";
import { quote } from "../config/reader";
import {
  BreakerMode, BreakerSettings, FallbackKind, FallbackSettings, KeyKind, WindowType,
} from "./settings";
import { BreakerState, stateName } from "./state";
import { TRANSITION_NAMES } from "../contract-names";
import { describeCache } from "../cache/describe";

export function modeName(m: BreakerMode): string {
  if (m == BreakerMode.DryRun) return "dry_run";
  if (m == BreakerMode.ForcedOpen) return "forced_open";
  if (m == BreakerMode.ForcedClosed) return "forced_closed";
  return "enforce";
}

// Whole numbers without ".0"; others as AssemblyScript prints them (valid JSON).
export function num(x: f64): string {
  if (x == Math.floor(x) && Math.abs(x) < 9007199254740992) return (<i64>x).toString();
  return x.toString();
}

function list(a: Array<string>): string {
  let o = "[";
  for (let i = 0; i < a.length; i++) o += (i > 0 ? "," : "") + quote(a[i]);
  return o + "]";
}

function ints(a: Array<i32>): string {
  let o = "[";
  for (let i = 0; i < a.length; i++) o += (i > 0 ? "," : "") + a[i].toString();
  return o + "]";
}

export function describeSettings(s: BreakerSettings): string {
  let key = "upstream";
  if (s.keyKind == KeyKind.Route) key = "route";
  else if (s.keyKind == KeyKind.Header) key = "header:" + s.keyHeader;
  let o = "{\"key\":" + quote(key) + ",\"maxKeys\":" + s.maxKeys.toString();
  if (s.windowType == WindowType.Count) o += ",\"window\":{\"type\":\"count\",\"size\":" + s.windowSize.toString() + "}";
  else o += ",\"window\":{\"type\":\"time\",\"sizeMs\":" + num(s.windowSizeMs) + ",\"buckets\":" + s.buckets.toString() + ",\"bucketMs\":" + num(s.bucketMs) + "}";
  o += ",\"minimumCalls\":" + s.minimumCalls.toString();
  o += ",\"effectiveMinimumCalls\":" + s.effectiveMinimumCalls.toString();
  o += ",\"failureRateThreshold\":" + formatBp(<i32>s.failureRateBp);
  o += ",\"slowCallDurationMs\":" + num(s.slowCallDurationMs);
  o += ",\"slowCallRateThreshold\":" + formatBp(<i32>s.slowRateBp);
  o += ",\"consecutiveFailures\":" + s.consecutiveFailures.toString();
  o += ",\"openDurationMs\":" + num(s.openDurationMs);
  o += ",\"openBackoff\":{\"multiplier\":" + num(s.backoffMultiplier) + ",\"maxMs\":" + num(s.backoffMaxMs) + "}";
  o += ",\"halfOpen\":{\"permittedCalls\":" + s.permittedCalls.toString() + ",\"maxWaitMs\":" + num(s.maxWaitMs) + "}";
  o += ",\"failure\":{\"statuses\":" + list(s.statuses) + ",\"ignoreStatuses\":" + list(s.ignoreStatuses) + ",\"errors\":" + list(s.errors) + ",\"grpcStatuses\":" + ints(s.grpcStatuses) + "}";
  o += ",\"mode\":\"" + modeName(s.mode) + "\"";
  const f = s.fallback;
  o += ",\"fallback\":" + (f === null ? "null" : describeFallback(f));
  return o + "}";
}

export function describeFallback(f: FallbackSettings): string {
  let o = "{";
  if (f.kind == FallbackKind.Respond) {
    o += "\"respond\":{\"status\":" + f.status.toString() + ",\"headers\":{";
    for (let i = 0; i < f.headers.length; i++) {
      o += (i > 0 ? "," : "") + quote(f.headers[i].name) + ":" + quote(f.headers[i].value);
    }
    o += "},\"bodyBytes\":" + f.bodyBytes.length.toString() + ",\"contentType\":" + quote(f.contentType);
    o += ",\"retryAfter\":" + (f.retryAfter ? "true" : "false") + ",\"grpcStatus\":" + f.grpcStatus.toString() + "}";
  } else if (f.kind == FallbackKind.Reroute) {
    o += "\"reroute\":" + (f.variant.length > 0 ? "{\"variant\":" + quote(f.variant) + "}" : "{\"upstream\":" + quote(f.upstream) + "}");
  }
  let on = "";
  if (f.onOpen) on = "\"open\"";
  if (f.onUpstreamFailure) on += (on.length > 0 ? "," : "") + "\"upstreamFailure\"";
  o += (f.kind == FallbackKind.None ? "" : ",") + "\"on\":[" + on + "]";
  const c = f.cache;
  // Only with a cache: descriptions of the other fallbacks stay as they were.
  return o + (c === null ? "" : ",\"cache\":" + describeCache(c, f.cacheOnOpen, f.cacheOnUpstreamFailure)) + "}";
}

export function describeState(st: BreakerState): string {
  const w = st.window;
  return "{\"state\":\"" + stateName(st.state) + "\",\"reason\":\"" + reasonName(st.reason) + "\"" +
    ",\"generation\":" + st.generation.toString() +
    ",\"clockMs\":" + num(st.clockMs) + ",\"sinceMs\":" + num(st.sinceMs) +
    ",\"openUntilMs\":" + num(st.openUntilMs) + ",\"openMs\":" + num(st.openMs) +
    ",\"backoffLevel\":" + st.backoffLevel.toString() + ",\"consecutive\":" + st.consecutive.toString() +
    ",\"calls\":" + w.calls.toString() + ",\"failures\":" + w.failures.toString() + ",\"slow\":" + w.slow.toString() +
    ",\"probesIssued\":" + st.probesIssued.toString() + ",\"probesSeen\":" + st.probesSeen.toString() +
    ",\"probeFailures\":" + st.probeFailures.toString() + ",\"probeSlow\":" + st.probeSlow.toString() +
    ",\"probeActivityMs\":" + num(st.probeActivityMs) + "}";
}

// Names of the REASON_* values (../contract-names.ts).
export function reasonName(reason: u8): string {
  return <i32>reason < TRANSITION_NAMES.length ? TRANSITION_NAMES[reason] : TRANSITION_NAMES[0];
}
