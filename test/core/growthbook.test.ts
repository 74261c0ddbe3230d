// `hash: growthbook-v2` in the core against the real GrowthBook JavaScript SDK: the
// same hash value and the same variation for every key, seed and weight set, so an app
// bucketing with GrowthBook and the gateway agree.
import { createRequire } from "node:module";
import { resolve } from "node:path";
import { GrowthBook } from "@growthbook/growthbook";
import { describe, expect, it, vi } from "vitest";
import { BlocksCore } from "../support/blocks-core";
import { rng } from "../support/rng";

// The SDK's own helpers (src/util.ts). The package does not export them from its entry,
// so they are loaded from the installed file; the public run() is checked below too.
interface SdkUtil {
  hash(seed: string, value: string, version: number): number | null;
  getBucketRanges(numVariations: number, coverage: number | undefined, weights?: number[]): Array<[number, number]>;
  chooseVariation(n: number, ranges: Array<[number, number]>): number;
}
const sdk = createRequire(__filename)(
  resolve(__dirname, "../../node_modules/@growthbook/growthbook/dist/cjs/util.js"),
) as SdkUtil;

const core = BlocksCore.load();


// 6,000 keys: ids, UUIDs, e-mails, numbers, and text in other scripts and with emoji
// (astral characters are surrogate pairs: two UTF-16 code units, as the SDK hashes them).
function keys(): string[] {
  const r = rng(2024);
  const scripts = ["é", "ü", "ß", "日本語", "Привет", "مرحبا", "한국어", "🙂", "👩‍💻", "𝔘𝔫𝔦", "🇺🇸", "\u0000", "\uFFFD", "\u2028"];
  const out = ["", "0", "1", "user", "a".repeat(1000), "🙂".repeat(300)];
  for (let i = 0; i < 6000; i++) {
    const k = i % 6;
    if (k === 0) out.push(`user-${i}`);
    else if (k === 1) out.push(crypto.randomUUID());
    else if (k === 2) out.push(`person${i}@example.com`);
    else if (k === 3) out.push(String(Math.floor(r() * 1e12)));
    else {
      let s = "";
      const n = 1 + Math.floor(r() * 6);
      for (let j = 0; j < n; j++) s += r() < 0.5 ? scripts[Math.floor(r() * scripts.length)] : String.fromCharCode(0x20 + Math.floor(r() * 0x5f));
      out.push(s);
    }
  }
  return out;
}

const WEIGHT_SETS = [
  [0.5, 0.5], [0.9, 0.1], [0.3333, 0.3333, 0.3334], [0.1, 0.2, 0.7], [0.25, 0.25, 0.25, 0.25],
  [0.05, 0.95], [0.01, 0.01, 0.98], [0, 1], [1],
  [0.33, 0.33, 0.33],      // sums to 0.99: accepted by the SDK, the top 1% gets no variation (-1)
  [0.5, 0.4],              // sums to 0.9: the SDK falls back to equal weights
  [0.6, 0.6],              // sums to 1.2: the same
];
const SEEDS = ["checkout-v2", "", "exp.2024_Q3", "日本-実験", "seed🙂"];

function sdkChoose(seed: string, key: string, weights: number[], coverage = 1): number {
  const n = sdk.hash(seed, key, 2) as number;
  return sdk.chooseVariation(n, sdk.getBucketRanges(weights.length, coverage, weights));
}

