// `hash: unleash` in the core against the real Unleash Node SDK (unleash-client 6): the
// same target value and the same variant for every key, groupId (tandem's seed) and
// weight set, so an app that asks Unleash for a variant and the gateway agree.
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { answerNeeds } from "../../core-js/answer-needs";
import { CoreError, type ExperimentPlan } from "../../core-js/tandem-core";
import { compileTestEntry } from "../support/compile-entry";
import { loadCore } from "../support/dist";
import { rng } from "../support/rng";

// The SDK's own functions, loaded from the installed files: lib/variant.js
// (selectVariantDefinition: what getVariant runs for strategy variants, groupId from
// the strategy; selectVariant: feature variants, groupId = the feature name) and
// lib/strategy/util.js (normalizedVariantValue: the 1-based target).
interface UnleashVariant { name: string; weight: number; stickiness?: string; weightType?: string }
const sdkRequire = createRequire(__filename);
const sdkDir = resolve(__dirname, "../../node_modules/unleash-client/lib");
const sdkVariant = sdkRequire(`${sdkDir}/variant.js`) as {
  selectVariantDefinition(groupId: string, stickiness: string | undefined, variants: UnleashVariant[], context: Record<string, unknown>): UnleashVariant | null;
  selectVariant(feature: { name: string; variants: UnleashVariant[] }, context: Record<string, unknown>): UnleashVariant | null;
};
const sdkUtil = sdkRequire(`${sdkDir}/strategy/util.js`) as {
  normalizedVariantValue(id: string, groupId: string, normalizer: number): number;
};
const { Unleash, InMemStorageProvider } = sdkRequire("unleash-client") as typeof import("unleash-client");

const core = loadCore();
const NAME = "checkout-v2";

// tandem percent weights -> Unleash weights (1000 = 100%)
const toUnleash = (percents: number[]): UnleashVariant[] =>
  percents.map((p, i) => ({ name: `v${i}`, weight: Math.round(p * 10), stickiness: "default", weightType: "variable" }));

function plan(percents: number[], extra: Record<string, unknown> = {}): ExperimentPlan {
  return core.configureExperiment(JSON.stringify({
    name: NAME, hash: "unleash", stickiness: { sources: ["header:x-user-id"] },
    variants: percents.map((w, i) => ({ name: `v${i}`, weight: w })), ...extra,
  }));
}

// The variant name and bucket the production core gives `key` (sent as UTF-8).
function decide(p: ExperimentPlan, key: string, headers: Record<string, string> = {}, now = 0): { name: string; bucket: number } {
  const d = core.decideExperiment(p, answerNeeds(p.needs, { headers: { "x-user-id": key, "x-request-id": "r", ...headers } }), now);
  expect(core.lastKeySource(p), key).toBe(0);   // keyed by the header, not a generated id
  return { name: p.variants[d.variant].name, bucket: core.lastBucket(p) };
}

// ~4,000 keys: ids, UUIDs, e-mails, numbers, text in other scripts, emoji (astral: two
// UTF-16 code units, whose low bytes the SDK hashes), NUL and U+FFFD. Never empty and
// without spaces or tabs at the ends (the gateway trims those off a header value).
function keys(n = 4000): string[] {
  const r = rng(86028157);
  const scripts = ["é", "ü", "ß", "ÿ", "Ā", "日本語", "Привет", "مرحبا", "한국어", "🙂", "👩‍💻", "𝔘𝔫𝔦", "🇺🇸", "\u0000", "\uFFFD", "\u2028", "\u0100\u0200"];
  const out = ["0", "1", "user", "a".repeat(1000), "🙂".repeat(300), "Ā", "ā"];
  for (let i = 0; out.length < n; i++) {
    const k = i % 6;
    let s: string;
    if (k === 0) s = `user-${i}`;
    else if (k === 1) s = crypto.randomUUID();
    else if (k === 2) s = `person${i}@example.com`;
    else if (k === 3) s = String(Math.floor(r() * 1e12));
    else {
      s = "";
      const m = 1 + Math.floor(r() * 6);
      for (let j = 0; j < m; j++) s += r() < 0.5 ? scripts[Math.floor(r() * scripts.length)] : String.fromCharCode(0x20 + Math.floor(r() * 0x5f));
    }
    s = s.replace(/^[ \t]+|[ \t]+$/g, "");
    if (s !== "") out.push(s);
  }
  return out;
}

