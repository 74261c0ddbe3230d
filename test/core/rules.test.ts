// A/B rules, QA override, time-based rollout, hash modes and the decision header,
// through the production core (tandem-core.wasm), as both gateways run it.
import { describe, expect, it } from "vitest";
import { createHmac } from "node:crypto";
import { createRequire } from "node:module";
import { resolve } from "node:path";
import { loadCore } from "../support/dist";
import { CoreError, reasonName, type ExperimentPlan } from "../../core-js/tandem-core";
import { answerNeeds } from "../../core-js/answer-needs";

const core = loadCore();
const VARIANTS = [{ name: "stable", weight: 90 }, { name: "canary", weight: 10 }, { name: "beta", weight: 0 }];

function plan(extra: Record<string, unknown>): ExperimentPlan {
  return core.configureExperiment(JSON.stringify({ name: "exp", stickiness: { sources: ["header:x-user-id"] }, variants: VARIANTS, ...extra }));
}
function decide(p: ExperimentPlan, headers: Record<string, string>, path = "/", method = "GET", now = 0) {
  const d = core.decideExperiment(p, answerNeeds(p.needs, { headers: { "x-request-id": "r", host: "shop.example.com", ...headers }, path, method, ip: "1.2.3.4" }), now);
  return { ...d, name: d.variant >= 0 ? p.variants[d.variant].name : null, why: reasonName(d.reason) };
}
function reject(extra: Record<string, unknown>): string {
  try { plan(extra); } catch (e) { expect(e).toBeInstanceOf(CoreError); return (e as Error).message; }
  throw new Error("accepted");
}

describe("rules", () => {
  const p = plan({
    rules: [
      { match: { header: { "X-Beta": { exact: "YES", ignoreCase: true } } }, variant: "beta" },
      { match: { cookie: { experiment: { exact: "new-ui" } }, path: { prefix: "/app" } }, variant: "canary" },
      { match: { query: { plan: { regex: "^(pro|team)-[0-9]{2,}$" } }, method: { exact: "GET" } }, split: [{ variant: "stable", weight: 50 }, { variant: "canary", weight: 50 }] },
      { match: { host: { suffix: ".EU.example.com" }, header: { "x-country": { present: false } } }, variant: "canary" },
      { match: { header: { "user-agent": { contains: "bot", invert: true }, "x-tier": { present: true } } }, variant: "stable" },
    ],
  });

  it("first match wins, all conditions must hold, names case-insensitive for headers", () => {
    expect(decide(p, { "x-beta": "yes", cookie: "experiment=new-ui" }, "/app").why).toBe("rule:0");
    expect(decide(p, { "x-beta": "yes" }).name).toBe("beta");
    expect(decide(p, { cookie: "a=b; experiment=new-ui" }, "/app/x?y=1")).toMatchObject({ name: "canary", why: "rule:1" });
    expect(decide(p, { cookie: "experiment=new-ui" }, "/shop").why).toBe("split");          // path fails
    expect(decide(p, { cookie: "experiment=new-ui-2" }, "/app").why).toBe("split");         // exact, parsed cookie
  });

  it("regex, method and cohort splits that stay sticky", () => {
    const seen = new Set<string | null>();
    for (let i = 0; i < 200; i++) {
      const d = decide(p, { "x-user-id": `u${i}` }, "/p?plan=pro-12");
      expect(d.why).toBe("rule:2");
      expect(decide(p, { "x-user-id": `u${i}` }, "/p?plan=pro-12").name).toBe(d.name);
      seen.add(d.name);
    }
    expect(seen).toEqual(new Set(["stable", "canary"]));
    expect(decide(p, {}, "/p?plan=pro-1").why).toBe("split");
    expect(decide(p, {}, "/p?plan=pro-12", "POST").why).toBe("split");
  });

  it("host without port ignoring case, present:false, invert", () => {
    expect(decide(p, { host: "Shop.EU.Example.com:8443" }).why).toBe("rule:3");
    expect(decide(p, { host: "shop.eu.example.com", "x-country": "de" }).why).toBe("split");
    expect(decide(p, { "x-tier": "gold", "user-agent": "Mozilla" }).why).toBe("rule:4");
    expect(decide(p, { "x-tier": "gold", "user-agent": "Googlebot" }).why).toBe("split");
    expect(decide(p, { "x-tier": "gold" }).why).toBe("rule:4");     // missing header: contains fails, inverted holds
  });

  it("cost stays linear: a pathological regex on a 100 KB header decides", () => {
    const q = plan({ rules: [{ match: { header: { "x-a": { regex: "(a+)+$" } } }, variant: "beta" }] });
    expect(decide(q, { "x-a": "a".repeat(100_000) + "!" }).why).toBe("split");
    expect(decide(q, { "x-a": "a".repeat(100_000) }).why).toBe("rule:0");
  });

  it("rejects bad rules with field paths", () => {
    expect(reject({ rules: [{ match: { header: { "x-a": { exact: "1" } } }, variant: "gamma" }] }))
      .toBe("experiment.rules[0].variant: must name one of the experiment's variants, got \"gamma\"");
    expect(reject({ rules: [{ match: { header: { "x-a": { regex: "(a)\\1" } } }, variant: "beta" }] }))
      .toMatch(/^experiment\.rules\[0\]\.match\.header\.x-a\.regex: invalid regex: backreferences are not supported at byte \d+$/);
    expect(reject({ rules: [{ match: { header: { "x-a": { regex: "(?=a)" } } }, variant: "beta" }] }))
      .toMatch(/^experiment\.rules\[0\]\.match\.header\.x-a\.regex: invalid regex: lookaround is not supported/);
    expect(reject({ rules: [{ match: { header: { "x-a": { exact: "1", prefix: "2" } } }, variant: "beta" }] }))
      .toBe("experiment.rules[0].match.header.x-a: must have exactly one of exact, prefix, suffix, contains, regex, present");
    expect(reject({ rules: [{ match: { colour: { exact: "1" } }, variant: "beta" }] }))
      .toBe("experiment.rules[0].match.colour: unknown field (allowed: header, cookie, query, path, method, host)");
    expect(reject({ rules: [{ match: {}, variant: "beta" }] })).toBe("experiment.rules[0].match: must not be empty");
    expect(reject({ rules: [{ match: { path: { prefix: "/" } }, variant: "beta", split: [] }] })).toBe("experiment.rules[0]: must have exactly one of variant, split");
    expect(reject({ rules: [{ match: { path: { prefix: "/" } }, split: [{ variant: "stable", weight: 60 }, { variant: "beta", weight: 30 }] }] }))
      .toBe("experiment.rules[0].split: weights must sum to 100, got 90");
  });
});

