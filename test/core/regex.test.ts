// Differential test of the core's linear-time regex engine against JavaScript's RegExp
// on generated patterns and inputs within the supported RE2 subset, with the lazy DFA
// on (as shipped) and off (the plain NFA simulation it memoizes).
//
// Each generated pattern is written twice: in RE2 syntax for the core, and as the
// JavaScript pattern with the same meaning (flag `u`, so `.` and negated classes take
// whole code points; `.` spelled [^\n] because RE2's dot only stops at \n while JS's
// also stops at \r, U+2028 and U+2029). Inputs avoid the few characters where the two
// definitions differ on purpose: \v and Unicode spaces (JS \s has them, RE2 \s is
// [\t\n\f\r ]), and under ignoreCase U+017F / U+212A (JS /iu folds them to s / k; the
// core folds ASCII only) and cased non-ASCII letters in patterns.
import { describe, expect, it } from "vitest";
import { BlocksCore } from "../support/blocks-core";
import { rng } from "../support/rng";

const core = BlocksCore.load();


// `stars`: unbounded quantifiers inside. A group holding one gets only bounded
// repetition, so JavaScript's backtracking oracle stays polynomial on these inputs
// (nested `*` would make it exponential; the core does not care).
type Gen = { re2: string; js: string; sample: (r: () => number) => string; stars?: number };

const SPECIAL = new Set([..."\\/.-[](){}*+?|^$"]);
const LITERALS = [..."abcxABZ059_-. /*()[]{}|?+^$\\", "\n", "\t", "\r", "日", "€", "😀"];
const CLASS_ITEMS: Array<[string, string, string[]]> = [
  // [re2, js, sample members]
  ["a", "a", ["a"]], ["z", "z", ["z"]], ["0", "0", ["0"]], ["_", "_", ["_"]], [" ", " ", [" "]], [".", ".", ["."]],
  ["\\]", "\\]", ["]"]], ["\\[", "\\[", ["["]], ["\\\\", "\\\\", ["\\"]], ["\\-", "\\-", ["-"]], ["\\^", "\\^", ["^"]],
  ["a-c", "a-c", ["a", "b", "c"]], ["0-9", "0-9", ["0", "5"]], ["A-Z", "A-Z", ["A", "Z"]], ["x-z", "x-z", ["x"]],
  ["\\d", "\\d", ["5"]], ["\\w", "\\w", ["b", "_"]], ["\\s", "\\s", [" ", "\t"]], ["\\D", "\\D", ["-"]], ["\\W", "\\W", ["."]], ["\\S", "\\S", ["x"]],
  ["\\n", "\\n", ["\n"]], ["\\t", "\\t", ["\t"]],
  ["日", "日", ["日"]], ["一-龥", "一-龥", ["日", "中"]], ["€", "€", ["€"]], ["😀-😂", "😀-😂", ["😁"]], ["\\x{1F600}", "\\u{1F600}", ["😀"]],
];
const CASED_NON_ASCII: Array<[string, string, string[]]> = [["é", "é", ["é"]], ["à-ÿ", "à-ÿ", ["é", "ö"]]];
const INPUT_ALPHABET = [..."abcxyzABCXZ0159_-. /*()[]{}|?+^$\\", "\n", "\t", "\r", "\f", "é", "É", "ö", "日", "中", "€", "😀", "😁", "😃"];

function pick<T>(r: () => number, a: readonly T[]): T { return a[Math.floor(r() * a.length)]; }

function literal(r: () => number, ignoreCase: boolean): Gen {
  const pool = ignoreCase ? LITERALS : [...LITERALS, "é"];
  const c = pick(r, pool);
  if (c === "\n") return { re2: "\\n", js: "\\n", sample: () => c };
  if (c === "\t") return { re2: "\\t", js: "\\t", sample: () => c };
  if (c === "\r") return { re2: "\\r", js: "\\r", sample: () => c };
  if (SPECIAL.has(c)) return { re2: "\\" + c, js: c === "-" ? "-" : "\\" + c, sample: () => c };   // JS /u: \- only inside classes
  return { re2: c, js: c, sample: () => (ignoreCase && r() < 0.5 ? c.toUpperCase() : c) };
}

function charClass(r: () => number, ignoreCase: boolean): Gen {
  const pool = ignoreCase ? CLASS_ITEMS : [...CLASS_ITEMS, ...CASED_NON_ASCII];
  const n = 1 + Math.floor(r() * 3);
  const items = Array.from({ length: n }, () => pick(r, pool));
  const neg = r() < 0.3;
  const body = (k: 0 | 1) => items.map((i) => i[k]).join("");
  const members = items.flatMap((i) => i[2]);
  return {
    re2: `[${neg ? "^" : ""}${body(0)}]`, js: `[${neg ? "^" : ""}${body(1)}]`,
    sample: (rr) => (neg ? pick(rr, INPUT_ALPHABET) : pick(rr, members)),
  };
}

