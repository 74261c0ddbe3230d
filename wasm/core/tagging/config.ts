// Parsing of `spec.experiments`, the tagging experiments (../tagging.ts). On the
// gateways they are the `experiments` field of the experiment plugin's config (the
// spec.experiment fields plus `experiments`, as cli/render.ts writes it); in a whole
// policy they sit beside spec.experiment. Both paths start at "experiments". Each entry
// is parsed by parseExperiment itself (restricted fields), so weights, seeds, hash
// modes, rules and rollouts are checked, and worded, exactly as for spec.experiment.
import { JType, JValue } from "../json/json";
import { HAS_FAULTS_FIELD, METRICS_FIELD, POLICY_FIELD } from "../metrics/catalog";
import { Reader, at, join } from "../config/reader";
import { E_NOT_EMPTY, E_UNIQUE } from "../config/errors";
import { parseExperiment } from "../experiment/config";
import { ExperimentSettings } from "../experiment/settings";
import { MAX_TAGGING, TaggingSettings } from "./tagging";

export const TAGGING_SECTION = "experiments";

// The tagging experiments under `obj` (a plugin config or a policy's spec), keyed and
// scoped by `routing`, whose fact needs they join (one fact plan, one fetch); null
// when there are none or on error (see r.failed).
export function parseTagging(r: Reader, obj: JValue, routing: ExperimentSettings): TaggingSettings | null {
  const p = TAGGING_SECTION;
  const arr = r.arr(obj, p, "", false);
  if (arr === null) return null;
  const n = arr.items.length;
  if (n == 0) { r.failRule(p, E_NOT_EMPTY, null); return null; }
  if (n > MAX_TAGGING) { r.failText(p, "must have at most " + MAX_TAGGING.toString() + " experiments, got " + n.toString()); return null; }
  const list = new StaticArray<ExperimentSettings>(n);
  for (let i = 0; i < n; i++) {
    const ip = at(p, i);
    const e = parseExperiment(r, arr.items[i], ip, routing.needs);
    if (e === null || r.failed) return null;
    for (let j = 0; j < i; j++) {
      if (list[j].name == e.name) { r.failRule(join(ip, "name"), E_UNIQUE, arr.items[i].get("name")); return null; }
    }
    list[i] = e;
  }
  routing.needs.seal();   // sized again for the needs the entries' rules added
  const t = new TaggingSettings(list);
  if (t.clock) routing.clock = true;   // adapters pass the real clock
  return t;
}

// `obj` without its `experiments` field: the routing experiment's own fields.
// (and without `policy`, the plugin config's policy name: ../metrics/policy-name.ts,
// `metrics` and `hasFaults`: plugin-config fields, read by ../policy.ts).
export function routingFields(obj: JValue): JValue {
  if (obj.type != JType.Obj || (obj.get(TAGGING_SECTION) === null && obj.get(POLICY_FIELD) === null && obj.get(METRICS_FIELD) === null
    && obj.get(HAS_FAULTS_FIELD) === null)) return obj;
  const o = new JValue();
  o.type = JType.Obj;
  for (let i = 0; i < obj.keys.length; i++) {
    const k = obj.keys[i];
    if (k == TAGGING_SECTION || k == POLICY_FIELD || k == METRICS_FIELD || k == HAS_FAULTS_FIELD) continue;
    o.keys.push(obj.keys[i]);
    o.vals.push(obj.vals[i]);
  }
  return o;
}