describe("QA override", () => {
  const secret = "0123456789abcdef-secret";
  const p = plan({ override: { header: "x-tandem-force", secret } });
  const token = (v: string, s = secret) => `${v}.${createHmac("sha256", s).update(v).digest("hex")}`;

  it("forces a variant only with a valid HMAC token, and asks for the header to be stripped", () => {
    expect(decide(p, { "x-tandem-force": token("beta") })).toMatchObject({ name: "beta", why: "override", stripOverride: true });
    expect(decide(p, { "x-tandem-force": token("beta", "another-secret-xxxxx") })).toMatchObject({ why: "split", stripOverride: true });
    expect(decide(p, { "x-tandem-force": "beta" })).toMatchObject({ why: "split", stripOverride: true });
    expect(decide(p, { "x-tandem-force": token("beta").slice(0, -1) + "0" })).toMatchObject({ why: "split", stripOverride: true });
    expect(decide(p, { "x-tandem-force": token("gamma") }).why).toBe("split");
    expect(decide(p, {})).toMatchObject({ stripOverride: false });
  });

  it("without override configured no header forces anything", () => {
    const q = plan({});
    expect(decide(q, { "x-tandem-force": token("beta") }).name).not.toBe("beta");
  });

  it("needs a secret of at least 16 bytes", () => {
    expect(reject({ override: { secret: "short" } })).toBe("experiment.override.secret: must be at least 16 bytes, got 5");
  });
});

