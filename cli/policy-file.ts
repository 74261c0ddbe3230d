// Reading a TrafficPolicy file (YAML or JSON). Parsing YAML is the CLI's job; every
// rule about the content is the core's (validatePolicy), so the CLI reports exactly
// what the gateways would.
import { readFileSync } from "node:fs";
import { parseDocument } from "yaml";

export class PolicyFileError extends Error {}

export interface PolicyDoc {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  spec: { experiment?: Record<string, unknown>; experiments?: Array<Record<string, unknown>>; circuitBreaker?: Record<string, unknown>; fallback?: Record<string, unknown> };
}

export function readPolicyText(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new PolicyFileError(`${path}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) throw new PolicyFileError(`${path}: not valid YAML: ${doc.errors[0].message}`);
  return doc.toJS({ maxAliasCount: 50 });
}
