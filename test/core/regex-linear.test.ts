// The regex engine cannot be attacked: search time grows linearly with the input on
// patterns that make backtracking engines exponential, and a search allocates nothing.
// Time is compared as a ratio (200 KB vs 20 KB) on the same machine, never as an
// absolute bound: linear is 10x, quadratic 100x, backtracking astronomically more, so
// a bound of 30x tolerates a loaded machine (a 2x ratio test proved flaky in CI).
import { describe, expect, it } from "vitest";
import { BlocksCore } from "../support/blocks-core";

const core = BlocksCore.load();

// Search time on the 200 KB input over the 20 KB one (inputs from `make(n)`): the best
// of 9 alternating rounds of 10 searches each, so load from other processes hits both
// sizes alike and the minimum filters scheduler noise.
function ratio(h: number, make: (n: number) => string, expected: boolean): { r: number; t50: number; t100: number } {
  const small = make(20_000), large = make(200_000);
  expect(core.search(h, small)).toBe(expected);
  expect(core.search(h, large)).toBe(expected);
  core.searcher(h, small)(3);              // warm up (lets the wasm tier up)
  let t50 = Infinity, t100 = Infinity;
  for (let round = 0; round < 5; round++) {
    for (const [input, big] of [[small, false], [large, true]] as const) {
      const run = core.searcher(h, input);
      const t = performance.now();
      run(10);
      const dt = performance.now() - t;
      if (big) t100 = Math.min(t100, dt); else t50 = Math.min(t50, dt);
    }
  }
  return { r: t100 / t50, t50, t100 };
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
      it(`${pattern}${nfaOnly ? " (NFA only)" : ""}: 200 KB costs < 30x 20 KB (linear: 10x)`, () => {
        const h = core.compileRegex(pattern, false, nfaOnly);
        const { r, t50, t100 } = ratio(h, make, expected);
        console.log(`${pattern}${nfaOnly ? " [nfa]" : ""}: 20 KB ${(t50 / 10).toFixed(3)} ms, 200 KB ${(t100 / 10).toFixed(3)} ms, ratio ${r.toFixed(2)}`);
        expect(r).toBeLessThan(30);
        core.releaseRegex(h);
      });
    }
  }

  it("(a+)+$ on 100 KB of 'a' + '!' completes (JavaScript's backtracking needs 2^n steps)", () => {
    const h = core.compileRegex("(a+)+$");
    const input = "a".repeat(100_000) + "!";
    const t = performance.now();
    expect(core.search(h, input)).toBe(false);
    expect(core.search(h, input.slice(0, -1))).toBe(true);
    console.log(`(a+)+$ on 100 KB: ${(performance.now() - t).toFixed(2)} ms for two searches`);
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