const WEIGHT_SETS = [
  [50, 50], [90, 10], [33.3, 33.3, 33.4], [10, 20, 70], [25, 25, 25, 25], [0.1, 99.9], [99.9, 0.1],
  [0, 100], [100], [40, 0, 60], [12.5, 12.5, 75], [0.1, 0.1, 99.8],
];
// seed (groupId); undefined: the experiment name, as Unleash's groupId defaults to the feature name
const SEEDS: Array<string | undefined> = [undefined, "exp.2024_Q3", "日本-実験", "seed🙂", "ÿ-Ā"];

describe("hash: unleash against unleash-client", () => {
  const ks = keys();

  it("gives every key the SDK's variant and target, for every seed and weight set", () => {
    let n = 0;
    const seen = new Set<string>();
    for (const seed of SEEDS) {
      const groupId = seed ?? NAME;
      for (const weights of WEIGHT_SETS) {
        const p = plan(weights, seed === undefined ? {} : { seed });
        const variants = toUnleash(weights);
        for (const key of ks) {
          const want = sdkVariant.selectVariantDefinition(groupId, "default", variants, { userId: key })!.name;
          const got = decide(p, key);
          if (got.name !== want) expect({ seed, weights, key, got: got.name }).toEqual({ seed, weights, key, got: want });
          const target = sdkUtil.normalizedVariantValue(key, groupId, 1000);   // 1..1000
          if (got.bucket !== (target - 1) * 10) expect({ seed, key, bucket: got.bucket }).toEqual({ seed, key, bucket: (target - 1) * 10 });
          seen.add(want);
          n++;
        }
        core.release(p);
      }
    }
    expect(n).toBe(SEEDS.length * WEIGHT_SETS.length * ks.length);
    expect([...seen].sort()).toEqual(["v0", "v1", "v2", "v3"]);
    console.log(`hash: unleash: ${n} (seed, weights, key) decisions identical to unleash-client (${ks.length} keys)`);
  });

  it("groupId defaults like Unleash's: the experiment name is the feature name", () => {
    const weights = [33.3, 33.3, 33.4];
    const p = plan(weights);
    const feature = { name: NAME, variants: toUnleash(weights) };
    for (const key of ks.slice(0, 2000)) expect(decide(p, key).name, key).toBe(sdkVariant.selectVariant(feature, { userId: key })!.name);
  });

  it("agrees on keys whose target is exactly a cumulative weight (Unleash: counter >= target)", () => {
    // [33.3, 33.3, 33.4] -> Unleash 333, 333, 334: targets 333 | 334 and 666 | 667 sit on the edges
    const wanted = new Map<number, string[]>([[1, []], [333, []], [334, []], [666, []], [667, []], [1000, []]]);
    for (let i = 0; i < 2_000_000 && [...wanted.values()].some((l) => l.length < 3); i++) {
      const list = wanted.get(sdkUtil.normalizedVariantValue(`k${i}`, "edge", 1000));
      if (list && list.length < 3) list.push(`k${i}`);
    }
    const variants = toUnleash([33.3, 33.3, 33.4]);
    const p = plan([33.3, 33.3, 33.4], { seed: "edge" });
    const expectVariant = new Map([[1, "v0"], [333, "v0"], [334, "v1"], [666, "v1"], [667, "v2"], [1000, "v2"]]);
    for (const [target, list] of wanted) {
      expect(list.length, `keys at target ${target}`).toBe(3);
      for (const key of list) {
        expect(sdkVariant.selectVariantDefinition("edge", "default", variants, { userId: key })!.name).toBe(expectVariant.get(target));
        expect(decide(p, key), `${key} at ${target}`).toEqual({ name: expectVariant.get(target), bucket: (target - 1) * 10 });
      }
    }
  });

  it("splits of rules use the same hash", () => {
    const p = plan([90, 10, 0], {
      seed: "rules-seed",
      rules: [{ match: { header: { "x-beta": { present: true } } }, split: [{ variant: "v2", weight: 30 }, { variant: "v0", weight: 70 }] }],
    });
    const split: UnleashVariant[] = [{ name: "v2", weight: 300 }, { name: "v0", weight: 700 }];
    const seen = new Set<string>();
    for (const key of ks.slice(0, 3000)) {
      const want = sdkVariant.selectVariantDefinition("rules-seed", "default", split, { userId: key })!.name;
      expect(decide(p, key, { "x-beta": "1" }).name, key).toBe(want);
      seen.add(want);
    }
    expect(seen).toEqual(new Set(["v0", "v2"]));
  });

  it("a rollout step's weights choose like Unleash given those weights", () => {
    const start = Date.parse("2026-11-27T10:00:00Z");
    const p = plan([100, 0], { rollout: { start: "2026-11-27T10:00:00Z", steps: [{ weight: 5, after: "0m" }, { weight: 25.5, after: "1h" }] } });
    for (const [now, w] of [[start + 60_000, [95, 5]], [start + 7_200_000, [74.5, 25.5]]] as const) {
      const variants = toUnleash([...w]);
      for (const key of ks.slice(0, 1500)) {
        expect(decide(p, key, {}, now).name, `${key} at ${now}`).toBe(sdkVariant.selectVariantDefinition(NAME, "default", variants, { userId: key })!.name);
      }
    }
  });

  it("gives what the SDK's public Unleash.getVariant() assigns", async () => {
    const sets = [[50, 50], [33.3, 33.3, 33.4], [10, 20, 70]];
    const features = sets.map((w, i) => ({ name: `f${i}`, enabled: true, strategies: [], variants: toUnleash(w) }));
    const client = new Unleash({
      appName: "tandem-test", url: "http://127.0.0.1:9/api/", refreshInterval: 0, disableMetrics: true,
      bootstrap: { data: features as never }, storageProvider: new InMemStorageProvider(), skipInstanceCountWarning: true,
    });
    client.on("error", () => {});
    try {
      await new Promise<void>((ok) => client.once("ready", () => ok()));
      let n = 0;
      for (let i = 0; i < sets.length; i++) {
        const p = plan(sets[i], { name: `f${i}` });
        for (const key of ks.slice(0, 1500)) {
          expect(decide(p, key).name, key).toBe(client.getVariant(`f${i}`, { userId: key }).name);
          n++;
        }
      }
      expect(n).toBe(4500);
    } finally {
      client.destroy();
    }
  });
});

