// The fast paths of rule matching give the answers the plain definitions give, on
// generated inputs through the production core (tandem-core.wasm): `contains` scanning 8
// bytes a step (wasm/core/text/scan.ts) at every offset around word boundaries, ASCII case
// folding that folds letters only, cookie and query names looked for before parsing,
// path prefixes tested on the whole target, and conditions run cheapest first
// (wasm/core/rules/config.ts) with first-match-wins unchanged.
import { describe, expect, it } from "vitest";
import { loadCore } from "../support/dist";
import { reasonName, type ExperimentPlan } from "../../core-js/tandem-core";
import { answerNeeds } from "../../core-js/answer-needs";

const core = loadCore();
const VARIANTS = [{ name: "stable", weight: 100 }, { name: "canary", weight: 0 }];

function plan(rules: unknown[]): ExperimentPlan {
  return core.configureExperiment(JSON.stringify({ name: "exp", stickiness: { sources: ["header:x-user-id"] }, variants: VARIANTS, rules }));
}
// The reason of the decision: "rule:<i>" or "split".
function why(p: ExperimentPlan, headers: Record<string, string>, path = "/", method = "GET"): string {
  const d = core.decideExperiment(p, answerNeeds(p.needs, { headers: { "x-request-id": "r", "x-user-id": "u1", ...headers }, path, method, ip: "1.2.3.4" }), 0);
  return reasonName(d.reason);
}
const lowerAscii = (s: string) => s.replace(/[A-Z]/g, (c) => c.toLowerCase());

// Fillers around the literal: bytes that are not its first byte, and ones that are
// (every position a candidate), in both cases.
function inputs(lit: string): string[] {
  const out: string[] = [];
  const near = lit.length > 1 ? lit.slice(0, -1) + String.fromCharCode(lit.charCodeAt(lit.length - 1) ^ 1) : "";
  for (const fill of ["-", lit[0], lit[0].toUpperCase(), lit[0].toLowerCase()]) {
    for (let len = 0; len <= 26; len++) {
      out.push(fill.repeat(len));
      if (near) out.push(fill.repeat(len) + near, near + fill.repeat(len));
      for (let at = 0; at <= len; at++) {
        const s = fill.repeat(at) + lit + fill.repeat(len - at);
        out.push(s, s.toUpperCase(), s.toLowerCase());
      }
    }
  }
  return out;
}

describe("rules: contains scans 8 bytes a step, same answers", () => {
  const cases: Array<[string, boolean]> = [
    ["bot", true], ["bot", false], ["b", false], ["B", true], ["utm_campaign=newsletter", false],
    ["@x", true], ["`x", true], ["x@", true], ["[a", true], ["{a", true], ["Ab", false], ["é", false], ["0123456789abcdef0", true],
  ];
  for (const [lit, ignoreCase] of cases) {
    it(`contains ${JSON.stringify(lit)}${ignoreCase ? " ignoreCase" : ""}`, () => {
      const p = plan([{ match: { header: { "x-a": { contains: lit, ignoreCase } } }, variant: "canary" }]);
      let hits = 0;
      for (const s of inputs(lit)) {
        const want = ignoreCase ? lowerAscii(s).includes(lowerAscii(lit)) : s.includes(lit);
        expect(why(p, { "x-a": s }), `${JSON.stringify(s)}`).toBe(want ? "rule:0" : "split");
        if (want) hits++;
      }
      expect(hits).toBeGreaterThan(50);
    });
  }

  it("never reads past the value: a literal cut at its end does not go on in the next bytes", () => {
    const p = plan([
      { match: { header: { "x-a": { contains: "bot" } } }, variant: "canary" },
      { match: { header: { "x-b": { contains: "bot", ignoreCase: true } } }, variant: "canary" },
    ]);
    // x-a's value is followed by x-b's in the core's fact arena (needs in order)
    const at = (n: string) => p.needs.findIndex((x) => x.name === n);
    expect(at("x-b")).toBe(at("x-a") + 1);
    for (let n = 0; n <= 20; n++) {
      expect(why(p, { "x-a": "-".repeat(n) + "b", "x-b": "ot" + "-".repeat(n) })).toBe("split");
      expect(why(p, { "x-a": "-".repeat(n) + "bo", "x-b": "t-" })).toBe("split");
      expect(why(p, { "x-a": "-".repeat(n) + "bot", "x-b": "-" })).toBe("rule:0");
    }
  });

  it("folds ASCII letters only: '@' / '`' and '[' / '{' stay apart", () => {
    const p = plan([{ match: { header: { "x-a": { contains: "@[", ignoreCase: true } } }, variant: "canary" }]);
    expect(why(p, { "x-a": "....`{...." })).toBe("split");
    expect(why(p, { "x-a": "....@[...." })).toBe("rule:0");
    const q = plan([{ match: { header: { "x-a": { exact: "a@", ignoreCase: true } } }, variant: "canary" }]);
    expect(why(q, { "x-a": "A`" })).toBe("split");
    expect(why(q, { "x-a": "A@" })).toBe("rule:0");
  });
});