describe("time-based rollout", () => {
  const start = Date.parse("2026-11-27T10:00:00Z");
  const p = plan({
    variants: [{ name: "stable", weight: 100 }, { name: "canary", weight: 0 }],
    rollout: { start: "2026-11-27T10:00:00Z", steps: [{ weight: 5, after: "0m" }, { weight: 25, after: "30m" }, { weight: 50, after: "2h" }, { weight: 100, after: "6h" }] },
  });
  const share = (now: number) => {
    let c = 0;
    for (let i = 0; i < 4000; i++) if (decide(p, { "x-user-id": `u${i}` }, "/", "GET", now).name === "canary") c++;
    return c / 4000;
  };

  it("follows the steps at the time the adapter passes", () => {
    expect(share(start - 1)).toBe(0);
    expect(share(start)).toBeCloseTo(0.05, 1);
    expect(share(start + 30 * 60_000 - 1)).toBeCloseTo(0.05, 1);
    expect(share(start + 30 * 60_000)).toBeCloseTo(0.25, 1);
    expect(share(start + 2 * 3600_000)).toBeCloseTo(0.5, 1);
    expect(share(start + 6 * 3600_000)).toBe(1);
    expect(decide(p, { "x-user-id": "u1" }, "/", "GET", start).why).toBe("ramp");
  });

  it("keeps every canary user in the canary at each later step", () => {
    const times = [start, start + 30 * 60_000, start + 2 * 3600_000, start + 6 * 3600_000];
    for (let i = 0; i < 3000; i++) {
      let was = false;
      for (const t of times) {
        const now = decide(p, { "x-user-id": `k${i}` }, "/", "GET", t).name === "canary";
        if (was) expect(now).toBe(true);
        was = now;
      }
    }
  });

  it("rejects bad schedules", () => {
    const base = { variants: [{ name: "stable", weight: 100 }, { name: "canary", weight: 0 }] };
    expect(reject({ ...base, rollout: { start: "2026-13-01T00:00:00Z", steps: [{ weight: 5, after: "0m" }] } }))
      .toBe("experiment.rollout.start: must be an RFC 3339 time like 2026-11-27T10:00:00Z, got \"2026-13-01T00:00:00Z\"");
    expect(reject({ ...base, rollout: { start: "2026-11-27T10:00:00+02:00", steps: [{ weight: 50, after: "1h" }, { weight: 25, after: "2h" }] } }))
      .toBe("experiment.rollout.steps[1].weight: must not be below the previous step's (ramps only go up), got 25");
    expect(reject({ ...base, rollout: { start: "2026-11-27T10:00:00Z", steps: [{ weight: 5, after: "1h" }, { weight: 10, after: "1h" }] } }))
      .toBe("experiment.rollout.steps[1].after: must be later than the previous step's, got \"1h\"");
    expect(reject({ ...base, rollout: { start: "2026-11-27T10:00:00Z", steps: [{ weight: 5, after: "soon" }] } }))
      .toBe("experiment.rollout.steps[0].after: must be a duration like 0m, 90s, 30m, 2h, 1d, got \"soon\"");
  });
});

describe("hash: growthbook-v2", () => {
  const sdk = createRequire(__filename)(resolve(__dirname, "../../node_modules/@growthbook/growthbook/dist/cjs/util.js")) as {
    hash(seed: string, value: string, version: number): number;
    getBucketRanges(n: number, coverage: number, weights: number[]): Array<[number, number]>;
    chooseVariation(n: number, ranges: Array<[number, number]>): number;
  };
  it("gives the GrowthBook SDK's variation for the same seed, key and weights", () => {
    const weights = [33.33, 33.33, 33.34];
    const p = core.configureExperiment(JSON.stringify({ name: "gb", seed: "pricing-seed", hash: "growthbook-v2", stickiness: { sources: ["header:x-user-id"] },
      variants: weights.map((w, i) => ({ name: `v${i}`, weight: w })) }));
    const ranges = sdk.getBucketRanges(3, 1, [0.3333, 0.3333, 0.3334]);
    const keys = ["ü", "日本語", "🙂x", "user-1", "a".repeat(300)];
    for (let i = 0; i < 3000; i++) keys.push(`user-${i}-${String.fromCodePoint(0x1f600 + (i % 50))}`);
    for (const k of keys) {
      const want = sdk.chooseVariation(sdk.hash("pricing-seed", k, 2), ranges);
      expect(core.decideExperiment(p, [k, "e"], 0).variant, k).toBe(want);
    }
  });
});

describe("exposeHeader", () => {
  it("names the variant and the reason", () => {
    const p = plan({ exposeHeader: true, rules: [{ match: { header: { "x-beta": { present: true } } }, variant: "beta" }] });
    expect(decide(p, { "x-beta": "1" }).expose).toBe("beta; reason=rule:0");
    expect(decide(p, { "x-user-id": "u1" }).expose).toMatch(/^(stable|canary); reason=split$/);
    expect(decide(plan({}), {}).expose).toBeNull();
  });
});
