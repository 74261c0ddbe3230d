// `tandem validate <policy>`: exit 0 when the gateways would accept the policy; else
// exit 1 with the core's own message (the text Kong and Envoy log for the same input).
import { cliCore } from "./dist-core";
import { readPolicyText, type PolicyDoc } from "./policy-file";

export class InvalidPolicy extends Error {}

export function loadPolicy(path: string): PolicyDoc {
  const doc = readPolicyText(path);
  const err = cliCore().validatePolicy(JSON.stringify(doc ?? null));
  // Every refusal reads "<file>: <field path>: <message>"; the document itself has the
  // empty path (": must be an object, got ...").
  if (err !== null) throw new InvalidPolicy(err.startsWith(": ") ? path + err : `${path}: ${err}`);
  return doc as PolicyDoc;
}

export function validateCommand(path: string): number {
  const doc = loadPolicy(path);
  const parts = Object.keys(doc.spec).join(", ") || "nothing";
  process.stdout.write(`${path}: valid TrafficPolicy ${doc.metadata.name} (${parts})\n`);
  return 0;
}
