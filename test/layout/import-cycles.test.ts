// No import cycles in the product's code: the core is organised by feature (experiment,
// rules, regex, breaker, guard, tagging, hash, hmac, json, config reading, request facts,
// text), and a cycle between those folders is how layering decays. The imports are read
// with TypeScript's own parser; value imports, re-exports and side-effect imports count,
// `import type` (erased at compile time, no load order) does not.
import { readFileSync, existsSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { sources } from "../support/source-files";

const root = resolve(__dirname, "..", "..");
const ROOTS = ["wasm", "core-js", "plugins", "cli", "sim"];


function resolveImport(from: string, spec: string): string | undefined {
  if (!spec.startsWith(".")) return undefined;
  const base = resolve(dirname(from), spec).replace(/\.(js|mjs|cjs)$/, "");
  for (const c of [base, base + ".ts", join(base, "index.ts")]) if (existsSync(c) && statSync(c).isFile()) return c;
  return undefined;
}

export function importGraph(files: string[]): Map<string, string[]> {
  const g = new Map<string, string[]>();
  for (const f of files) {
    const sf = ts.createSourceFile(f, readFileSync(f, "utf8"), ts.ScriptTarget.Latest);
    const deps: string[] = [];
    for (const st of sf.statements) {
      let spec: ts.Expression | undefined;
      if (ts.isImportDeclaration(st)) {
        const c = st.importClause;
        const typeOnly = c !== undefined && (c.isTypeOnly || (c.name === undefined && c.namedBindings !== undefined &&
          ts.isNamedImports(c.namedBindings) && c.namedBindings.elements.length > 0 && c.namedBindings.elements.every((e) => e.isTypeOnly)));
        if (!typeOnly) spec = st.moduleSpecifier;
      } else if (ts.isExportDeclaration(st) && !st.isTypeOnly) spec = st.moduleSpecifier;
      if (spec && ts.isStringLiteral(spec)) {
        const d = resolveImport(f, spec.text);
        if (d) deps.push(d);
      }
    }
    g.set(f, deps);
  }
  return g;
}

// Every cycle found by a depth-first walk, as root-relative paths (one per back edge).
export function cycles(g: Map<string, string[]>): string[][] {
  const state = new Map<string, 1 | 2>();
  const stack: string[] = [];
  const found: string[][] = [];
  const visit = (n: string): void => {
    state.set(n, 1);
    stack.push(n);
    for (const d of g.get(n) ?? []) {
      if (state.get(d) === 1) found.push(stack.slice(stack.indexOf(d)).concat(d).map((p) => relative(root, p)));
      else if (!state.has(d)) visit(d);
    }
    stack.pop();
    state.set(n, 2);
  };
  for (const n of g.keys()) if (!state.has(n)) visit(n);
  return found;
}

describe("import graph", () => {
  it("finds a cycle when there is one (the check can fail)", () => {
    const a = join(root, "x", "a.ts"), b = join(root, "x", "b.ts"), c = join(root, "x", "c.ts");
    expect(cycles(new Map([[a, [b]], [b, [c]], [c, [a]]]))).toEqual([["x/a.ts", "x/b.ts", "x/c.ts", "x/a.ts"]]);
    expect(cycles(new Map([[a, [b, c]], [b, [c]], [c, []]]))).toEqual([]);
  });

  it("reads imports, re-exports and type imports", () => {
    const g = importGraph([join(root, "wasm", "core", "api.ts")]);
    expect(g.get(join(root, "wasm", "core", "api.ts"))!.length).toBeGreaterThan(5);
  });

  for (const r of ROOTS) {
    it(`${r}/ has no import cycle`, () => {
      expect(cycles(importGraph(sources(join(root, r))))).toEqual([]);
    });
  }

  it("the whole product has no import cycle across folders", () => {
    const all = ROOTS.flatMap((r) => sources(join(root, r)));
    expect(all.length).toBeGreaterThan(120);
    expect(cycles(importGraph(all))).toEqual([]);
  });
});
