// Per-request decisions of the sticky weighted experiment, through the core alone.
import { describe, expect, it } from "vitest";
import { loadCore } from "../support/dist";
import { tandemBucket } from "../support/murmur3";
import type { ExperimentPlan } from "../../core-js/tandem-core";
import { answerNeeds } from "../../core-js/answer-needs";

const core = loadCore();

function configure(cfg: Record<string, unknown>): ExperimentPlan {
  return core.configureExperiment(JSON.stringify({ name: "exp", variants: [{ name: "stable", weight: 90 }, { name: "canary", weight: 10 }], ...cfg }));
}

function decide(plan: ExperimentPlan, headers: Record<string, string>, path = "/", ip = "10.0.0.7") {
  const d = core.decideExperiment(plan, answerNeeds(plan.needs, { headers: { "x-request-id": "rid-1", ...headers }, path, method: "GET", ip }), 0);
  return { ...d, name: d.variant >= 0 ? plan.variants[d.variant].name : null, bucket: core.lastBucket(plan) };
}

describe("stickiness sources", () => {
  const plan = configure({ stickiness: { sources: ["cookie:uid", "header:x-user-id", "query:u", "ip"], cookie: { name: "uid" } } });

  it("uses the first present source", () => {
    expect(decide(plan, { cookie: "uid=alice", "x-user-id": "bob" }, "/?u=carol").bucket).toBe(tandemBucket("exp", "alice"));
    expect(decide(plan, { "x-user-id": "bob" }, "/?u=carol").bucket).toBe(tandemBucket("exp", "bob"));
    expect(decide(plan, {}, "/?u=carol").bucket).toBe(tandemBucket("exp", "carol"));
    expect(decide(plan, {}, "/").bucket).toBe(tandemBucket("exp", "10.0.0.7"));
  });

  it("skips empty values", () => {
    expect(decide(plan, { cookie: "uid=", "x-user-id": "   " }, "/?u=").bucket).toBe(tandemBucket("exp", "10.0.0.7"));
  });

  it("parses cookies, not the raw header", () => {
    const alice = tandemBucket("exp", "alice");
    expect(decide(plan, { cookie: "a=1; uid=alice; b=2" }).bucket).toBe(alice);
    expect(decide(plan, { cookie: "  uid = alice ;x=y" }).bucket).toBe(alice);
    expect(decide(plan, { cookie: "uid=\"alice\"" }).bucket).toBe(alice);
    expect(decide(plan, { cookie: "uid=alice; uid=mallory" }).bucket).toBe(alice);
    // similar names and malformed pairs do not match
    expect(decide(plan, { cookie: "xuid=mallory; uidx=mallory; garbage; =; uid=alice" }).bucket).toBe(alice);
    expect(decide(plan, { "x-user-id": "bob", cookie: "UID=mallory" }).bucket).toBe(tandemBucket("exp", "bob"));
  });

  it("percent-decodes query values and stops at the fragment", () => {
    expect(decide(plan, {}, "/p?x=1&u=a%40b%2Bc+d&u=zzz").bucket).toBe(tandemBucket("exp", "a@b+c d"));
    expect(decide(plan, {}, "/p?x=1#u=frag").bucket).toBe(tandemBucket("exp", "10.0.0.7"));
    expect(decide(plan, {}, "/p?u=%zz%4").bucket).toBe(tandemBucket("exp", "%zz%4"));
  });
});

describe("new users", () => {
  const plan = configure({});

  it("get a 128-bit id in a Set-Cookie with the default attributes", () => {
    const d = decide(plan, {});
    expect(d.setCookie).toMatch(/^tandem-uid=[0-9a-f]{32}; Path=\/; Max-Age=2592000; HttpOnly; SameSite=Lax$/);
  });

  it("land in the same variant when they come back with the cookie", () => {
    for (let i = 0; i < 500; i++) {
      const first = decide(plan, { "x-request-id": `req-${i}` });
      const id = /^tandem-uid=([0-9a-f]{32});/.exec(first.setCookie!)![1];
      const again = decide(plan, { cookie: `tandem-uid=${id}` });
      expect(again.setCookie).toBeNull();
      expect(again.variant).toBe(first.variant);
    }
  });

  it("get ids derived from the request entropy: same entropy, same id; different, different", () => {
    expect(decide(plan, { "x-request-id": "r1" }).setCookie).toBe(decide(plan, { "x-request-id": "r1" }).setCookie);
    expect(decide(plan, { "x-request-id": "r1" }).setCookie).not.toBe(decide(plan, { "x-request-id": "r2" }).setCookie);
  });

  it("honour cookie attributes", () => {
    const p = configure({ stickiness: { sources: ["cookie:sid"], cookie: { name: "sid", maxAgeSeconds: 0, path: "/shop", domain: "example.com", secure: true, httpOnly: false, sameSite: "None" } } });
    expect(decide(p, {}).setCookie).toMatch(/^sid=[0-9a-f]{32}; Path=\/shop; Domain=example.com; Secure; SameSite=None$/);
  });

  it("without a cookie configured are split by entropy and get no cookie", () => {
    const p = configure({ stickiness: { sources: ["header:x-user-id"] } });
    const d = decide(p, {});
    expect(d.setCookie).toBeNull();
    expect(d.variant).toBeGreaterThanOrEqual(0);
  });
});

