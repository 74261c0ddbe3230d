// `tandem validate <policy>`: exit 0 when the gateways would accept the policy; else
// exit 1 with the core's own message (the text Kong and Envoy log for the same input).
import { cliCore } from "./dist-core";
import { TooDeepForYaml, readPolicyText, type PolicyDoc } from "./policy-file";
import { validateWarnings } from "./validate-warnings";

export class InvalidPolicy extends Error {}

export function loadPolicy(path: string): PolicyDoc {
  let doc: unknown;
  try {
    doc = readPolicyText(path);
  } catch (e) {
    // Too deep for the YAML reader: the core names the field from the document's shape.
    if (!(e instanceof TooDeepForYaml)) throw e;
    const err = cliCore().validatePolicy(JSON.stringify(e.shape));
    throw err !== null ? new InvalidPolicy(`${path}: ${err}`) : e;
  }
  const err = cliCore().validatePolicy(policyJson(path, doc ?? null));
  // Every refusal reads "<file>: <field path>: <message>"; the document itself has the
  // empty path (": must be an object, got ...").
  if (err !== null) throw new InvalidPolicy(err.startsWith(": ") ? path + err : `${path}: ${err}`);
  return doc as PolicyDoc;
}

// The policy as JSON for the core, as a gateway would get it. JSON.stringify turns
// non-finite numbers into null, which the core takes as absent: instead ±Infinity (YAML
// .inf, 1e400) goes as ±1e400, which the core reads as ±Infinity and refuses as the
// Envoy filter does; NaN (.nan) has no JSON form at all (Kubernetes cannot carry it to
// either gateway), so it is refused here, with the core's rule text (E_FINITE).
const INF = "\u0000tandem:inf\u0000";
const NEG_INF = "\u0000tandem:-inf\u0000";
const E_FINITE = "must be a finite number";

export function policyJson(file: string, doc: unknown): string {
  const nan = nanPath(doc, "");
  if (nan !== null) throw new InvalidPolicy(`${file}: ${nan}: ${E_FINITE}, got .nan`);
  const text = JSON.stringify(doc, (_k, v) => (v === Infinity ? INF : v === -Infinity ? NEG_INF : v));
  return text.split(JSON.stringify(INF)).join("1e400").split(JSON.stringify(NEG_INF)).join("-1e400");
}

// The field path of the first NaN, as the core writes paths (spec's sections at the top).
function nanPath(v: unknown, path: string): string | null {
  if (typeof v === "number") return Number.isNaN(v) ? path : null;
  if (v === null || typeof v !== "object") return null;
  const entries = Array.isArray(v) ? v.map((x, i) => [`[${i}]`, x] as const) : Object.entries(v).map(([k, x]) => [k, x] as const);
  for (const [k, x] of entries) {
    const p = k.startsWith("[") ? path + k : path === "" ? k : path === "spec" ? k : `${path}.${k}`;
    const found = nanPath(x, p);
    if (found !== null) return found;
  }
  return null;
}

export function validateCommand(path: string): number {
  const doc = loadPolicy(path);
  const parts = Object.keys(doc.spec).join(", ") || "nothing";   // the sections as written
  process.stdout.write(`${path}: valid TrafficPolicy ${doc.metadata.name} (${parts})\n`);
  // valid all the same: the exit code stays 0 (./validate-warnings.ts)
  for (const w of validateWarnings(doc)) process.stderr.write(`tandem: warning: ${path}: ${w}\n`);
  return 0;
}