describe("hash: unleash configuration", () => {
  function reject(exp: Record<string, unknown>): string {
    try { core.configureExperiment(JSON.stringify(exp)); } catch (e) { expect(e).toBeInstanceOf(CoreError); return (e as Error).message; }
    throw new Error("accepted");
  }
  const base = { name: "u", hash: "unleash", stickiness: { sources: ["header:x-user-id"] } };

  it("rejects weights Unleash cannot express (not whole tenths of a percent), naming the field", () => {
    const rule = "must be a multiple of 0.1 with hash: unleash (Unleash weighs variants in tenths of a percent)";
    expect(reject({ ...base, variants: [{ name: "a", weight: 33.33 }, { name: "b", weight: 66.67 }] }))
      .toBe(`experiment.variants[0].weight: ${rule}, got 33.33`);
    expect(reject({ ...base, variants: [{ name: "a", weight: 99.9 }, { name: "b", weight: 0.05 }, { name: "c", weight: 0.05 }] }))
      .toBe(`experiment.variants[1].weight: ${rule}, got 0.05`);
    expect(reject({ ...base, variants: [{ name: "a", weight: 50 }, { name: "b", weight: 50 }],
      rules: [{ match: { header: { "x-a": { present: true } } }, split: [{ variant: "a", weight: 12.5 }, { variant: "b", weight: 87.45 }, { variant: "a", weight: 0.05 }] }] }))
      .toBe(`experiment.rules[0].split[1].weight: ${rule}, got 87.45`);
    expect(reject({ ...base, variants: [{ name: "a", weight: 100 }, { name: "b", weight: 0 }],
      rollout: { start: "2026-11-27T10:00:00Z", steps: [{ weight: 5, after: "0m" }, { weight: 25.25, after: "1h" }] } }))
      .toBe(`experiment.rollout.steps[1].weight: ${rule}, got 25.25`);
    // the same weights are fine for tandem's own hash
    expect(() => core.configureExperiment(JSON.stringify({ ...base, hash: "tandem", variants: [{ name: "a", weight: 33.33 }, { name: "b", weight: 66.67 }] }))).not.toThrow();
  });

  it("lists unleash among the hash modes, with the same text from tandem validate", () => {
    expect(reject({ ...base, hash: "murmur", variants: [{ name: "a", weight: 100 }] }))
      .toBe('experiment.hash: must be one of tandem, growthbook-v2, unleash, got "murmur"');
    const doc = (exp: Record<string, unknown>) => JSON.stringify({ apiVersion: "tandem.dev/v1alpha1", kind: "TrafficPolicy", metadata: { name: "p" }, spec: { experiment: exp } });
    expect(core.validatePolicy(doc({ ...base, hash: "murmur", variants: [{ name: "a", weight: 100 }] })))
      .toBe('experiment.hash: must be one of tandem, growthbook-v2, unleash, got "murmur"');
    expect(core.validatePolicy(doc({ ...base, variants: [{ name: "a", weight: 50.05 }, { name: "b", weight: 49.95 }] })))
      .toBe("experiment.variants[0].weight: must be a multiple of 0.1 with hash: unleash (Unleash weighs variants in tenths of a percent), got 50.05");
    expect(core.validatePolicy(doc({ ...base, variants: [{ name: "a", weight: 50.1 }, { name: "b", weight: 49.9 }] }))).toBeNull();
  });
});

