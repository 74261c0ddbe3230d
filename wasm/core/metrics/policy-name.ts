// The `policy` field of every plugin config: the TrafficPolicy's metadata.name, which
// `tandem render` writes into each part's config so both gateways label their metrics
// with it (./catalog.ts L_POLICY). Optional: a config without one labels its series
// NO_POLICY. Checked as metadata.name is.
import { JValue } from "../json/json";
import { Reader, isName } from "../config/reader";
import { E_NAME } from "../config/errors";
import { NO_POLICY, POLICY_FIELD } from "./catalog";

export { POLICY_FIELD };

export function readPolicyName(r: Reader, obj: JValue): string {
  const name = r.str(obj, POLICY_FIELD, "", NO_POLICY);
  if (r.failed || name === null) return NO_POLICY;
  if (!isName(name)) { r.failRule(POLICY_FIELD, E_NAME, obj.get(POLICY_FIELD)); return NO_POLICY; }
  return name;
}
