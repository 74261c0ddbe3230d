import { describe, expect, it } from "vitest";
import { murmur3, tandemBucket } from "../support/murmur3";
import { loadCore } from "../support/dist";

// Published MurmurHash3 x86_32 vectors: they pin the reference used below.
describe("reference murmur3", () => {
  it("matches published vectors", () => {
    const e = new TextEncoder();
    expect(murmur3(e.encode(""), 0)).toBe(0);
    expect(murmur3(e.encode(""), 1)).toBe(0x514e28b7);
    expect(murmur3(e.encode(""), 0xffffffff)).toBe(0x81f16f39);
    expect(murmur3(e.encode("hello"), 0)).toBe(0x248bfa47);
    expect(murmur3(e.encode("Hello, world!"), 1234)).toBe(0xfaf6cdb3);
    expect(murmur3(e.encode("The quick brown fox jumps over the lazy dog"), 0x9747b28c)).toBe(0x2fa826cd);
  });
});

describe("tandem bucketing in the core", () => {
  const core = loadCore();
  const plan = core.configureExperiment(JSON.stringify({
    name: "checkout-v2",
    stickiness: { sources: ["header:x-user-id"] },
    variants: [{ name: "a", weight: 50 }, { name: "b", weight: 50 }],
  }));

  it("is exactly the documented formula, for ASCII, non-ASCII and odd bytes", () => {
    const keys = ["u1", "", "ü", "日本語", "emoji-🙂", "a".repeat(1000), "tab\tin", " spaced "];
    for (let i = 0; i < 3000; i++) keys.push(`user-${i}-${String.fromCharCode(0x100 + (i % 500))}`);
    for (const key of keys) {
      const d = core.decideExperiment(plan, [key, "entropy"], 0);
      const trimmed = key.replace(/^[ \t]+|[ \t]+$/g, "");
      if (trimmed === "") continue; // empty keys are not keys: a generated id is used instead
      expect(core.lastBucket(plan), key).toBe(tandemBucket("checkout-v2", trimmed));
      expect(d.variant).toBe(core.lastBucket(plan) < 5000 ? 0 : 1);
    }
  });

  it("spreads 100k users evenly (chi-square over 100 buckets)", () => {
    const counts = new Array(100).fill(0);
    for (let i = 0; i < 100_000; i++) {
      core.decideExperiment(plan, [`id-${i}`, "e"], 0);
      counts[Math.floor(core.lastBucket(plan) / 100)]++;
    }
    const expected = 1000;
    const chi = counts.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
    // 99 degrees of freedom: p = 0.001 critical value is 148.2
    expect(chi).toBeLessThan(148.2);
  });
});
