// A regex's literal prefilter, derived from the syntax tree at configure time: a few
// literals one of which every match contains, e.g. {"Mobile", "Android"} for
// `^Mozilla/5\.0 .*(Mobile|Android)`. A search first looks for them (../scan.ts: ~8
// input bytes per step, where the DFA takes one); when none occurs the answer is no,
// without running the automaton: the common case of a rule that does not match.
//
// Taken from the pattern's top-level sequence: a run of literal bytes, or a group of
// alternatives that are each literal bytes (at most MAX_LITERALS). Of several, the one
// whose shortest literal is longest (fewest false hits). In a pattern anchored by `^`,
// only what follows a top-level unbounded repetition (`.*`, `+`, `{n,}`, or over 16
// times): what comes before sits within a few bytes of the start, where the anchored
// DFA checks it and stops; a scan for it would be extra work. Letters are classes under
// ignoreCase, so literals are then runs of other bytes.
import { Node, NodeKind } from "./parser";

const MAX_LITERALS = 4;   // each is one scan of the input

export function prefilter(root: Node, anchored: bool): StaticArray<StaticArray<u8>> | null {
  const subs = root.kind == NodeKind.Concat ? root.subs : [root];
  let best: StaticArray<StaticArray<u8>> | null = null;
  let bestLen = 0;
  let fixed = anchored;
  for (let i = 0; i < subs.length; i++) {
    const s = subs[i];
    if (s.kind == NodeKind.Bol) continue;
    let cand: StaticArray<StaticArray<u8>> | null = null;
    if (s.kind == NodeKind.Bytes) {
      let j = i;
      while (j + 1 < subs.length && subs[j + 1].kind == NodeKind.Bytes) j++;
      cand = [bytesOf(subs, i, j + 1) as StaticArray<u8>];
      i = j;
    } else if (s.kind == NodeKind.Alt && s.subs.length <= MAX_LITERALS) {
      cand = new StaticArray<StaticArray<u8>>(s.subs.length);
      for (let k = 0; k < s.subs.length && cand !== null; k++) {
        const b = s.subs[k];
        const l = b.kind == NodeKind.Bytes ? bytesOf(s.subs, k, k + 1) : b.kind == NodeKind.Concat ? bytesOf(b.subs, 0, b.subs.length) : null;
        if (l === null || l.length == 0) cand = null;
        else cand[k] = l;
      }
    }
    if (!fixed && cand !== null) {
      let shortest = i32.MAX_VALUE;
      for (let k = 0; k < cand.length; k++) shortest = min(shortest, cand[k].length);
      if (shortest > bestLen) { best = cand; bestLen = shortest; }
    }
    if (s.kind == NodeKind.Repeat && (s.max < 0 || s.max > 16)) fixed = false;
  }
  return best;
}

// The bytes of nodes[from, to) when they are all literal bytes, else null.
function bytesOf(nodes: Array<Node>, from: i32, to: i32): StaticArray<u8> | null {
  let n = 0;
  for (let i = from; i < to; i++) {
    const b = nodes[i].bytes;
    if (nodes[i].kind != NodeKind.Bytes || b === null) return null;
    n += b.length;
  }
  const out = new StaticArray<u8>(n);
  n = 0;
  for (let i = from; i < to; i++) {
    const b = nodes[i].bytes as Array<u8>;
    for (let k = 0; k < b.length; k++) out[n++] = b[k];
  }
  return out;
}