function atom(r: () => number, depth: number, ignoreCase: boolean): Gen {
  const x = r();
  if (x < 0.35) return literal(r, ignoreCase);
  if (x < 0.45) return { re2: ".", js: "[^\\n]", sample: (rr) => pick(rr, INPUT_ALPHABET.filter((c) => c !== "\n")) };
  if (x < 0.55) {
    const s = pick(r, ["d", "w", "s", "D", "W", "S"]);
    const m: Record<string, string[]> = { d: ["7"], w: ["k", "_"], s: [" ", "\n"], D: ["x", "é"], W: ["-", "日"], S: ["b", "😀"] };
    return { re2: "\\" + s, js: "\\" + s, sample: (rr) => pick(rr, m[s]) };
  }
  if (x < 0.75) return charClass(r, ignoreCase);
  if (depth <= 0) return literal(r, ignoreCase);
  const inner = alt(r, depth - 1, ignoreCase);
  const nc = r() < 0.5;
  return { re2: `(${nc ? "?:" : ""}${inner.re2})`, js: `(${nc ? "?:" : ""}${inner.js})`, sample: inner.sample, stars: inner.stars };
}

function repeated(r: () => number, depth: number, ignoreCase: boolean): Gen {
  const a = atom(r, depth, ignoreCase);
  if (r() < 0.55) return a;
  const inner = a.stars ?? 0;
  const k = inner > 0 ? 2 + Math.floor(r() * 2) * 3 : Math.floor(r() * 7);   // nested: ? or {m,n}
  const lazy = r() < 0.25 ? "?" : "";
  let op: string, lo: number, hi: number;
  if (k === 0) { op = "*"; lo = 0; hi = 3; }
  else if (k === 1) { op = "+"; lo = 1; hi = 3; }
  else if (k === 2) { op = "?"; lo = 0; hi = 1; }
  else if (k === 3) { lo = Math.floor(r() * 4); hi = lo; op = `{${lo}}`; }
  else if (k === 4) { lo = Math.floor(r() * 3); hi = lo + 2; op = `{${lo},}`; }
  else { lo = Math.floor(r() * 3); hi = lo + Math.floor(r() * 3); op = `{${lo},${hi}}`; }
  return {
    re2: a.re2 + op + lazy, js: a.js + op + lazy, stars: inner + (k === 0 || k === 1 || k === 4 ? 1 : 0),
    sample: (rr) => { let s = ""; const n = lo + Math.floor(rr() * (hi - lo + 1)); for (let i = 0; i < n; i++) s += a.sample(rr); return s; },
  };
}

function concat(r: () => number, depth: number, ignoreCase: boolean): Gen {
  const n = Math.floor(r() * 4) + (depth > 0 ? 1 : 0);
  const parts: Gen[] = [];
  if (r() < 0.15) parts.push({ re2: "^", js: "^", sample: () => "" });
  for (let i = 0; i < n; i++) parts.push(repeated(r, depth, ignoreCase));
  if (r() < 0.15) parts.push({ re2: "$", js: "$", sample: () => "" });
  return {
    re2: parts.map((p) => p.re2).join(""), js: parts.map((p) => p.js).join(""),
    sample: (rr) => parts.map((p) => p.sample(rr)).join(""), stars: parts.reduce((n, p) => n + (p.stars ?? 0), 0),
  };
}

function alt(r: () => number, depth: number, ignoreCase: boolean): Gen {
  const n = r() < 0.7 ? 1 : 2 + Math.floor(r() * 2);
  const bs = Array.from({ length: n }, () => concat(r, depth, ignoreCase));
  return {
    re2: bs.map((b) => b.re2).join("|"), js: bs.map((b) => b.js).join("|"), sample: (rr) => pick(rr, bs).sample(rr),
    stars: bs.reduce((n, b) => n + (b.stars ?? 0), 0),
  };
}

function randomText(r: () => number, maxLen: number): string {
  let s = "";
  const n = Math.floor(r() * (maxLen + 1));
  for (let i = 0; i < n; i++) s += pick(r, INPUT_ALPHABET);
  return s;
}

// A sample of the pattern, then small edits, so inputs sit on both sides of the answer.
function inputsFor(g: Gen, r: () => number, count: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const k = i % 4;
    if (k === 0) out.push(randomText(r, 12));
    else {
      let s = g.sample(r);
      if (k >= 2) s = randomText(r, 3) + s + randomText(r, 3);
      if (k === 3 && s.length > 0) {
        const cps = [...s];
        const at = Math.floor(r() * cps.length);
        if (r() < 0.5) cps.splice(at, 1); else cps[at] = pick(r, INPUT_ALPHABET);
        s = cps.join("");
      }
      out.push(s);
    }
  }
  return out;
}

