// The regex literal prefilter (wasm/core/regex/prefilter.ts): a search first looks for
// literals every match contains and answers no without the automaton when none
// occurs. Checked against the plain NFA (nfaOnly: no DFA, no prefilter) on inputs with
// the literals at every offset, and for what it is for: an input without them costs a
// fraction of a DFA pass, and with them present the automaton still runs in linear time.
import { describe, expect, it } from "vitest";
import { BlocksCore } from "../support/blocks-core";

const core = BlocksCore.load();

function agree(pattern: string, inputs: string[], ignoreCase = false): number {
  const h = core.compileRegex(pattern, ignoreCase);
  const nfa = core.compileRegex(pattern, ignoreCase, true);
  let hits = 0;
  try {
    for (const s of inputs) {
      const want = core.search(nfa, s);
      expect(core.search(h, s), `${pattern} on ${JSON.stringify(s)}`).toBe(want);
      if (want) hits++;
    }
  } finally { core.releaseRegex(h); core.releaseRegex(nfa); }
  return hits;
}

// `parts` at every offset of fillers of 0..20 bytes, alone and in pairs.
function around(parts: string[], fill = "-"): string[] {
  const out: string[] = [];
  for (let n = 0; n <= 20; n++) {
    for (let at = 0; at <= n; at++) {
      for (const p of parts) out.push(fill.repeat(at) + p + fill.repeat(n - at));
      out.push(fill.repeat(at) + parts.join("") + fill.repeat(n - at));
    }
  }
  return out;
}

describe("regex prefilter: the same answers as the NFA", () => {
  const UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";
  const cases: Array<[string, string[], boolean?]> = [
    ["^Mozilla/5\\.0 .*(Mobile|Android)", [UA, UA + " Mobile", "Mozilla/5.0 Android", "Mozilla/5.0 \nAndroid", "Mozilla/5.0 Mobil", "Android Mozilla/5.0 ", "mozilla/5.0 Mobile"]],
    ["(Mobile|Android)", around(["Mobile", "Android", "Mobil", "ndroid", "MAndroi"])],
    ["bot", around(["bot", "bo", "ot", "b", "Bot"])],
    ["a(bc|de)f", around(["abcf", "adef", "abf", "bcf", "a", "def"])],
    ["x+yz", around(["xyz", "xxyz", "yz", "xy"], "x")],
    ["(?:ab)+c", around(["abc", "ababc", "bc", "c", "ab"])],
    ["(foo|)bar", around(["bar", "foobar", "fooba", "ba"])],          // an empty branch: no literal set
    ["(a|bc|def|ghij|k)z", around(["az", "kz", "ghijz", "z", "ghij"])], // five branches: over the cap
    ["^(de|fr|nl)([-,;]|$)", ["de", "de-DE", "fr,en", "nl;q", "en-US,de;q=0.5", "d", ""]],
    ["^[a-f0-9]{8}-", ["01234567-89ab", "0123456-789ab", "synthetic-7", "0123abcd-"]],
    ["é+x", around(["éx", "ééx", "e\u0301x", "x", "é"])],
    ["[Mm]obile|ANDROID", around(["mobile", "Mobile", "android", "ANDROID"])],
    ["mobile|android", around(["MOBILE", "Android", "mobil", "x"]), true],     // ignoreCase: letters are classes
    ["1\\.2-[0-9]+", around(["1.2-3", "1x2-3", "1.2-", "1.2-34"]), true],
    ["a$|^b", around(["a", "b", "ab", "ba"])],
    ["", ["", "x"]],
  ];
  for (const [pattern, inputs, ignoreCase] of cases) {
    it(`${pattern}${ignoreCase ? " (ignoreCase)" : ""}`, () => {
      const hits = agree(pattern, inputs, ignoreCase ?? false);
      expect(hits).toBeGreaterThan(0);
      if (inputs.length > 20) expect(hits).toBeLessThan(inputs.length);
    });
  }
});

describe("regex prefilter: what it saves, and what it leaves linear", () => {
  it("an input without the literals costs well under a DFA pass over it", () => {
    // The same 20 KB: without the literal (the prefilter answers) and with it at the very
    // end (the prefilter passes, the DFA scans all of it and finds no match there).
    const h = core.compileRegex("^Mozilla/5\\.0 .*(Mobile|Android)x");
    const body = "Mozilla/5.0 " + "(Windows NT 10.0; Win64; x64) Gecko/20100101 Firefox/125.0 ".repeat(350);
    expect(core.search(h, body)).toBe(false);
    expect(core.search(h, body + "Mobile")).toBe(false);
    // steps (wasm/core/text/steps.ts): the scan's are per 8 bytes, the DFA's per byte
    const without = core.searchSteps(h, body), withLiteral = core.searchSteps(h, body + "Mobile");
    console.log(`20 KB: without the literals ${without} steps, with ${withLiteral} steps`);
    expect(without).toBeLessThan(body.length / 4);
    expect(withLiteral).toBeGreaterThan(body.length);
    core.releaseRegex(h);
  });

  // Hostile patterns whose literal is present, so the automaton runs over everything:
  // 200 KB takes at most 11x the steps of 20 KB (linear: 10x; see regex-linear.test.ts).
  const hostile: Array<[string, (n: number) => string]> = [
    ["(x+x+)+y", (n) => "y" + "x".repeat(n)],
    ["(a|aa)+b", (n) => "b" + "a".repeat(n)],
    ["(?:a|b|ab|ba)+c", (n) => "c" + "ab".repeat(n / 2)],
    ["[a-f0-9]{32}x", (n) => "x" + "0123456789abcdef".repeat(n / 16)],
  ];
  for (const [pattern, make] of hostile) {
    it(`${pattern} with its literal present: linear`, () => {
      const h = core.compileRegex(pattern);
      const small = make(20_000), large = make(200_000);
      expect(core.search(h, small)).toBe(false);
      expect(core.search(h, large)).toBe(false);
      const s20 = core.searchSteps(h, small), s200 = core.searchSteps(h, large);
      expect(s20).toBeGreaterThan(20_000);    // the automaton ran over the input
      expect(s200 / s20).toBeLessThan(11);
      core.releaseRegex(h);
    });
  }
});