// The hash alone, on raw key bytes (invalid UTF-8 too), through a test entry.
interface Entry {
  memory: WebAssembly.Memory;
  _initialize?: () => void;
  unleash_arena(size: number): number;
  unleash_new(len: number): number;
  unleash_bucket(h: number, len: number): number;
  unleash_bucket_repeat(h: number, len: number, times: number): number;
  unleash_memory_bytes(): number;
}
function loadEntry(extra: string[] = []): { bucket(h: number, key: Uint8Array): number; group(id: string): number; ex: Entry; put(b: Uint8Array): number } {
  const bytes = readFileSync(compileTestEntry("wasm/core/testing/unleash-api.ts", extra));
  const ex = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { abort() { throw new Error("unleash entry aborted"); } } }).exports as unknown as Entry;
  ex._initialize?.();
  const put = (b: Uint8Array) => { const p = ex.unleash_arena(b.length + 16); new Uint8Array(ex.memory.buffer).set(b, p); return b.length; };
  return {
    ex, put,
    group: (id) => ex.unleash_new(put(new TextEncoder().encode(id))),
    bucket: (h, key) => ex.unleash_bucket(h, put(key)),
  };
}

describe("hash: unleash on raw bytes", () => {
  it("decodes non-UTF-8 key bytes as the app would (U+FFFD, WHATWG / TextDecoder)", () => {
    const e = loadEntry();
    const h = e.group("bytes🙂");
    const dec = new TextDecoder();
    const r = rng(7);
    const target = (b: Uint8Array) => (sdkUtil.normalizedVariantValue(dec.decode(b), "bytes🙂", 1000) - 1) * 10;
    for (let i = 0; i < 4000; i++) {
      const b = new Uint8Array(1 + Math.floor(r() * 12));
      for (let j = 0; j < b.length; j++) b[j] = r() < 0.5 ? 0x80 + Math.floor(r() * 0x80) : Math.floor(r() * 0x100);
      expect(e.bucket(h, b), Buffer.from(b).toString("hex")).toBe(target(b));
    }
    for (const hex of ["c3", "e6", "e697", "f09f", "f09f99", "eda080", "c0af", "f4908080", "ff", "80", "e0a0", "f0808080", "c3a9", "f09f9982"]) {
      const b = Buffer.from(hex, "hex");
      expect(e.bucket(h, b), hex).toBe(target(b));
    }
  });

  it("makes 100,000 decisions without growing memory once the longest key was seen", () => {
    const e = loadEntry(["--runtime", "stub"]);
    const h = e.group("seed🙂");
    const enc = new TextEncoder();
    e.bucket(h, enc.encode("日本-🙂".repeat(400)));   // grows the scratch to its largest
    const before = e.ex.unleash_memory_bytes();
    for (let i = 0; i < 20_000; i++) e.bucket(h, enc.encode(i % 2 ? `user-${i}` : `日本-${i}-🙂`));
    e.ex.unleash_bucket_repeat(h, e.put(enc.encode("🙂".repeat(900))), 80_000);
    expect(e.ex.unleash_memory_bytes()).toBe(before);
  });
});
