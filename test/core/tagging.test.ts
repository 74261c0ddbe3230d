// Tagging experiments (spec.experiments) through the core alone: each gives the routing
// experiment's key exactly the variant a routing experiment with its settings would,
// the header lists them in declared order, and the config is checked with the same
// paths and words as spec.experiment's.
import { describe, expect, it } from "vitest";
import { loadCore } from "../support/dist";
import { tandemBucket } from "../support/murmur3";
import { RULE_REASON0, type ExperimentPlan } from "../../core-js/tandem-core";
import { answerNeeds } from "../../core-js/answer-needs";

const core = loadCore();

const RECS = { name: "recs", variants: [{ name: "A", weight: 50 }, { name: "B", weight: 50 }] };
const PRICING = {
  name: "pricing", seed: "pricing-2026", hash: "growthbook-v2",
  variants: [{ name: "low", weight: 33.33 }, { name: "mid", weight: 33.33 }, { name: "high", weight: 33.34 }],
  rules: [
    { match: { header: { "x-plan": { exact: "pro" } } }, variant: "high" },
    { match: { query: { promo: { present: true } } }, split: [{ variant: "low", weight: 50 }, { variant: "mid", weight: 50 }] },
  ],
};
const LAYOUT = { name: "layout", variants: [{ name: "grid", weight: 90 }, { name: "list", weight: 10 }] };
const ROUTING = {
  name: "checkout", stickiness: { sources: ["header:x-user-id", "cookie:tandem-uid"], cookie: { name: "tandem-uid" } },
  scope: { pathPrefixes: ["/shop"] },
  variants: [{ name: "stable", weight: 80 }, { name: "canary", weight: 20 }],
};

function configure(experiments: unknown[], routing: Record<string, unknown> = ROUTING): ExperimentPlan {
  return core.configureExperiment(JSON.stringify({ ...routing, experiments }));
}

interface Req { headers?: Record<string, string>; path?: string; now?: number }
function decide(plan: ExperimentPlan, r: Req) {
  const facts = answerNeeds(plan.needs, { headers: { "x-request-id": "rid", ...r.headers }, path: r.path ?? "/shop/x", method: "GET", ip: "10.0.0.1" });
  return core.decideExperiment(plan, facts, r.now ?? 0);
}

// The variant a routing experiment with `entry`'s settings gives key `key` for `r`.
function routedAs(entry: Record<string, unknown>, key: string, r: Req = {}): string {
  const plan = core.configureExperiment(JSON.stringify({ ...entry, stickiness: { sources: ["header:x-key"] } }));
  try {
    const d = decide(plan, { ...r, headers: { ...r.headers, "x-key": key } });
    return plan.variants[d.variant].name;
  } finally {
    core.release(plan);
  }
}

const parse = (tags: string | null) => Object.fromEntries((tags ?? "").split("; ").map((p) => p.split("=")));

