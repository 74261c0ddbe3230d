// The regex engine cannot be attacked: search work grows linearly with the input on
// patterns that make backtracking engines exponential, and a search allocates nothing.
// Work is counted, not timed: the test build counts the automaton's inner-loop steps
// (wasm/core/text/steps.ts), an exact figure on any machine, loaded or not. Linear is
// 10x for 10x the input (plus the states built once), quadratic 100x, backtracking
// astronomically more.
import { describe, expect, it } from "vitest";
import { BlocksCore } from "../support/blocks-core";

const core = BlocksCore.load();

// Steps on the 200 KB input over the 20 KB one (inputs from `make(n)`).
function ratio(h: number, make: (n: number) => string, expected: boolean): { r: number; s20: number; s200: number } {
  const small = make(20_000), large = make(200_000);
  expect(core.search(h, small)).toBe(expected);
  expect(core.search(h, large)).toBe(expected);
  const s20 = core.searchSteps(h, small), s200 = core.searchSteps(h, large);
  expect(s20).toBeGreaterThan(0);
  return { r: s200 / s20, s20, s200 };
}

describe("regex: linear time on hostile patterns", () => {
  const hostile: Array<[string, (n: number) => string, boolean]> = [
    ["(a+)+$", (n) => "a".repeat(n) + "!", false],
    ["(a|aa)*b", (n) => "a".repeat(n), false],
    ["(a*)*b", (n) => "a".repeat(n), false],
    ["^(\\w+\\s?)*$", (n) => "ab ".repeat(n / 3) + "!", false],
    ["(x+x+)+y", (n) => "x".repeat(n), false],
    ["(.*a){12}$", (n) => "a".repeat(n / 2) + "b".repeat(n / 2), false],
    ["(?:a|b|ab|ba)*c", (n) => "ab".repeat(n / 2), false],
    ["[a-f0-9]{32}x", (n) => "0123456789abcdef".repeat(n / 16), false],
  ];
  for (const nfaOnly of [false, true]) {
    for (const [pattern, make, expected] of hostile) {
      it(`${pattern}${nfaOnly ? " (NFA only)" : ""}: 200 KB takes at most 11x the steps of 20 KB (linear: 10x)`, () => {
        const h = core.compileRegex(pattern, false, nfaOnly);
        const { r, s20, s200 } = ratio(h, make, expected);
        console.log(`${pattern}${nfaOnly ? " [nfa]" : ""}: 20 KB ${s20} steps, 200 KB ${s200} steps, ratio ${r.toFixed(2)}`);
        expect(r).toBeLessThan(11);
        // and the work per byte is bounded by the pattern, not the input
        expect(s200 / 200_000).toBeLessThan(core.programLength(h) * 4 + 8);
        core.releaseRegex(h);
      });
    }
  }

  it("(a+)+$ on 100 KB of 'a' + '!' completes (JavaScript's backtracking needs 2^n steps)", () => {
    const h = core.compileRegex("(a+)+$");
    const input = "a".repeat(100_000) + "!";
    const steps = core.searchSteps(h, input);
    expect(core.search(h, input)).toBe(false);
    expect(core.search(h, input.slice(0, -1))).toBe(true);
    expect(steps).toBeLessThan(100_000 * 8);   // 2^100000 for a backtracking engine
  });
});

describe("regex: no allocation per search", () => {
  // The stub runtime never frees: any allocation in search() would grow memory.
  const stub = BlocksCore.load(["--runtime", "stub"]);

  it("runs 100,000 searches (DFA and NFA, cache flushes included) without growing memory", () => {
    const handles = [
      stub.compileRegex("(a+)+$"), stub.compileRegex("[^;]*beta[^;]*", true), stub.compileRegex("(a|b)*a(a|b){12}$"),
      stub.compileRegex("^Mozilla/5\\.0 .*Chrome/1[0-9]{2}", false, true),
    ];
    const inputs = ["a".repeat(500) + "!", "plan=BETA-users; x=1", "ab".repeat(300), "Mozilla/5.0 (X11) Chrome/126.0"];
    for (let i = 0; i < 100; i++) for (const h of handles) stub.search(h, inputs[i % inputs.length]);
    const before = stub.memoryBytes();
    let hits = 0;
    for (const [k, h] of handles.entries()) {
      hits += stub.searcher(h, inputs[k])(25_000);
    }
    expect(hits).toBeGreaterThan(0);
    expect(stub.memoryBytes()).toBe(before);
  });
});
