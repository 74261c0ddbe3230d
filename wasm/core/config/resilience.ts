// spec.retries, spec.timeoutMs, spec.connectionPool, spec.outlierDetection: what each
// gateway does natively around the upstream call (Istio VirtualService retries/timeout and
// DestinationRule trafficPolicy, Envoy route retry_policy/timeout and cluster
// circuit_breakers/outlier_detection, Kong service retries/timeouts and Upstream passive
// health checks). The filter and plugins never see them: `tandem render` writes them into
// each gateway's own settings, so they are validated with the whole policy, here, with the
// same field-path messages as every other field.
import { JType, JValue } from "../json/json";
import { Reader, at, join } from "./reader";
import { E_NOT_EMPTY, E_REQUIRED, E_RETRY_ON, E_UNIQUE } from "./errors";

export const RETRIES_SECTION = "retries";
export const TIMEOUT_FIELD = "timeoutMs";
export const POOL_SECTION = "connectionPool";
export const OUTLIER_SECTION = "outlierDetection";

const RETRY_KEYS: StaticArray<string> = ["attempts", "perTryTimeoutMs", "retryOn"];
const POOL_KEYS: StaticArray<string> = ["maxConnections", "maxPendingRequests", "maxRequests", "maxRequestsPerConnection"];
export const OUTLIER_KEYS: StaticArray<string> = ["consecutiveErrors", "intervalMs", "baseEjectionTimeMs", "maxEjectionPercent"];
// Their defaults, in that order (Istio's own for outlierDetection: 5 errors, 10 s, 30 s, 10%).
export const OUTLIER_DEFAULTS: StaticArray<i64> = [5, 10000, 30000, 10];
// retryOn when absent: only what never reached the application, safe for every method.
export const RETRY_ON_DEFAULT: StaticArray<string> = ["connect-failure", "refused-stream"];
// Envoy's retry_on names (router/retry_state_impl.cc), which Istio passes through.
const RETRY_ON: StaticArray<string> = ["5xx", "reset", "connect-failure", "refused-stream"];

const MAX_MS: i64 = 86400000;        // one day, as every other duration in a policy
const MAX_COUNT: i64 = 1000000;

export function checkResilience(r: Reader, spec: JValue): void {
  const rt = r.obj(spec, RETRIES_SECTION, "", RETRY_KEYS);
  if (r.failed) return;
  if (rt !== null) {
    if (r.field(rt, "attempts") === null) { r.failRule(join(RETRIES_SECTION, "attempts"), E_REQUIRED, null); return; }
    r.int(rt, "attempts", RETRIES_SECTION, 0, 0, 10);
    r.int(rt, "perTryTimeoutMs", RETRIES_SECTION, 0, 1, MAX_MS);
    const on = r.arr(rt, "retryOn", RETRIES_SECTION, false);
    if (r.failed) return;
    if (on !== null) {
      const p = join(RETRIES_SECTION, "retryOn");
      if (on.items.length == 0) { r.failRule(p, E_NOT_EMPTY, null); return; }
      for (let i = 0; i < on.items.length; i++) {
        const it = on.items[i];
        if (it.type != JType.Str || !RETRY_ON.includes(it.s)) { r.failRule(at(p, i), E_RETRY_ON, it); return; }
        for (let j = 0; j < i; j++) if (on.items[j].s == it.s) { r.failRule(at(p, i), E_UNIQUE, it); return; }
      }
    }
  }
  r.int(spec, TIMEOUT_FIELD, "", 0, 1, MAX_MS);
  if (r.failed) return;
  const cp = r.obj(spec, POOL_SECTION, "", POOL_KEYS);
  if (r.failed) return;
  if (cp !== null) {
    r.int(cp, "maxConnections", POOL_SECTION, 0, 1, MAX_COUNT);
    r.int(cp, "maxPendingRequests", POOL_SECTION, 0, 1, MAX_COUNT);
    r.int(cp, "maxRequests", POOL_SECTION, 0, 1, MAX_COUNT);
    r.int(cp, "maxRequestsPerConnection", POOL_SECTION, 0, 1, MAX_COUNT);
    if (r.failed) return;
  }
  const od = r.obj(spec, OUTLIER_SECTION, "", OUTLIER_KEYS);
  if (r.failed) return;
  if (od !== null) {
    r.int(od, OUTLIER_KEYS[0], OUTLIER_SECTION, OUTLIER_DEFAULTS[0], 1, 1000);
    r.int(od, OUTLIER_KEYS[1], OUTLIER_SECTION, OUTLIER_DEFAULTS[1], 1, MAX_MS);
    r.int(od, OUTLIER_KEYS[2], OUTLIER_SECTION, OUTLIER_DEFAULTS[2], 1, MAX_MS);
    r.int(od, OUTLIER_KEYS[3], OUTLIER_SECTION, OUTLIER_DEFAULTS[3], 0, 100);
  }
}
