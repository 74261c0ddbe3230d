// The regex subset's edges: what is rejected (with the construct named and its byte
// offset), RE2 rules JavaScript does not share, and raw bytes JavaScript cannot express.
import { describe, expect, it } from "vitest";
import { BlocksCore } from "../support/blocks-core";

const core = BlocksCore.load();

// The answer, checked to be the same with the DFA cache on (as shipped) and off.
function matches(pattern: string, input: string | Uint8Array, ignoreCase = false): boolean {
  const h = core.compileRegex(pattern, ignoreCase);
  const nfa = core.compileRegex(pattern, ignoreCase, true);
  try {
    const got = core.search(h, input);
    expect(core.search(nfa, input), `NFA and DFA disagree on ${pattern}`).toBe(got);
    return got;
  } finally { core.releaseRegex(h); core.releaseRegex(nfa); }
}

describe("regex: unsupported syntax is rejected, naming the construct", () => {
  const cases: Array<[string, string, number]> = [
    // [pattern, message contains, byte offset]
    ["(a)\\1", "backreferences are not supported", 3],
    ["(?P<x>a)(?P=x)", "backreferences are not supported", 8],
    ["\\k<x>", "backreferences are not supported", 0],
    ["foo(?=bar)", "lookaround is not supported", 3],
    ["foo(?!bar)", "lookaround is not supported", 3],
    ["(?<=foo)bar", "lookaround is not supported", 0],
    ["(?<!foo)bar", "lookaround is not supported", 0],
    ["(abc", "unbalanced parenthesis", 0],
    ["a(b(c)", "unbalanced parenthesis", 1],
    ["abc)", "unbalanced parenthesis", 3],
    ["*abc", "nothing to repeat", 0],
    ["a|+b", "nothing to repeat", 2],
    ["(?:?)", "nothing to repeat", 3],
    ["{2}a", "nothing to repeat", 0],
    ["a**", "nothing to repeat", 2],
    ["a+*", "nothing to repeat", 2],
    ["a{2}{3}", "nothing to repeat", 4],
    ["a??+", "nothing to repeat", 3],
    ["a{1001}", "repetition count above 1000", 1],
    ["a{2,1001}", "repetition count above 1000", 1],
    ["a{1001,}", "repetition count above 1000", 1],
    ["a{3,2}", "invalid repetition range", 1],
    ["(a{1000}){1000}", "pattern too large", 0],
    ["((((a{100}){100})))", "pattern too large", 0],
    ["[^a]{1000}x{2000}", "repetition count above 1000", 11],
    ["[abc", "missing closing ]", 0],
    ["x[^]", "missing closing ]", 1],
    ["[z-a]", "invalid class range", 1],
    ["[\\d-z]", "invalid class range", 1],
    ["[a-\\w]", "invalid class range", 1],
    ["[[:alpha:]]", "POSIX character classes", 1],
    ["abc\\", "trailing backslash", 3],
    ["\\bword\\b", "word boundaries", 0],
    ["\\Aabc", "\\A and \\z are not supported", 0],
    ["\\p{L}", "Unicode classes", 0],
    ["(?i)abc", "inline flags are not supported", 0],
    ["(?s:.)", "inline flags are not supported", 0],
    ["(?>a)", "unsupported group syntax", 0],
    ["(?<a-b>x)", "invalid group name", 0],
    ["\\q", "unsupported escape \\q", 0],
    ["\\0", "unsupported escape \\0", 0],
    ["\\xZZ", "invalid \\x escape", 0],
    ["\\x{110000}", "invalid \\x escape", 0],
    ["é\\é", "unsupported escape", 2],
  ];
  for (const [pattern, message, offset] of cases) {
    it(`${pattern} -> ${message}`, () => {
      const e = core.regexError(pattern);
      expect(e?.message).toContain(message);
      expect(e?.offset).toBe(offset);
    });
  }

  it("rejects a pattern that is not valid UTF-8", () => {
    const e = core.regexError(new Uint8Array([0x61, 0xc3, 0x28]));
    expect(e?.message).toBe("invalid UTF-8 in pattern");
    expect(e?.offset).toBe(1);
    expect(core.regexError(new Uint8Array([0xed, 0xa0, 0x80]))?.message).toBe("invalid UTF-8 in pattern");   // a surrogate
    expect(core.regexError(new Uint8Array([0x5b, 0xff, 0x5d]))?.message).toBe("invalid UTF-8 in pattern");
  });

  it("caps nesting depth instead of exhausting the stack", () => {
    expect(core.regexError("(".repeat(101) + ")".repeat(101))?.message).toContain("nesting too deep");
    expect(core.regexError("(".repeat(5000) + ")".repeat(5000))?.message).toContain("nesting too deep");
    // the deepest shape allowed: a group, an alternation and a repetition per level
    const h = core.compileRegex("(a|".repeat(100) + "b" + ")*".repeat(100));
    expect(core.search(h, "xb")).toBe(true);
  });

  it("accepts repetitions up to the size cap and counts them", () => {
    const h = core.compileRegex("a{1000}");
    expect(core.programLength(h)).toBe(1001);
    expect(core.search(h, "a".repeat(1000))).toBe(true);
    expect(core.search(h, "a".repeat(999))).toBe(false);
    // `.` and negated classes cost 8 instructions (one ANY + its UTF-8 continuation chain)
    expect(core.regexError(".{1,1000}")).toBeNull();
    expect(core.regexError("[^,]{0,1000}")).toBeNull();
    expect(core.regexError("(x{0}){1000}{0}")?.message).toContain("nothing to repeat");
    expect(core.regexError("((x{0}){1000}){1000}")).toBeNull();   // expands to nothing: no work
  });
});