describe("tagging experiments: assignment", () => {
  const plan = configure([RECS, PRICING, LAYOUT]);

  it("gives each key what a routing experiment with the same seed, hash and weights gives it", () => {
    const seen = { recs: new Set<string>(), pricing: new Set<string>(), layout: new Set<string>() };
    for (let i = 0; i < 600; i++) {
      const key = `user-${i}`;
      const tags = parse(decide(plan, { headers: { "x-user-id": key } }).tags);
      expect(tags.recs).toBe(routedAs(RECS, key));
      expect(tags.pricing).toBe(routedAs(PRICING, key));
      expect(tags.layout).toBe(routedAs(LAYOUT, key));
      for (const k of ["recs", "pricing", "layout"] as const) seen[k].add(tags[k]);
    }
    expect(seen.recs).toEqual(new Set(["A", "B"]));
    expect(seen.pricing).toEqual(new Set(["low", "mid", "high"]));
    expect(seen.layout).toEqual(new Set(["grid", "list"]));
  });

  it("buckets with the entry's own seed (default: its name), not the routing experiment's", () => {
    let differ = 0;
    for (let i = 0; i < 300; i++) {
      const key = `k${i}`;
      decide(plan, { headers: { "x-user-id": key } });
      const t = core.lastTags(plan);
      expect(t[0].bucket).toBe(tandemBucket("recs", key));
      expect(t[2].bucket).toBe(tandemBucket("layout", key));
      if (t[0].bucket !== core.lastBucket(plan)) differ++;
    }
    expect(differ).toBeGreaterThan(290);
  });

  it("evaluates an entry's rules on the same request facts, in one fact plan", () => {
    // the rules' facts join the routing experiment's needs: one fetch for everything
    expect(plan.needs).toContainEqual({ kind: 0, name: "x-plan" });
    for (let i = 0; i < 100; i++) {
      const key = `r${i}`;
      const pro = { headers: { "x-user-id": key, "x-plan": "pro" } };
      expect(parse(decide(plan, pro).tags).pricing).toBe("high");
      expect(core.lastTags(plan)[1]).toMatchObject({ name: "pricing", variant: "high", reason: RULE_REASON0, bucket: -1 });
      const promo = { headers: { "x-user-id": key }, path: "/shop/x?promo" };
      const got = parse(decide(plan, promo).tags).pricing;
      expect(got).toBe(routedAs(PRICING, key, { path: "/shop/x?promo" }));
      expect(["low", "mid"]).toContain(got);
    }
  });

  it("uses the id a new user is issued as the key, so the next request keeps the tags", () => {
    for (let i = 0; i < 200; i++) {
      const first = decide(plan, { headers: { "x-request-id": `req-${i}` } });
      const id = /^tandem-uid=([0-9a-f]{32});/.exec(first.setCookie!)![1];
      const back = decide(plan, { headers: { cookie: `tandem-uid=${id}` } });
      expect(back.setCookie).toBeNull();
      expect(back.tags).toBe(first.tags);
      expect(parse(first.tags).recs).toBe(routedAs(RECS, id));
    }
  });

  it("follows an entry's rollout at the adapter's now, and asks adapters for the clock", () => {
    const ramp = { ...LAYOUT, rollout: { variant: "list", start: "1970-01-01T00:00:00Z", steps: [{ weight: 0, after: "0m" }, { weight: 100, after: "1h" }] } };
    const p = configure([ramp], { ...ROUTING, scope: undefined });
    expect(p.clock).toBe(true);
    expect(configure([RECS]).clock).toBe(false);
    expect(parse(decide(p, { headers: { "x-user-id": "u" }, now: 0 }).tags).layout).toBe("grid");
    expect(parse(decide(p, { headers: { "x-user-id": "u" }, now: 3600_000 }).tags).layout).toBe("list");
    expect(core.lastTags(p)[0].reason).toBe(1); // ramp
  });

  it("keeps tag shares independent of the routed variant", () => {
    const n = { stable: [0, 0], canary: [0, 0] } as Record<string, number[]>;
    for (let i = 0; i < 20_000; i++) {
      const d = decide(plan, { headers: { "x-user-id": `ind-${i}` } });
      n[plan.variants[d.variant].name][parse(d.tags).recs === "B" ? 1 : 0]++;
    }
    for (const v of ["stable", "canary"]) expect(n[v][1] / (n[v][0] + n[v][1])).toBeCloseTo(0.5, 1);
  });
});

describe("tagging experiments: the header", () => {
  const plan = configure([RECS, PRICING, LAYOUT]);

  it("names every tagging experiment in declared order as name=variant joined by '; '", () => {
    const tags = decide(plan, { headers: { "x-user-id": "alice" } }).tags!;
    expect(tags).toMatch(/^recs=(A|B); pricing=(low|mid|high); layout=(grid|list)$/);
    expect(plan.tags.map((t) => t.name)).toEqual(["recs", "pricing", "layout"]);
    expect(plan.tags[1].variants).toEqual(["low", "mid", "high"]);
  });

  it("is absent out of the routing experiment's scope", () => {
    const d = decide(plan, { headers: { "x-user-id": "alice" }, path: "/static/app.js" });
    expect(d.variant).toBe(-1);
    expect(d.tags).toBeNull();
    expect(core.lastTags(plan)).toEqual([]);
  });

  it("is absent without tagging experiments", () => {
    const p = core.configureExperiment(JSON.stringify(ROUTING));
    expect(p.tags).toEqual([]);
    expect(decide(p, { headers: { "x-user-id": "alice" } }).tags).toBeNull();
  });

  it("holds the longest names of 32 entries (the scratch is sized at configure time)", () => {
    const long = (c: string) => c.repeat(64);
    const many = Array.from({ length: 32 }, (_, i) => ({ name: `${long("e")}`.slice(0, 62) + String(i).padStart(2, "0"), variants: [{ name: long("v"), weight: 100 }] }));
    const p = configure(many);
    const tags = decide(p, { headers: { "x-user-id": "u" } }).tags!;
    expect(tags.split("; ")).toHaveLength(32);
    expect(tags.length).toBe(32 * (64 + 1 + 64) + 31 * 2);
  });
});

