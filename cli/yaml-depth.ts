// Policies nested deeper than the YAML reader's recursion can follow (about 800 levels:
// `yaml` composes nodes recursively and overflows the stack). The core names the first
// value nested deeper than the gateways take (wasm/core/policy.ts, E_DEPTH) with its
// field path, so the CLI hands it the document's shape instead: built from yaml's
// concrete syntax tree (parsed without recursion) with an explicit stack, keys as
// written, every scalar null, cut off far below the overflow but far beyond the core's
// limit (32 levels, 34 in a whole policy), which is where the core looks first.
import { Parser } from "yaml";

const KEEP_LEVELS = 40;

type CstNode = { type: string; source?: string; start?: { source?: string }; items?: Array<{ key?: CstNode | null; value?: CstNode | null }> };

function keyText(k: CstNode | null | undefined): string {
  const s = k?.source ?? "";
  if (k?.type === "double-quoted-scalar") { try { return JSON.parse(s) as string; } catch { return s.slice(1, -1); } }
  if (k?.type === "single-quoted-scalar") return s.slice(1, -1).replace(/''/g, "'");
  return s;
}

// The document's shape as JSON-ready values, or null when the text has no document.
export function documentShape(text: string): unknown {
  let root: CstNode | null = null;
  for (const tok of new Parser().parse(text)) if ((tok as { type: string }).type === "document") { root = (tok as { value?: CstNode }).value ?? null; break; }
  if (root === null) return null;
  const top: { v: unknown } = { v: null };
  // Each entry: a node, its depth, and where its value goes.
  const work: Array<{ node: CstNode | null | undefined; depth: number; put: (v: unknown) => void }> = [{ node: root, depth: 0, put: (v) => (top.v = v) }];
  while (work.length > 0) {
    const { node, depth, put } = work.pop()!;
    if (!node || depth > KEEP_LEVELS) { put(null); continue; }
    const isMap = node.type === "block-map" || (node.type === "flow-collection" && node.start?.source === "{");
    const isSeq = node.type === "block-seq" || (node.type === "flow-collection" && node.start?.source === "[");
    if (isMap) {
      const o: Record<string, unknown> = {};
      put(o);
      // reversed onto the stack: document order when popped (the core reports the first)
      const items = node.items ?? [];
      const keys = items.map((it) => keyText(it.key));
      for (const k of keys) o[k] = null;
      for (let i = items.length - 1; i >= 0; i--) work.push({ node: items[i].value, depth: depth + 1, put: (v) => (o[keys[i]] = v) });
    } else if (isSeq) {
      const a: unknown[] = new Array((node.items ?? []).length).fill(null);
      put(a);
      const items = node.items ?? [];
      for (let i = items.length - 1; i >= 0; i--) work.push({ node: items[i].value, depth: depth + 1, put: (v) => (a[i] = v) });
    } else put(null);
  }
  return top.v;
}