describe("regex: RE2 rules", () => {
  it("takes { } ] literally where they cannot be syntax", () => {
    expect(matches("a{", "a{")).toBe(true);
    expect(matches("a{,3}", "a{,3}")).toBe(true);
    expect(matches("a{x}", "a{x}")).toBe(true);
    expect(matches("}]", "x}]")).toBe(true);
    expect(matches("[]a]+$", "]a]")).toBe(true);
    expect(matches("[^]a]", "]a")).toBe(false);
    expect(matches("[-a]", "-")).toBe(true);
    expect(matches("[a-]", "-")).toBe(true);
  });

  it("accepts named groups as plain groups", () => {
    expect(matches("(?P<user>[a-z]+)@(?<host>[a-z.]+)$", "bob@example.com")).toBe(true);
    expect(matches("^(?P<d>\\d+)$", "12x")).toBe(false);
  });

  it("escapes any ASCII punctuation and the documented control escapes", () => {
    expect(matches("^\\#\\,\\;\\<\\>\\=\\!\\@\\%\\&\\~\\`\\'\\\"$", "#,;<>=!@%&~`'\"")).toBe(true);
    expect(matches("^\\t\\n\\r\\f\\v$", "\t\n\r\f\v")).toBe(true);
    expect(matches("^\\x41\\x{e9}\\x{1F600}$", "Aé😀")).toBe(true);
    expect(matches("^[\\x{e0}-\\x{ff}]+$", "éöÿ")).toBe(true);
  });

  it("\\s is RE2's [\\t\\n\\f\\r ]: no \\v, no Unicode spaces", () => {
    for (const c of ["\t", "\n", "\f", "\r", " "]) expect(matches("^\\s$", c)).toBe(true);
    for (const c of ["\v", "\u00a0", "\u2028", "\ufeff"]) expect(matches("^\\s$", c)).toBe(false);
    expect(matches("^\\S$", "\u00a0")).toBe(true);
  });

  it("`.` takes one code point but not \\n; \\r and U+2028 are ordinary characters", () => {
    expect(matches("^.$", "\n")).toBe(false);
    for (const c of ["\r", "\u2028", "\u2029", "é", "日", "😀", "\u0000"]) expect(matches("^.$", c)).toBe(true);
    expect(matches("^..$", "😀")).toBe(false);
    expect(matches("^a.c$", "a日c")).toBe(true);
  });

  it("$ is the end of input only, ^ the start (no multiline)", () => {
    expect(matches("a$", "a\n")).toBe(false);
    expect(matches("^b", "a\nb")).toBe(false);
    expect(matches("a$|^b", "ba")).toBe(true);
    expect(matches("x^", "x")).toBe(false);
    expect(matches("$^", "")).toBe(true);
    // patterns whose only thread waits for the end: nothing to step on the way there
    for (const p of ["$", "(?:$)", "a{0}$", "(?:)$", "x*$", "^$|$"]) {
      for (const input of ["", "a", "ab", "日本"]) expect(matches(p, input), `${p} on ${input}`).toBe(true);
    }
    expect(matches("^$", "a")).toBe(false);
    expect(matches("$a", "a")).toBe(false);
  });

  it("ignoreCase folds ASCII letters only", () => {
    expect(matches("^hello$", "HeLLo", true)).toBe(true);
    expect(matches("^[a-c]+$", "ABCabc", true)).toBe(true);
    expect(matches("^[^a-c]$", "B", true)).toBe(false);
    expect(matches("^é$", "É", true)).toBe(false);
    expect(matches("^k$", "\u212a", true)).toBe(false);   // Kelvin sign: JS /iu says true, RE2 too; ASCII folding says no
    expect(matches("^hello$", "HeLLo", false)).toBe(false);
  });
});

describe("regex: input bytes that are not UTF-8", () => {
  const b = (...xs: number[]) => new Uint8Array(xs);
  it("never match `.` or a class, only literal bytes", () => {
    expect(matches("^.$", b(0xff))).toBe(false);
    expect(matches("^.$", b(0xc3))).toBe(false);             // truncated sequence
    expect(matches("^[^a]$", b(0x80))).toBe(false);          // lone continuation byte
    expect(matches("^.$", b(0xc0, 0x80))).toBe(false);       // overlong NUL
    expect(matches("^.$", b(0xed, 0xa0, 0x80))).toBe(false); // encoded surrogate
    expect(matches("^.$", b(0xf4, 0x90, 0x80, 0x80))).toBe(false); // above U+10FFFF
    expect(matches("^.$", b(0xf4, 0x8f, 0xbf, 0xbf))).toBe(true);  // U+10FFFF
    expect(matches("a.b", b(0x61, 0xe6, 0x97, 0x62))).toBe(false);
    expect(matches("a.*b", b(0x61, 0xff, 0x62))).toBe(false);
    expect(matches("a", b(0xff, 0x61, 0xff))).toBe(true);
  });

  it("do not let a search start inside a character", () => {
    expect(matches("..", "日")).toBe(false);                 // E6 97 A5: 97 A5 is not two characters
    expect(matches("^[^x]{3}$", "日")).toBe(false);
  });
});