describe("weights", () => {
  it("split 100k users within 0.5% of the weights, down to 0.01%", () => {
    const p = core.configureExperiment(JSON.stringify({ name: "w", stickiness: { sources: ["header:u"] },
      variants: [{ name: "a", weight: 69.99 }, { name: "b", weight: 0.01 }, { name: "c", weight: 30 }, { name: "z", weight: 0 }] }));
    const n = [0, 0, 0, 0];
    for (let i = 0; i < 100_000; i++) n[core.decideExperiment(p, [`user${i}`, "e"], 0).variant]++;
    expect(n[0] / 1e5).toBeCloseTo(0.6999, 2);
    expect(n[2] / 1e5).toBeCloseTo(0.30, 2);
    expect(n[1]).toBeGreaterThan(0);
    expect(n[1]).toBeLessThan(40);
    expect(n[3]).toBe(0);
  });

  it("ramp monotonically: raising a variant's weight never moves a user out of it", () => {
    const users = Array.from({ length: 5000 }, (_, i) => `u-${i}`);
    const assign = (ws: number[]) => {
      const p = core.configureExperiment(JSON.stringify({ name: "ramp", stickiness: { sources: ["header:u"] },
        variants: ws.map((w, i) => ({ name: `v${i}`, weight: w })) }));
      const out = users.map((u) => core.decideExperiment(p, [u, "e"], 0).variant);
      core.release(p);
      return out;
    };
    // canary ramp 1 → 100 in steps, and a 3-way experiment whose middle variant grows
    // at the expense of either neighbour, and whose last grows at the expense of the first
    const ramps: number[][][] = [
      [[99, 1], [95, 5], [75, 25], [50, 50], [0.01, 99.99], [0, 100]],
      [[40, 20, 40], [30, 30, 40], [30, 40, 30], [10, 80, 10]],
      [[50, 25, 25], [40, 25, 35], [0, 25, 75]],
    ];
    for (const steps of ramps) {
      for (let s = 1; s < steps.length; s++) {
        const before = assign(steps[s - 1]);
        const after = assign(steps[s]);
        steps[s].forEach((w, v) => {
          if (w <= steps[s - 1][v]) return;   // only raised variants are promised to keep users
          for (let i = 0; i < users.length; i++) if (before[i] === v) expect(after[i], `${steps[s - 1]} -> ${steps[s]}`).toBe(v);
        });
      }
    }
  });

  it("uses the seed over the name, so renaming an experiment can keep its buckets", () => {
    const a = configure({ name: "one", seed: "shared", stickiness: { sources: ["header:u"] } });
    const b = configure({ name: "two", seed: "shared", stickiness: { sources: ["header:u"] } });
    for (let i = 0; i < 200; i++) {
      core.decideExperiment(a, [`k${i}`, "e"], 0);
      core.decideExperiment(b, [`k${i}`, "e"], 0);
      expect(core.lastBucket(a)).toBe(core.lastBucket(b));
    }
  });
});

describe("scope", () => {
  const plan = configure({ scope: { hosts: ["shop.example.com", "*.beta.example.com"], pathPrefixes: ["/api/", "/checkout"] } });
  const inScope = (host: string, path: string) => decide(plan, { host, cookie: "tandem-uid=u" }, path).variant >= 0;

  it("matches hosts without port, ignoring case, with wildcards", () => {
    expect(inScope("shop.example.com", "/api/x")).toBe(true);
    expect(inScope("SHOP.Example.COM:8443", "/api/x")).toBe(true);
    expect(inScope("shop.example.com.", "/api/x")).toBe(true);
    expect(inScope("eu.beta.example.com", "/api/x")).toBe(true);
    expect(inScope("beta.example.com", "/api/x")).toBe(false);
    expect(inScope("evilshop.example.com", "/api/x")).toBe(false);
    expect(inScope("shop.example.com.evil", "/api/x")).toBe(false);
  });

  it("matches path prefixes on the path only", () => {
    expect(inScope("shop.example.com", "/checkout?step=2")).toBe(true);
    expect(inScope("shop.example.com", "/static/app.js?x=/api/")).toBe(false);
    expect(inScope("shop.example.com", "/api")).toBe(false);
  });
});

describe("hostile input", () => {
  it("decides sanely on huge and odd header values", () => {
    const plan = configure({ stickiness: { sources: ["cookie:uid", "header:x-user-id"], cookie: { name: "uid" } } });
    const big = "x".repeat(1 << 20);
    expect(decide(plan, { cookie: big + "; uid=alice" }).bucket).toBe(tandemBucket("exp", "alice"));
    expect(decide(plan, { "x-user-id": big }).bucket).toBe(tandemBucket("exp", big));
    expect(decide(plan, { cookie: ";;;;===;;; ;=;uid" }).setCookie).not.toBeNull();
    expect(decide(plan, { "x-user-id": "\u00ff\u0000\ud800" }).variant).toBeGreaterThanOrEqual(0);
    // still fine afterwards
    expect(decide(plan, { cookie: "uid=alice" }).bucket).toBe(tandemBucket("exp", "alice"));
  });
});