describe("rules: cookie and query names are looked for before parsing", () => {
  const p = plan([
    { match: { cookie: { experiment: { exact: "new-ui" } } }, variant: "canary" },
    { match: { cookie: { "qa-team": { present: false } }, header: { "x-k": { exact: "1" } } }, variant: "canary" },
    { match: { query: { promo: { prefix: "SPRING" } } }, variant: "canary" },
    { match: { query: { preview: { present: false } }, header: { "x-k": { exact: "2" } } }, variant: "canary" },
  ]);

  it("a name found only inside values or paths is still absent", () => {
    expect(why(p, { cookie: "experiment=new-ui" })).toBe("rule:0");
    expect(why(p, { cookie: "a=b;  experiment = new-ui ;c=d" })).toBe("rule:0");
    expect(why(p, { cookie: "a=experiment; b=new-ui" })).toBe("split");
    expect(why(p, { cookie: "xexperiment=new-ui" })).toBe("split");
    expect(why(p, { cookie: "qa-team=1", "x-k": "1" })).toBe("split");
    expect(why(p, { cookie: "x=qa-team", "x-k": "1" })).toBe("rule:1");
    expect(why(p, { "x-k": "1" })).toBe("rule:1");                       // no Cookie header at all
    expect(why(p, {}, "/checkout?promo=SPRING24")).toBe("rule:2");
    expect(why(p, {}, "/promo/SPRING?x=1")).toBe("split");
    expect(why(p, {}, "/c?x=promo&y=SPRING")).toBe("split");
    expect(why(p, {}, "/c?pr%6Fmo=SPRING")).toBe("split");                // names compare as sent
    expect(why(p, {}, "/c?a=1&promo=SPR%49NG")).toBe("rule:2");           // values are decoded
    expect(why(p, { "x-k": "2" }, "/c?x=preview")).toBe("rule:3");
    expect(why(p, { "x-k": "2" }, "/c?preview=0")).toBe("split");
  });
});

describe("rules: a path prefix on the whole target", () => {
  const strip = (t: string) => t.split(/[?#]/)[0];
  const targets = ["/", "/a", "/a?", "/a?x", "/a#f", "/ab?c", "/?a", "/b?/a", "/A?x", "/a/b?q=/a", "/a%3Fb", "/a?b#c"];
  for (const [prefix, ignoreCase] of [["/a", false], ["/A", true], ["/a?", false], ["/a#", false], ["/", false], ["/ab", false]] as Array<[string, boolean]>) {
    it(`prefix ${prefix}${ignoreCase ? " ignoreCase" : ""} tests the path without its query`, () => {
      const p = plan([{ match: { path: { prefix, ignoreCase } } }].map((r) => ({ ...r, variant: "canary" })));
      for (const t of targets) {
        const path = strip(t);
        const want = ignoreCase ? lowerAscii(path).startsWith(lowerAscii(prefix)) : path.startsWith(prefix);
        expect(why(p, {}, t), t).toBe(want ? "rule:0" : "split");
      }
    });
  }

  it("present and exact / suffix on the path", () => {
    const p = plan([
      { match: { path: { exact: "/a" } }, variant: "canary" },
      { match: { path: { suffix: "b" } }, variant: "canary" },
      { match: { path: { present: true }, header: { "x-k": { exact: "1" } } }, variant: "canary" },
    ]);
    expect(why(p, {}, "/a?b")).toBe("rule:0");
    expect(why(p, {}, "/ab?c")).toBe("rule:1");
    expect(why(p, {}, "/a/c?b")).toBe("split");
    expect(why(p, { "x-k": "1" }, "/x")).toBe("rule:2");
  });
});

describe("rules: conditions run cheapest first, the answer is the conjunction", () => {
  // Declared most expensive first (regex, contains, cookie, query) then cheap ones.
  const conds = {
    header: { "user-agent": { regex: "Mobile|Android" }, referer: { contains: "utm" } },
    cookie: { exp: { exact: "1" } },
    query: { q: { exact: "1" } },
    path: { prefix: "/p" },
    method: { exact: "GET" },
    host: { suffix: ".eu" },
  };
  const p = plan([{ match: conds, variant: "canary" }, { match: { header: { "x-k": { present: true } } }, variant: "canary" }]);

  it("matches exactly when all seven hold, whichever fail", () => {
    const pass = { ua: "x Mobile", ref: "?utm=1", cookie: "exp=1", path: "/p", query: "q=1", method: "GET", host: "shop.eu" };
    const fail = { ua: "x Desktop", ref: "none", cookie: "exp=2", path: "/x", query: "q=2", method: "POST", host: "shop.us" };
    const keys = Object.keys(pass) as Array<keyof typeof pass>;
    for (let mask = 0; mask < 1 << keys.length; mask++) {
      const v = Object.fromEntries(keys.map((k, i) => [k, (mask >> i) & 1 ? fail[k] : pass[k]])) as typeof pass;
      const got = why(p, { "user-agent": v.ua, referer: v.ref, cookie: v.cookie, host: v.host, "x-k": "1" }, `${v.path}?${v.query}`, v.method);
      expect(got, JSON.stringify(v)).toBe(mask === 0 ? "rule:0" : "rule:1");
    }
  });
});