describe("tagging experiments: validation", () => {
  const reject = (experiments: unknown, routing: Record<string, unknown> = ROUTING) => {
    let plugin: string | null = null;
    try { configure(experiments as unknown[], routing); } catch (e) { plugin = (e as Error).message; }
    // the same words from `tandem validate` on the whole policy
    const policy = core.validatePolicy(JSON.stringify({
      apiVersion: "tandem.dev/v1alpha1", kind: "TrafficPolicy", metadata: { name: "t" }, spec: { experiment: routing, experiments },
    }));
    expect(policy).toBe(plugin);
    return plugin;
  };

  it("shares spec.experiment's rules and texts, with paths under experiments[i]", () => {
    expect(reject([RECS, { name: "b", variants: [{ name: "x", weight: 120 }] }])).toBe("experiments[1].variants[0].weight: must be between 0 and 100, got 120");
    expect(reject([{ name: "b", variants: [{ name: "x", weight: 60 }, { name: "y", weight: 30 }] }])).toBe("experiments[0].variants: weights must sum to 100, got 90");
    expect(reject([{ name: "b c", variants: [{ name: "x", weight: 100 }] }])).toBe('experiments[0].name: must match [A-Za-z0-9._-]{1,64}, got "b c"');
    expect(reject([{ name: "b", hash: "md5", variants: [{ name: "x", weight: 100 }] }])).toMatch(/^experiments\[0\]\.hash: must be one of tandem, growthbook-v2\b.*, got "md5"$/);
    expect(reject([{ ...RECS, rules: [{ match: { header: { "x-a": { exact: "1" } } }, variant: "C" }] }])).toBe('experiments[0].rules[0].variant: must name one of the experiment\'s variants, got "C"');
    expect(reject([{ ...RECS, rules: [{ match: { header: { "x-a": { regex: "(a)\\1" } } }, variant: "A" }] }])).toMatch(/^experiments\[0\]\.rules\[0\]\.match\.header\.x-a\.regex: invalid regex: backreferences are not supported/);
  });

  it("rejects what only a routing experiment has, naming the allowed fields", () => {
    const allowed = "(allowed: name, seed, variants, rules, hash, rollout)";
    for (const f of ["stickiness", "variantHeader", "scope", "override", "exposeHeader"]) {
      expect(reject([{ ...RECS, [f]: {} }])).toBe(`experiments[0].${f}: unknown field ${allowed}`);
    }
    expect(reject([{ name: "b", variants: [{ name: "x", weight: 100, upstream: "api-v2" }] }])).toBe("experiments[0].variants[0].upstream: unknown field (allowed: name, weight)");
    expect(reject([{ name: "b", variants: [{ name: "x", weight: 100, guard: {} }] }])).toBe("experiments[0].variants[0].guard: unknown field (allowed: name, weight)");
  });

  it("wants unique names, a non-empty list of at most 32, and a header of its own", () => {
    expect(reject([RECS, LAYOUT, { ...RECS, seed: "other" }])).toBe('experiments[2].name: must be unique, got "recs"');
    expect(reject([])).toBe("experiments: must not be empty");
    expect(reject("recs")).toBe('experiments: must be an array, got "recs"');
    expect(reject(Array.from({ length: 33 }, (_, i) => ({ name: `e${i}`, variants: [{ name: "x", weight: 100 }] })))).toBe("experiments: must have at most 32 experiments, got 33");
    expect(reject([RECS], { ...ROUTING, variantHeader: "X-Tandem-Experiments" })).toBe('experiment.variantHeader: must not be x-tandem-experiments (the tagging experiments\' header), got "x-tandem-experiments"');
  });

  it("treats null as absent (Kong's stored config) inside entries and for the list", () => {
    const p = configure([{ ...RECS, seed: null, rules: null, hash: null, rollout: null }]);
    expect(decide(p, { headers: { "x-user-id": "k" } }).tags).toBe(`recs=${routedAs(RECS, "k")}`);
    const none = core.configureExperiment(JSON.stringify({ ...ROUTING, experiments: null }));
    expect(none.tags).toEqual([]);
  });

  it("need spec.experiment in a policy: it supplies the key and the scope", () => {
    const msg = core.validatePolicy(JSON.stringify({ apiVersion: "tandem.dev/v1alpha1", kind: "TrafficPolicy", metadata: { name: "t" }, spec: { experiments: [RECS] } }));
    expect(msg).toBe("experiments: needs spec.experiment: tagging experiments use its user key and scope (to only tag, declare one with a single variant of weight 100)");
    const tagOnly = { name: "tags", variants: [{ name: "all", weight: 100 }] };
    expect(core.validatePolicy(JSON.stringify({ apiVersion: "tandem.dev/v1alpha1", kind: "TrafficPolicy", metadata: { name: "t" }, spec: { experiment: tagOnly, experiments: [RECS] } }))).toBeNull();
  });
});
