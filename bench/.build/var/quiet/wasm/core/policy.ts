// Entry points that turn configuration text into settings. The same functions serve
// the Envoy filter (pluginConfig), the Kong plugins (plugin config) and the CLI
// (a whole TrafficPolicy), so all three accept and reject exactly the same input
// with exactly the same text.
import { JType, JValue, parseJson } from "./json";
import { Reader, join } from "./config/reader";
import { E_JSON, E_NAME } from "./config/errors";
import { isName, parseExperiment } from "./config/experiment";
import { ExperimentSettings } from "./experiment-settings";

export const API_VERSION = "tandem.dev/v1alpha1";
export const KIND = "TrafficPolicy";
const POLICY_KEYS: StaticArray<string> = ["apiVersion", "kind", "metadata", "spec"];
const METADATA_KEYS: StaticArray<string> = ["name", "namespace", "labels", "annotations"];
const SPEC_KEYS: StaticArray<string> = ["experiment", "circuitBreaker", "fallback"];

export class ExperimentResult {
  settings: ExperimentSettings | null = null;
  error: string = "";
}

function parse(text: string, r: Reader): JValue | null {
  const j = parseJson(text);
  if (j.value === null) { r.failText("", E_JSON + ": " + j.error); r.error = r.error.substring(2); return null; }
  return j.value;
}

// Config of the `experiment` plugin / root id: the object under spec.experiment.
export function configureExperiment(text: string): ExperimentResult {
  const r = new Reader();
  const out = new ExperimentResult();
  const v = parse(text, r);
  if (v !== null) out.settings = parseExperiment(r, v, "experiment");
  if (r.failed) { out.settings = null; out.error = r.error; }
  return out;
}

// Config of the `circuit-breaker` plugin / root id. Until the breaker lands it passes
// traffic; it still insists on a JSON object so later versions can validate strictly.
export function configureBreaker(text: string): string {
  const r = new Reader();
  const v = parse(text, r);
  if (v !== null && v.type != JType.Obj) r.fail("circuitBreaker", "must be an object", v);
  return r.error;
}

// A whole TrafficPolicy document (the CLI converts YAML to JSON first). Field paths
// inside spec start at the section name, exactly as the gateways report them.
export function validatePolicy(text: string): string {
  const r = new Reader();
  const v = parse(text, r);
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
  if (md === null) { r.fail("metadata", "is required", null); return r.error; }
  const name = r.str(md, "name", "metadata", null);
  if (r.failed) return r.error;
  if (!isName(name as string)) { r.fail(join("metadata", "name"), E_NAME, md.get("name")); return r.error; }
  const spec = r.obj(v, "spec", "", SPEC_KEYS);
  if (r.failed) return r.error;
  if (spec === null) { r.fail("spec", "is required", null); return r.error; }
  const ex = r.field(spec, "experiment");
  if (ex !== null) parseExperiment(r, ex, "experiment");
  if (r.failed) return r.error;
  const cb = r.field(spec, "circuitBreaker");
  if (cb !== null && cb.type != JType.Obj) r.fail("circuitBreaker", "must be an object", cb);
  const fb = r.field(spec, "fallback");
  if (fb !== null && fb.type != JType.Obj) r.fail("fallback", "must be an object", fb);
  return r.error;
}