describe("regex: differential against JavaScript RegExp", () => {
  for (const ignoreCase of [false, true]) {
    it(`agrees on 3,000 generated patterns x 24 inputs (ignoreCase ${ignoreCase})`, () => {
      const r = rng(ignoreCase ? 0xc0ffee : 0xbadcafe);
      let checked = 0, matched = 0;
      const seen = new Set<string>();
      for (let p = 0; p < 3000; p++) {
        const g = alt(r, 2, ignoreCase);
        seen.add(g.re2);
        const js = new RegExp(g.js, ignoreCase ? "iu" : "u");
        const h = core.compileRegex(g.re2, ignoreCase);
        const nfa = core.compileRegex(g.re2, ignoreCase, true);   // the same program, DFA cache off
        for (const input of inputsFor(g, r, 24)) {
          const want = js.test(input);
          const got = core.search(h, input);
          const gotNfa = core.search(nfa, input);
          if (got !== want || gotNfa !== want) {
            expect({ pattern: g.re2, js: g.js, ignoreCase, input, got, gotNfa }).toEqual({ pattern: g.re2, js: g.js, ignoreCase, input, got: want, gotNfa: want });
          }
          checked++;
          if (want) matched++;
        }
        core.releaseRegex(h);
        core.releaseRegex(nfa);
      }
      // both answers are well represented, and the patterns are varied
      expect(checked).toBe(72_000);
      expect(matched / checked).toBeGreaterThan(0.3);
      expect(matched / checked).toBeLessThan(0.85);
      expect(seen.size).toBeGreaterThan(2500);
      console.log(`regex differential (ignoreCase ${ignoreCase}): ${seen.size} distinct patterns, ${checked} inputs, ${matched} matches`);
    });
  }

  it("agrees on long inputs around the pattern (unanchored search over many start positions)", () => {
    const r = rng(7);
    for (let p = 0; p < 500; p++) {
      // no groups and at most two unbounded quantifiers: JS's backtracking stays cheap on
      // 400 characters (a group like (?:\S{2,4}|.)* takes it 13 s; the core 0.1 ms)
      let g = alt(r, 0, p % 2 === 1);
      while ((g.stars ?? 0) > 2) g = alt(r, 0, p % 2 === 1);
      const js = new RegExp(g.js, p % 2 === 1 ? "iu" : "u");
      const h = core.compileRegex(g.re2, p % 2 === 1);
      const nfa = core.compileRegex(g.re2, p % 2 === 1, true);
      for (let i = 0; i < 4; i++) {
        const input = randomText(r, 200) + g.sample(r) + randomText(r, 200);
        const want = js.test(input);
        expect(core.search(h, input), `${g.re2} on ${JSON.stringify(input)}`).toBe(want);
        expect(core.search(nfa, input), `NFA: ${g.re2} on ${JSON.stringify(input)}`).toBe(want);
      }
      core.releaseRegex(h);
      core.releaseRegex(nfa);
    }
  });
});

describe("regex: the DFA cache under pressure", () => {
  it("flushes, then hands over to the NFA, and still answers right", () => {
    // (a|b)*a(a|b){12}$: the DFA needs a state per 13-letter suffix (8192 of them), far
    // beyond the cache. The answer is known without a regex engine: the 13th letter
    // from the end is an 'a'. (JavaScript's backtracking takes ~0.5 s per 3 KB miss.)
    const r = rng(99);
    const h = core.compileRegex("(a|b)*a(a|b){12}$");
    let yes = 0;
    for (let i = 0; i < 300; i++) {
      let s = "";
      const n = 10 + Math.floor(r() * 3000);
      for (let k = 0; k < n; k++) s += r() < 0.5 ? "a" : "b";
      const want = s.length >= 13 && s[s.length - 13] === "a";
      expect(core.search(h, s), s.slice(-20)).toBe(want);
      if (want) yes++;
    }
    expect(yes).toBeGreaterThan(100);
    expect(yes).toBeLessThan(200);
  });

  it("keeps its cache across searches (states built by one request serve the next)", () => {
    const h = core.compileRegex("[a-f0-9]{32}");
    const id = "session=" + "0123456789abcdef".repeat(2) + ";";
    expect(core.search(h, id)).toBe(true);
    expect(core.search(h, id.slice(0, -2))).toBe(false);
    for (let i = 0; i < 1000; i++) expect(core.search(h, id)).toBe(true);
  });
});
