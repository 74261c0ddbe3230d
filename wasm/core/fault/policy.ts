// Config of the `fault-injection` plugin / root id (cli/render.ts writes it):
//   { faults: spec.faults, experiment?: spec.experiment, hasBreaker?: bool }
// The experiment names the variants a fault may target, the variant header it reads
// and the stickiness of by: user; hasBreaker says a circuitBreaker is there for scope:
// upstream to feed. Field paths are the policy's (faults[0].delay.percent).
import { JValue, parseJson } from "../json/json";
import { Reader } from "../config/reader";
import { E_JSON, E_REQUIRED, ruleText } from "../config/errors";
import { parseExperiment } from "../experiment/config";
import { ExperimentSettings } from "../experiment/settings";
import { FAULTS_SECTION, parseFaults } from "./config";
import { FaultSettings } from "./settings";
import { POLICY_FIELD } from "../metrics/catalog";
import { readPolicyName } from "../metrics/policy-name";

const PLUGIN_KEYS: StaticArray<string> = ["faults", "experiment", "hasBreaker", POLICY_FIELD];

export class FaultResult {
  settings: FaultSettings | null = null;
  error: string = "";
}

export function configureFaults(text: string): FaultResult {
  const out = new FaultResult();
  const r = new Reader();
  const j = parseJson(text);
  if (j.value === null) { out.error = ruleText(E_JSON) + ": " + j.error; return out; }
  const v = j.value as JValue;
  if (!r.object(v, "", PLUGIN_KEYS)) { out.error = r.error; return out; }
  let es: ExperimentSettings | null = null;
  const ex = r.field(v, "experiment");
  if (ex !== null) es = parseExperiment(r, ex, "experiment");
  const hasBreaker = r.bool(v, "hasBreaker", "", false);
  const list = r.field(v, FAULTS_SECTION);
  if (!r.failed && list === null) r.failRule(FAULTS_SECTION, E_REQUIRED, null);
  const policy = readPolicyName(r, v);
  if (!r.failed) out.settings = parseFaults(r, list as JValue, FAULTS_SECTION, es, hasBreaker);
  if (!r.failed && out.settings !== null) (out.settings as FaultSettings).policy = policy;
  if (r.failed) { out.settings = null; out.error = r.error; }
  return out;
}
