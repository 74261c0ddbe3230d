// Reading a TrafficPolicy file (YAML or JSON). Parsing YAML is the CLI's job; every
// rule about the content is the core's (validatePolicy), so the CLI reports exactly
// what the gateways would.
import { LineCounter, parseDocument } from "yaml";
import { readTextFile } from "./read-error";
import { documentShape } from "./yaml-depth";

export class PolicyFileError extends Error {}

// A document nested deeper than the YAML reader can follow: `shape` is its structure
// (./yaml-depth.ts) for the core to name the field that nests too deep (validate.ts).
export class TooDeepForYaml extends PolicyFileError {
  constructor(message: string, readonly shape: unknown) { super(message); }
}

export interface PolicyDoc {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  spec: { experiment?: Record<string, unknown>; experiments?: Array<Record<string, unknown>>; circuitBreaker?: Record<string, unknown>; fallback?: Record<string, unknown> | Array<Record<string, unknown>>; upstreams?: Record<string, unknown>; faults?: Array<Record<string, unknown>>; retries?: Record<string, unknown> };
}

export function readPolicyText(path: string): unknown {
  const text = readTextFile(path, (why) => new PolicyFileError(`${path}: ${why}`));
  const lines = new LineCounter();
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false, lineCounter: lines });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const { line, col } = lines.linePos(e.pos[0]);
    const why = e.code === "MULTIPLE_DOCS" ? "more than one document (---): a policy file holds one TrafficPolicy" : e.message;
    const message = `${path}: not valid YAML at line ${line}, column ${col}: ${why}`;
    // yaml composes nodes recursively: hundreds of levels overflow the stack.
    if (/Maximum call stack size exceeded/.test(e.message)) throw new TooDeepForYaml(message, documentShape(text));
    throw new PolicyFileError(message);
  }
  if (doc.contents === null) throw new PolicyFileError(`${path}: empty: expected a TrafficPolicy (apiVersion, kind, metadata, spec)`);
  try {
    return doc.toJS({ maxAliasCount: 50 });
  } catch (e) {
    // an alias without its anchor, or too many aliases
    throw new PolicyFileError(`${path}: not valid YAML: ${(e as Error).message}`);
  }
}