describe("growthbook-v2 hashing", () => {
  const ks = keys();
  vi.spyOn(console, "error").mockImplementation(() => {});   // the SDK's warnings for the fallback weight sets

  it("hash(seed, key, 2) is identical for every key and seed", () => {
    let n = 0;
    for (const seed of SEEDS) {
      const h = core.growthbook(seed, [0.5, 0.5]);
      for (const key of ks) {
        const want = sdk.hash(seed, key, 2);
        const got = core.gbHash(h, key);
        if (got !== want) expect({ seed, key, got }).toEqual({ seed, key, got: want });
        n++;
      }
    }
    expect(n).toBe(SEEDS.length * ks.length);
  });

  it("chooses the same variation for every key, seed and weight set", () => {
    let n = 0;
    const seen = new Set<number>();
    for (const seed of SEEDS) {
      for (const weights of WEIGHT_SETS) {
        const h = core.growthbook(seed, weights);
        for (const key of ks) {
          const want = sdkChoose(seed, key, weights);
          const got = core.gbChoose(h, key);
          if (got !== want) expect({ seed, weights, key, got }).toEqual({ seed, weights, key, got: want });
          seen.add(want);
          n++;
        }
      }
    }
    expect(n).toBe(SEEDS.length * WEIGHT_SETS.length * ks.length);
    expect([...seen].sort((a, b) => a - b)).toEqual([-1, 0, 1, 2, 3]);
    console.log(`growthbook-v2: ${n} (seed, weights, key) decisions identical to the SDK (${ks.length} keys)`);
  });

  it("agrees on keys that hash exactly onto a range boundary", () => {
    // n is a multiple of 0.0001, so it can equal a boundary; the SDK's ranges are
    // [start, end) in f64 and 0.3333 + 0.3333 is not the double nearest 0.6666.
    const targets = new Map<number, string[]>([[0.1, []], [0.3, []], [0.3333, []], [0.5, []], [0.6666, []], [0.9, []], [0.99, []]]);
    for (let i = 0; i < 400_000 && [...targets.values()].some((v) => v.length < 3); i++) {
      const key = `k${i}`;
      const list = targets.get(sdk.hash("boundary", key, 2) as number);
      if (list && list.length < 3) list.push(key);
    }
    let checked = 0;
    for (const [target, list] of targets) {
      expect(list.length, `keys at ${target}`).toBe(3);
      for (const weights of WEIGHT_SETS) {
        const h = core.growthbook("boundary", weights);
        for (const key of list) {
          expect(core.gbHash(h, key)).toBe(target);
          expect(core.gbChoose(h, key), `${key} at ${target} with ${weights}`).toBe(sdkChoose("boundary", key, weights));
          checked++;
        }
      }
    }
    expect(checked).toBe(targets.size * 3 * WEIGHT_SETS.length);
  });

  it("matches the SDK's coverage below 1 as well", () => {
    for (const coverage of [0, 0.5, 0.95, 1.5, -1]) {
      const h = core.growthbook("cov", [0.3333, 0.3333, 0.3334], coverage);
      for (const key of ks.slice(0, 1000)) expect(core.gbChoose(h, key)).toBe(sdkChoose("cov", key, [0.3333, 0.3333, 0.3334], coverage));
    }
  });

  it("decodes non-UTF-8 key bytes as the app would (U+FFFD, WHATWG / TextDecoder)", () => {
    const r = rng(5);
    const h = core.growthbook("bytes", [0.5, 0.5]);
    const dec = new TextDecoder();
    for (let i = 0; i < 3000; i++) {
      const b = new Uint8Array(1 + Math.floor(r() * 12));
      for (let j = 0; j < b.length; j++) b[j] = r() < 0.5 ? 0x80 + Math.floor(r() * 0x80) : Math.floor(r() * 0x100);
      expect(core.gbHash(h, b), Buffer.from(b).toString("hex")).toBe(sdk.hash("bytes", dec.decode(b), 2));
    }
    for (const hex of ["c3", "e6", "e697", "f09f", "f09f99", "eda080", "c0af", "f4908080", "ff", "80", "e0a0", "f0808080"]) {
      const b = Buffer.from(hex, "hex");
      expect(core.gbHash(h, b), hex).toBe(sdk.hash("bytes", dec.decode(b), 2));
    }
  });

  it("gives what the SDK's public GrowthBook.run() assigns", () => {
    let n = 0;
    for (const weights of [[0.5, 0.5], [0.3333, 0.3333, 0.3334], [0.1, 0.2, 0.7], [0.33, 0.33, 0.33]]) {
      const h = core.growthbook("checkout-v2", weights);
      for (const key of ks.slice(0, 1500)) {
        if (key === "") continue;   // run() leaves users without a hash attribute out
        const gb = new GrowthBook({ attributes: { id: key } });
        const res = gb.run({ key: "checkout", variations: weights.map((_, i) => i) as [number, number, ...number[]], weights, hashVersion: 2, seed: "checkout-v2", hashAttribute: "id" });
        expect(core.gbChoose(h, key), key).toBe(res.inExperiment ? res.variationId : -1);
        n++;
      }
    }
    expect(n).toBeGreaterThan(5000);
  });
});

describe("growthbook-v2 weights from tandem's percents", () => {
  it("basis points / 10000 is the double the SDK parses from the decimal fraction", () => {
    for (let bp = 0; bp <= 10000; bp++) expect(bp / 10000).toBe(Number((bp / 10000).toFixed(4)));
    // percent / 100 is not always that double, and it shows at range boundaries: with
    // 33.34/33.33/33.33 a user at n = 0.3334 gets variation 0 from percent / 100 but 1
    // from the SDK given 0.3334 (likewise n = 0.6667, and 0.0007 with 0.07/99.93). Hence
    // weightFromBp.
    expect(33.34 / 100).not.toBe(0.3334);
    const fromPercent = sdk.getBucketRanges(3, 1, [33.34 / 100, 33.33 / 100, 33.33 / 100]);
    const fromDecimal = sdk.getBucketRanges(3, 1, [0.3334, 0.3333, 0.3333]);
    expect(sdk.chooseVariation(0.3334, fromPercent)).toBe(0);
    expect(sdk.chooseVariation(0.3334, fromDecimal)).toBe(1);
  });

  it("weights given as basis points choose like the SDK given decimal fractions", () => {
    const ks = keys().slice(0, 2000);
    for (const bp of [[3333, 3333, 3334], [1000, 2000, 7000], [700, 9300], [3334, 3333, 3333], [1, 9999]]) {
      const weights = bp.map((b) => Number((b / 10000).toFixed(4)));
      const h = core.growthbook("pct", bp, 1, true);
      for (const key of ks) expect(core.gbChoose(h, key)).toBe(sdkChoose("pct", key, weights));
    }
  });
});

describe("growthbook-v2: no allocation per decision", () => {
  it("makes 100,000 decisions without growing memory", () => {
    const stub = BlocksCore.load(["--runtime", "stub"]);
    const h = stub.growthbook("seed🙂", [0.3333, 0.3333, 0.3334]);
    stub.gbChoose(h, "warm-up");
    const before = stub.memoryBytes();
    for (let i = 0; i < 100_000; i++) stub.gbChoose(h, i % 2 ? `user-${i}` : `日本-${i}-🙂`);
    expect(stub.memoryBytes()).toBe(before);
  });
});
