// The deploy-side facts of a policy's plan (./plan.ts), which only `tandem render` and
// the simulators' gateway settings use, with their defaults filled in here so no
// TypeScript applies a policy default:
//   upstreams   every upstream the policy routes to, in order of first mention (the
//               variants', then a reroute's), each with its per-gateway names:
//               {name, kong, subset, labels|null, host, port} (spec.upstreams.<name>;
//               defaults: Kong Upstream and Istio subset = the name, address <name>:80;
//               labels null = render's --subset-label with the subset)
//   resilience  spec.retries / timeoutMs / connectionPool / outlierDetection as each
//               gateway is to be set: {retries?: {attempts, perTryTimeoutMs?, retryOn},
//               timeoutMs?, pool?, outlier?: {consecutiveErrors, intervalMs,
//               baseEjectionTimeMs, maxEjectionPercent}}
//   secrets     the policy's secrets, [{field, name, value}]: experiment.override.secret
//               (name override-secret) and faults[i].control.secret (fault-<i>-control-secret)
// Configure time only; the policy was validated first (./policy.ts), so every value read
// here has its checked type.
import { JType, JValue } from "./json/json";
import { jsonText, writeJson } from "./json/write";
import { RETRIES_SECTION, TIMEOUT_FIELD, POOL_SECTION, OUTLIER_SECTION, RETRY_ON_DEFAULT, OUTLIER_DEFAULTS, OUTLIER_KEYS } from "./config/resilience";
import { UPSTREAMS_SECTION } from "./config/upstreams";
import { FAULTS_SECTION } from "./fault/config";

// Default port of an upstream without an address (HTTP).
const DEFAULT_PORT = "80";

function str(v: JValue | null, key: string, fallback: string): string {
  if (v === null || v.type != JType.Obj) return fallback;
  const x = v.get(key);
  return x !== null && x.type == JType.Str ? x.s : fallback;
}

function num(v: f64): string {
  return (<i64>v).toString();
}

// One upstream's per-gateway names.
function target(name: string, specs: JValue | null): string {
  const s = specs !== null && specs.type == JType.Obj ? specs.get(name) : null;
  const istio = s !== null && s.type == JType.Obj ? s.get("istio") : null;
  const subset = str(istio, "subset", name);
  const l = istio !== null ? istio.get("labels") : null;
  const labels = l !== null && l.type == JType.Obj ? l : null;
  const address = str(s, "address", name + ":" + DEFAULT_PORT);
  const colon = address.lastIndexOf(":");
  return "{\"name\":" + jsonText(name) + ",\"kong\":" + jsonText(str(s, "kong", name)) + ",\"subset\":" + jsonText(subset) +
    ",\"labels\":" + (labels !== null ? writeJson(labels) : "null") +
    ",\"host\":" + jsonText(address.substring(0, colon)) + ",\"port\":" + address.substring(colon + 1) + "}";
}

// names: the upstreams in order of first mention, duplicates allowed.
export function describeUpstreams(spec: JValue, names: Array<string>): string {
  const specs = spec.get(UPSTREAMS_SECTION);
  const seen = new Array<string>(0);
  let d = "[";
  for (let i = 0; i < names.length; i++) {
    const n = names[i];
    if (seen.includes(n)) continue;
    seen.push(n);
    d += (seen.length > 1 ? "," : "") + target(n, specs);
  }
  return d + "]";
}

export function describeResilience(spec: JValue): string {
  let d = "";
  const rt = spec.get(RETRIES_SECTION);
  if (rt !== null && rt.type == JType.Obj) {
    d += "\"retries\":{\"attempts\":" + num((rt.get("attempts") as JValue).n);
    const per = rt.get("perTryTimeoutMs");
    if (per !== null && per.type == JType.Num && per.n > 0) d += ",\"perTryTimeoutMs\":" + num(per.n);
    const on = rt.get("retryOn");
    if (on !== null && on.type == JType.Arr) d += ",\"retryOn\":" + writeJson(on);
    else {
      d += ",\"retryOn\":[";
      for (let i = 0; i < RETRY_ON_DEFAULT.length; i++) d += (i > 0 ? "," : "") + jsonText(RETRY_ON_DEFAULT[i]);
      d += "]";
    }
    d += "}";
  }
  const t = spec.get(TIMEOUT_FIELD);
  if (t !== null && t.type == JType.Num) d += (d.length > 0 ? "," : "") + "\"timeoutMs\":" + num(t.n);
  const cp = spec.get(POOL_SECTION);
  if (cp !== null && cp.type == JType.Obj) d += (d.length > 0 ? "," : "") + "\"pool\":" + writeJson(cp);
  const od = spec.get(OUTLIER_SECTION);
  if (od !== null && od.type == JType.Obj) {
    d += (d.length > 0 ? "," : "") + "\"outlier\":{";
    for (let i = 0; i < OUTLIER_KEYS.length; i++) {
      const v = od.get(OUTLIER_KEYS[i]);
      d += (i > 0 ? "," : "") + jsonText(OUTLIER_KEYS[i]) + ":" + num(v !== null && v.type == JType.Num ? v.n : <f64>OUTLIER_DEFAULTS[i]);
    }
    d += "}";
  }
  return "{" + d + "}";
}

function secret(field: string, name: string, value: string): string {
  return "{\"field\":" + jsonText(field) + ",\"name\":" + jsonText(name) + ",\"value\":" + jsonText(value) + "}";
}

export function describeSecrets(spec: JValue): string {
  let d = "";
  const ex = spec.get("experiment");
  const ov = ex !== null ? ex.get("override") : null;
  const s = ov !== null ? ov.get("secret") : null;
  if (s !== null && s.type == JType.Str) d += secret("experiment.override.secret", "override-secret", s.s);
  const faults = spec.get(FAULTS_SECTION);
  if (faults !== null && faults.type == JType.Arr) {
    for (let i = 0; i < faults.items.length; i++) {
      const f = faults.items[i];
      const c = f.type == JType.Obj ? f.get("control") : null;
      const cs = c !== null && c.type == JType.Obj ? c.get("secret") : null;
      if (cs === null || cs.type != JType.Str) continue;
      d += (d.length > 0 ? "," : "") + secret("faults[" + i.toString() + "].control.secret", "fault-" + i.toString() + "-control-secret", cs.s);
    }
  }
  return "[" + d + "]";
}
