// Entry points that turn configuration text into settings. The same functions serve
// the Envoy filter (pluginConfig), the Kong plugins (plugin config) and the CLI
// (a whole TrafficPolicy), so all three accept and reject exactly the same input
// with exactly the same text.
import { JType, JValue, parseJson } from "./json/json";
import { Reader, join, under, isName } from "./config/reader";
import { E_DEPTH, E_JSON, E_NAME, E_TAGGING_NEEDS_EXPERIMENT, E_UNKNOWN_UPSTREAM, E_UNKNOWN_VARIANT, ruleText, E_REQUIRED } from "./config/errors";
import { UPSTREAMS_SECTION, checkUpstreams } from "./config/upstreams";
import { checkResilience } from "./config/resilience";
import { parseExperiment } from "./experiment/config";
import { ExperimentSettings } from "./experiment/settings";
import { parseBreaker, BREAKER_SECTION, FALLBACK_SECTION } from "./breaker/config";
import { parseFallback, rerouteOf } from "./breaker/fallback-config";
import { FallbackKind, FallbackSettings } from "./breaker/settings";
import { TAGGING_SECTION, parseTagging, routingFields } from "./tagging/config";
import { readPolicyName } from "./metrics/policy-name";
import { HAS_FAULTS_FIELD, METRICS_FIELD } from "./metrics/catalog";
import { TaggingSettings } from "./tagging/tagging";
import { FAULTS_SECTION, parseFaults } from "./fault/config";

export const API_VERSION = "tandem.dev/v1alpha1";
export const KIND = "TrafficPolicy";
const POLICY_KEYS: StaticArray<string> = ["apiVersion", "kind", "metadata", "spec"];
const METADATA_KEYS: StaticArray<string> = ["name", "namespace", "labels", "annotations"];
const SPEC_KEYS: StaticArray<string> = [
  "experiment", "experiments", "circuitBreaker", "fallback", "upstreams", "retries", "timeoutMs", "connectionPool", "outlierDetection", "faults",
];

export class ExperimentResult {
  settings: ExperimentSettings | null = null;
  tags: TaggingSettings | null = null;   // spec.experiments, if any
  error: string = "";
}

// The experiment plugin's config holds spec.experiment's fields and `experiments`
// (spec.experiments): a path in it, as the policy names the field.
export function experimentPath(p: string): string {
  return p == TAGGING_SECTION || p.startsWith(TAGGING_SECTION + ".") || p.startsWith(TAGGING_SECTION + "[") ? p : under("experiment", p);
}

// `mapPath`: a path in the parsed text -> the policy's field path (see deepPath).
function parse(text: string, r: Reader, mapPath: (p: string) => string, policyDoc: bool = false): JValue | null {
  const j = parseJson(text, policyDoc);
  if (j.value === null) {
    if (j.tooDeep) r.failText(mapPath(j.deepPath), ruleText(E_DEPTH));
    else { r.failText("", ruleText(E_JSON) + ": " + j.error); r.error = r.error.substring(2); }
    return null;
  }
  return j.value;
}

function specPath(p: string): string {
  return p.startsWith("spec.") ? p.substring(5) : p;
}

// Config of the `experiment` plugin / root id: the object under spec.experiment, plus
// `experiments` (spec.experiments, the tagging experiments) when the policy has them.
export function configureExperiment(text: string): ExperimentResult {
  const r = new Reader();
  const out = new ExperimentResult();
  const v = parse(text, r, experimentPath);
  if (v !== null) {
    const s = parseExperiment(r, routingFields(v), "experiment");
    if (s !== null && !r.failed) out.tags = parseTagging(r, v, s);
    if (s !== null && !r.failed && v.type == JType.Obj) {
      s.policy = readPolicyName(r, v);
      s.metrics = r.bool(v, METRICS_FIELD, "", true);
      s.hasFaults = r.bool(v, HAS_FAULTS_FIELD, "", true);
    }
    out.settings = s;
  }
  if (r.failed) { out.settings = null; out.tags = null; out.error = r.error; }
  return out;
}

// The `circuit-breaker` plugin config on the Node side: ./breaker/plugin-config.ts.

