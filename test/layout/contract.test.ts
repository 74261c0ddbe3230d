// The contract between the core and its hosts is declared once (wasm/core/contract.ts and
// contract-names.ts, compiled by both asc and tsc). These checks fail when one side
// changes alone: a product file declaring a contract name or header again with its own
// value, a result slot read or written by number instead of by name, or the built core
// disagreeing with the names the Node binding reads its slots by.
import { readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { sources } from "../support/source-files";
import * as contract from "../../wasm/core/contract";
import { STATE_NAMES, TRANSITION_NAMES } from "../../wasm/core/contract-names";
import { BreakerAnswer, BREAKER_REASONS, BREAKER_STATES, type TandemCore } from "../../core-js/tandem-core";
import { loadCore } from "../support/dist";

const root = resolve(__dirname, "..", "..");
const PRODUCT = ["wasm", "core-js", "plugins", "cli", "sim", "bench"];
const CONTRACT_FILES = ["wasm/core/contract.ts", "wasm/core/contract-names.ts"];


const files = PRODUCT.flatMap((d) => sources(join(root, d)))
  .map((f) => relative(root, f))
  .filter((f) => !CONTRACT_FILES.includes(f));

// Every string literal and every `const NAME = <literal>` of a file, read with
// TypeScript's parser (comments and error texts that mention a header do not count).
function scan(file: string): { strings: string[]; literalConsts: Array<{ name: string; value: string }>; slotIndexes: string[] } {
  const text = readFileSync(join(root, file), "utf8");
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const strings: string[] = [];
  const literalConsts: Array<{ name: string; value: string }> = [];
  const slotIndexes: string[] = [];
  const literal = (e: ts.Expression): string | null => {
    while (ts.isParenthesizedExpression(e) || ts.isTypeAssertionExpression(e) || ts.isAsExpression(e)) e = e.expression;
    if (ts.isPrefixUnaryExpression(e) && e.operator === ts.SyntaxKind.MinusToken && ts.isNumericLiteral(e.operand)) return "-" + e.operand.text;
    if (ts.isNumericLiteral(e) || ts.isStringLiteral(e) || ts.isNoSubstitutionTemplateLiteral(e)) return e.text;
    if (ts.isCallExpression(e) && e.arguments.length === 1 && ts.isStringLiteral(e.arguments[0])) return e.arguments[0].text; // utf8("...")
    return null;
  };
  const visit = (n: ts.Node): void => {
    if (ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n)) strings.push(n.text);
    if (ts.isVariableDeclaration(n) && ts.isIdentifier(n.name) && n.initializer) {
      const v = literal(n.initializer);
      if (v !== null) literalConsts.push({ name: n.name.text, value: v });
    }
    // A result area indexed by a number: r[7], guardResult[3], g[0].
    if (ts.isElementAccessExpression(n) && ts.isNumericLiteral(n.argumentExpression) && ts.isIdentifier(n.expression) &&
      /^(r|g|result|guardResult|breakerResult)$/.test(n.expression.text)) slotIndexes.push(n.getText(sf));
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return { strings, literalConsts, slotIndexes };
}

const scanned = files.map((f) => ({ file: f, ...scan(f) }));

// Values that name the contract: the headers tandem owns, the shared-data prefixes and
// the default rejection body. (Numbers cannot be told apart from other numbers; they are
// covered by the declarations check and the round trip below.)
const OWNED_STRINGS = [
  contract.VARIANT_HEADER, contract.UPSTREAM_HEADER, contract.EXPOSE_HEADER, contract.TAGS_HEADER,
  contract.BREAKER_PREFIX, contract.GUARD_PREFIX, contract.FAULT_ACTIVE_PREFIX, contract.REJECT_BODY,
];
const CONTRACT_NAMES = new Set(Object.keys(contract));

describe("the contract is declared once", () => {
  it("no product file writes a contract string (header, shared-data prefix, reject body) itself", () => {
    const found = scanned.flatMap((s) => s.strings.filter((x) => OWNED_STRINGS.includes(x)).map((x) => `${s.file}: "${x}"`));
    expect(found).toEqual([]);
  });

  it("no product file declares a contract name with a value of its own", () => {
    const found = scanned.flatMap((s) => s.literalConsts.filter((c) => CONTRACT_NAMES.has(c.name)).map((c) => `${s.file}: ${c.name} = ${c.value}`));
    expect(found).toEqual([]);
  });

  it("result slots are read and written by name, never by number", () => {
    const found = scanned.flatMap((s) => s.slotIndexes.map((x) => `${s.file}: ${x}`));
    expect(found).toEqual([]);
  });

  it("the Node binding's names are the contract's", () => {
    expect(BREAKER_STATES).toBe(STATE_NAMES);
    expect(BREAKER_REASONS).toBe(TRANSITION_NAMES);
    expect(STATE_NAMES[contract.STATE_OPEN]).toBe("open");
    expect(Math.max(...Object.entries(contract).filter(([k]) => k.startsWith("R_")).map(([, v]) => v as number))).toBeLessThan(contract.RESULT_SLOTS);
    expect(Math.max(...Object.entries(contract).filter(([k]) => k.startsWith("G_")).map(([, v]) => v as number))).toBeLessThan(contract.GUARD_SLOTS);
    expect(Math.max(...Object.entries(contract).filter(([k]) => k.startsWith("D_")).map(([, v]) => v as number))).toBeLessThan(contract.DECISION_SLOTS);
  });
});

describe("round trip through the built core", () => {
  const core: TandemCore = loadCore();

  it("a breaker driven open reads back by slot name: state, previous state, transition, Retry-After, answer, outcome", () => {
    const p = core.configureBreaker(JSON.stringify({ key: "route", consecutiveFailures: 1, openDurationMs: 5000 }));
    const a = core.admitBreaker(p, [], 0);
    expect(a).toMatchObject({ admitted: true, permitted: true, state: "closed", prevState: "closed", transition: null, retryAfter: -1 });
    const r = core.recordBreaker(p, "", a.flags, a.generation, { status: 500, latencyMs: 3 }, 1);
    expect(r).toMatchObject({ state: "open", prevState: "closed", transition: "consecutive_failures", outcome: contract.OUTCOME_FAILURE });
    const rej = core.admitBreaker(p, [], 2);
    expect(rej).toMatchObject({ admitted: false, state: "open", prevState: "open", retryAfter: 5, answer: BreakerAnswer.Reject });
    expect(rej.generation).toBe(r.generation + 1);
    core.releaseBreaker(p);
  });
});