// A whole TrafficPolicy document (the CLI converts YAML to JSON first). Field paths
// inside spec start at the section name, exactly as the gateways report them.
export function validatePolicy(text: string): string {
  const r = new Reader();
  // Spec sections nest as deep as in the gateways' configs (json.ts sectionDepth).
  const v = parse(text, r, specPath, true);
  if (v === null) return r.error;
  if (!r.object(v, "", POLICY_KEYS)) return r.error;
  const api = r.str(v, "apiVersion", "", null);
  if (r.failed) return r.error;
  if (api != API_VERSION) { r.fail("apiVersion", "must be " + API_VERSION, v.get("apiVersion")); return r.error; }
  const kind = r.str(v, "kind", "", null);
  if (r.failed) return r.error;
  if (kind != KIND) { r.fail("kind", "must be " + KIND, v.get("kind")); return r.error; }
  const md = r.obj(v, "metadata", "", METADATA_KEYS);
  if (r.failed) return r.error;
  if (md === null) { r.failRule("metadata", E_REQUIRED, null); return r.error; }
  const name = r.str(md, "name", "metadata", null);
  if (r.failed) return r.error;
  if (!isName(name as string)) { r.failRule(join("metadata", "name"), E_NAME, md.get("name")); return r.error; }
  const spec = r.obj(v, "spec", "", SPEC_KEYS);
  if (r.failed) return r.error;
  if (spec === null) { r.failRule("spec", E_REQUIRED, null); return r.error; }
  const ex = r.field(spec, "experiment");
  let es: ExperimentSettings | null = null;
  if (ex !== null) es = parseExperiment(r, ex, "experiment");
  if (r.failed) return r.error;
  // Tagging experiments: the gateways see them in the experiment plugin's config.
  if (r.field(spec, TAGGING_SECTION) !== null) {
    if (es === null) { r.failRule(TAGGING_SECTION, E_TAGGING_NEEDS_EXPERIMENT, null); return r.error; }
    parseTagging(r, spec, es);
    if (r.failed) return r.error;
  }
  // The gateways get circuitBreaker + fallback as one plugin config and check the
  // breaker's fields first, then the fallback: same order, same paths, same text.
  const cb = r.field(spec, "circuitBreaker");
  if (cb !== null) parseBreaker(r, cb, BREAKER_SECTION);
  if (r.failed) return r.error;
  const fb = r.field(spec, "fallback");
  let f: FallbackSettings | null = null;
  if (fb !== null) f = parseFallback(r, fb, FALLBACK_SECTION);
  if (r.failed) return r.error;
  // Across sections (only a whole policy shows both): a reroute names a real variant.
  if (f !== null && f.kind == FallbackKind.Reroute && f.variant.length > 0) {
    let found = false;
    if (ex !== null && ex.type == JType.Obj) {
      const vs = ex.get("variants");
      if (vs !== null && vs.type == JType.Arr) {
        for (let i = 0; i < vs.items.length; i++) {
          const n = vs.items[i].type == JType.Obj ? vs.items[i].get("name") : null;
          if (n !== null && n.type == JType.Str && n.s == f.variant) found = true;
        }
      }
    }
    const rr = rerouteOf(fb as JValue, FALLBACK_SECTION);
    if (!found) r.failRule(join(rr.path, "variant"), E_UNKNOWN_VARIANT, (rr.v as JValue).get("variant"));
  }
  if (r.failed) return r.error;
  const ups = r.field(spec, UPSTREAMS_SECTION);
  if (ups !== null) {
    checkUpstreams(r, ups);
    if (r.failed) return r.error;
    // With spec.upstreams, every upstream the policy routes to is one of them.
    if (ex !== null && ex.type == JType.Obj) {
      const vs = ex.get("variants");
      if (vs !== null && vs.type == JType.Arr) {
        for (let i = 0; i < vs.items.length && !r.failed; i++) {
          const u = vs.items[i].type == JType.Obj ? vs.items[i].get("upstream") : null;
          if (u !== null && u.type == JType.Str && ups.get(u.s) === null) r.failRule("experiment.variants[" + i.toString() + "].upstream", E_UNKNOWN_UPSTREAM, u);
        }
      }
    }
    if (f !== null && f.kind == FallbackKind.Reroute && f.upstream.length > 0 && ups.get(f.upstream) === null) {
      const rr = rerouteOf(fb as JValue, FALLBACK_SECTION);
      r.failRule(join(rr.path, "upstream"), E_UNKNOWN_UPSTREAM, (rr.v as JValue).get("upstream"));
    }
  }
  if (r.failed) return r.error;
  // Retries, timeouts, connection limits, outlier detection: gateway settings render writes.
  checkResilience(r, spec);
  if (r.failed) return r.error;
  // spec.faults (the fault-injection plugin: ./fault/policy.ts, same checks and paths).
  const faults = r.field(spec, FAULTS_SECTION);
  if (faults !== null) parseFaults(r, faults, FAULTS_SECTION, es, cb !== null);
  return r.error;
}
