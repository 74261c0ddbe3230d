// Parity scenarios: policies and generated traffic that every path must decide alike.
import { createHmac } from "node:crypto";
import type { PolicyDoc } from "../../cli/policy-file";
import type { TraceRequest } from "../../cli/simulate/trace";
import { rng } from "../support/rng";

export interface Scenario { name: string; policy: PolicyDoc; trace: TraceRequest[] }

function policy(name: string, experiment: Record<string, unknown>): PolicyDoc {
  return { apiVersion: "tandem.dev/v1alpha1", kind: "TrafficPolicy", metadata: { name }, spec: { experiment } };
}


// Keys users really send, and ones they should not: non-ASCII (sent as UTF-8),
// separators, quotes, percent signs, long values, whitespace at the ends.
const ODD = ["josé", "日本語ユーザー", "emoji🙂", "ümlaut=ä", "a,b", "semi;colon", "\"quoted\"", "per%25cent", "sp ace",
  "tab\there", " padded ", "x".repeat(3000), "=", "dash-_.~", "ÿÿÿ", "Ω"];

function key(r: () => number, i: number): string {
  if (r() < 0.15) return ODD[Math.floor(r() * ODD.length)] + (i % 7);
  return `user-${Math.floor(r() * 1e9).toString(36)}`;
}

const cookieSafe = (k: string) => k.replace(/[;,\s"\\]/g, "_");

export function scenarios(users: number): Scenario[] {
  const out: Scenario[] = [];
  // What a generator returns for one request (absent headers may show up as undefined).
  type Gen = { method?: string; path?: string; headers?: Record<string, string | string[] | undefined> };
  const mk = (name: string, exp: Record<string, unknown>, gen: (r: () => number, i: number) => Gen) => {
    const r = rng(out.length + 1);
    const trace: TraceRequest[] = [];
    for (let i = 0; i < users; i++) {
      const g = gen(r, i);
      const headers: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(g.headers ?? {})) if (v !== undefined) headers[k] = v;
      trace.push({ line: i + 1, t: i * 10, method: g.method ?? "GET", path: g.path ?? "/", headers, upstream: { status: 200, latencyMs: 1 } });
    }
    out.push({ name, policy: policy(name, exp), trace });
  };

  mk("canary-90-10", {
    name: "checkout-v2",
    stickiness: { sources: ["cookie:tandem-uid", "header:x-user-id"], cookie: { name: "tandem-uid", maxAgeSeconds: 2592000 } },
    variants: [{ name: "stable", weight: 90, upstream: "api-v1" }, { name: "canary", weight: 10, upstream: "api-v2" }],
  }, (r, i) => {
    const x = r();
    if (x < 0.4) return { headers: { "x-user-id": key(r, i) } };
    if (x < 0.7) return { headers: { cookie: `a=1; tandem-uid=${cookieSafe(key(r, i))}; b=2` } };
    if (x < 0.8) return { headers: { "x-user-id": key(r, i), "x-tandem-variant": "canary" } }; // client tries to pick
    return { headers: {} };                                                                      // new user: cookie issued
  });

  mk("three-way-fine-weights", {
    name: "pricing", seed: "pricing-2026",
    stickiness: { sources: ["header:x-account", "query:uid", "ip"] },
    variantHeader: "x-pricing",
    variants: [{ name: "a", weight: 33.33, upstream: "api-v1" }, { name: "b", weight: 33.33, upstream: "api-v2" }, { name: "c", weight: 33.34 }],
  }, (r, i) => {
    const x = r();
    if (x < 0.5) return { headers: { "x-account": key(r, i) } };
    if (x < 0.9) return { path: `/p?x=1&uid=${encodeURIComponent(key(r, i))}` };
    return { headers: {} };                                                                      // ip: loopback on every path
  });

  mk("tiny-canary-scoped", {
    name: "search",
    stickiness: { sources: ["cookie:sid"], cookie: { name: "sid", path: "/search", secure: true, sameSite: "Strict" } },
    scope: { hosts: ["shop.example.com", "*.beta.example.com"], pathPrefixes: ["/search"] },
    variants: [{ name: "old", weight: 99.99, upstream: "api-v1" }, { name: "new", weight: 0.01, upstream: "api-v2" }],
  }, (r, i) => {
    const host = ["shop.example.com", "SHOP.example.com:8080", "eu.beta.example.com", "other.example.com"][Math.floor(r() * 4)];
    const path = r() < 0.8 ? `/search?q=${i}` : "/static/app.js";
    return { path, headers: r() < 0.5 ? { host, cookie: `sid=${cookieSafe(key(r, i))}` } : { host } };
  });

  const secret = "parity-secret-0123456789";
  const hmac = (v: string) => `${v}.${createHmac("sha256", secret).update(v).digest("hex")}`;
  // Expiring tokens ("<variant>~<unix s>"): t is the gateways' clock in ms, so a token
  // expiring at second 4 works for the requests before t = 4000 and no later.
  const expiring = (v: string, s: number) => hmac(`${v}~${s}`);
  mk("rules-override-growthbook", {
    name: "rules", hash: "growthbook-v2", exposeHeader: true,
    stickiness: { sources: ["cookie:uid", "header:x-user-id"], cookie: { name: "uid" } },
    override: { header: "x-tandem-force", secret },
    rules: [
      { match: { header: { "x-beta": { exact: "yes", ignoreCase: true } } }, variant: "beta" },
      { match: { cookie: { experiment: { exact: "new-ui" } }, path: { prefix: "/app" } }, variant: "canary" },
      { match: { query: { plan: { regex: "^(pro|team)-[0-9]{2,}$" } } }, split: [{ variant: "stable", weight: 50 }, { variant: "canary", weight: 50 }] },
      { match: { header: { "user-agent": { contains: "bot", invert: true } }, method: { exact: "POST" } }, variant: "stable" },
    ],
    variants: [{ name: "stable", weight: 80, upstream: "api-v1" }, { name: "canary", weight: 15, upstream: "api-v2" }, { name: "beta", weight: 5 }],
  }, (r, i) => {
    const x = r();
    const id = { "x-user-id": key(r, i) };
    if (x < 0.15) return { headers: { ...id, "x-beta": r() < 0.5 ? "YES" : "no" } };
    if (x < 0.3) return { path: r() < 0.7 ? "/app/home" : "/shop", headers: { ...id, cookie: `experiment=${r() < 0.8 ? "new-ui" : "old"}` } };
    if (x < 0.45) return { path: `/p?plan=${["pro-12", "team-345", "pro-1", "free"][Math.floor(r() * 4)]}`, headers: id };
    if (x < 0.55) return { method: "POST", headers: { ...id, "user-agent": r() < 0.5 ? "Mozilla/5.0" : "Googlebot/2.1" } };
    if (x < 0.65) return { headers: { ...id, "x-tandem-force": r() < 0.5 ? hmac("beta") : "beta.deadbeef" } };
    if (x < 0.72) return { headers: { ...id, "x-tandem-force": r() < 0.8 ? expiring("canary", 4) : `beta~9.${hmac("canary~9").split(".")[1]}` } };
    return { headers: r() < 0.8 ? id : {} };
  });

  // A ramp over 8 virtual hours: t is the plugins' clock on every path.
  const ramp = rng(99);
  const rampTrace: TraceRequest[] = [];
  for (let i = 0; i < users; i++) {
    rampTrace.push({ line: i + 1, t: Math.floor((i / users) * 8 * 3600_000), method: "GET", path: "/", headers: { "x-user-id": key(ramp, i) }, upstream: { status: 200, latencyMs: 1 } });
  }
  out.push({
    name: "time-based-rollout",
    policy: policy("rollout", {
      name: "rollout",
      stickiness: { sources: ["header:x-user-id"] },
      rollout: { start: "1970-01-01T01:00:00Z", steps: [{ weight: 5, after: "0m" }, { weight: 25, after: "30m" }, { weight: 50, after: "2h" }, { weight: 100, after: "6h" }] },
      variants: [{ name: "stable", weight: 100, upstream: "api-v1" }, { name: "canary", weight: 0, upstream: "api-v2" }],
    }),
    trace: rampTrace,
  });

  // Tagging experiments (spec.experiments): the x-tandem-experiments header each path
  // sends upstream, for keys from both sources, new users (the issued id keys the tags),
  // rules on a header, a query parameter and a cookie, GrowthBook hashing, forged
  // copies and scope misses.
  mk("tagging-experiments", {
    name: "shop", stickiness: { sources: ["cookie:tandem-uid", "header:x-user-id"], cookie: { name: "tandem-uid" } },
    scope: { pathPrefixes: ["/shop"] },
    variants: [{ name: "stable", weight: 70, upstream: "api-v1" }, { name: "canary", weight: 30, upstream: "api-v2" }],
  }, (r, i) => {
    const x = r();
    const path = r() < 0.1 ? "/static/app.js" : r() < 0.2 ? `/shop/p?promo=${i}` : "/shop/cart";
    const forged = r() < 0.15 ? { "x-tandem-experiments": "recs=B; pricing=low" } : {};
    if (x < 0.45) return { path, headers: { "x-user-id": key(r, i), "x-plan": r() < 0.2 ? "pro" : "free", ...forged } };
    if (x < 0.8) return { path, headers: { cookie: `tandem-uid=${cookieSafe(key(r, i))}${r() < 0.2 ? "; layout=list" : ""}`, ...forged } };
    return { path, headers: forged };                                                            // new user: cookie issued
  });
  out[out.length - 1].policy.spec.experiments = [
    { name: "recs", variants: [{ name: "A", weight: 50 }, { name: "B", weight: 50 }] },
    {
      name: "pricing", seed: "pricing-2026", hash: "growthbook-v2",
      variants: [{ name: "low", weight: 33.33 }, { name: "mid", weight: 33.33 }, { name: "high", weight: 33.34 }],
      rules: [
        { match: { header: { "x-plan": { exact: "pro" } } }, variant: "high" },
        { match: { query: { promo: { present: true } } }, split: [{ variant: "low", weight: 50 }, { variant: "mid", weight: 50 }] },
      ],
    },
    { name: "layout", variants: [{ name: "grid", weight: 90 }, { name: "list", weight: 10 }], rules: [{ match: { cookie: { layout: { exact: "list" } } }, variant: "list" }] },
  ];

  // hash: unleash (Unleash's variant hash reads UTF-16 code units, so the non-ASCII keys
  // matter), a rule's split on the same hash, weights in tenths, new users.
  mk("unleash", {
    name: "unleash", seed: "checkout-flag", hash: "unleash", exposeHeader: true,
    stickiness: { sources: ["cookie:uid", "header:x-user-id"], cookie: { name: "uid" } },
    rules: [{ match: { header: { "x-beta": { present: true } } }, split: [{ variant: "beta", weight: 50.5 }, { variant: "stable", weight: 49.5 }] }],
    variants: [{ name: "stable", weight: 70.5, upstream: "api-v1" }, { name: "canary", weight: 29.4, upstream: "api-v2" }, { name: "beta", weight: 0.1 }],
  }, (r, i) => {
    const x = r();
    if (x < 0.5) return { headers: { "x-user-id": key(r, i) } };
    if (x < 0.7) return { headers: { cookie: `uid=${cookieSafe(key(r, i))}` } };
    if (x < 0.85) return { headers: { "x-user-id": key(r, i), "x-beta": "1" } };
    return { headers: {} };                                                                      // new user: cookie issued
  });

  // Paths the gateways hand over differently (Kong: the raw request URI; Envoy behind
  // Istio: :path after BASE normalization): the core normalizes the path itself
  // (wasm/core/request/path.ts), so a path rule and a path scope decide alike. Paths
  // whose '..' climbs above the root nginx refuses (400) before Kong's plugins run, and
  // Envoy refuses an escaped NUL: each line says so (`refused`).
  const PATHS = ["/admin/x", "/a/../admin/x", "//admin/x", "/%61dmin/x", "/ADMIN/x", "/admin%2F../x", "/admin%2f..", "/a/./admin/",
    "/x/%2e%2e/admin", "/a\\..\\admin", "/admin/x?next=/../../y", "/adm%69n", "/%2e%2e/admin", "/../admin", "/public/../admin/y", "/api/x", "/admin%00"];
  mk("odd-paths", {
    name: "paths", stickiness: { sources: ["header:x-user-id"] },
    scope: { pathPrefixes: ["/admin", "/api"] },
    rules: [
      { match: { path: { prefix: "/admin/x" } }, variant: "canary" },
      { match: { path: { exact: "/admin%2F.." } }, variant: "beta" },
    ],
    variants: [{ name: "stable", weight: 60, upstream: "api-v1" }, { name: "canary", weight: 30, upstream: "api-v2" }, { name: "beta", weight: 10 }],
  }, (r, i) => ({ path: PATHS[Math.floor(r() * PATHS.length)], headers: { "x-user-id": key(r, i) } }));

  // Heads the gateways refuse before any plugin: nginx's header buffers under Kong (a
  // line above 8 KB, more than 1k + 4 x 8 KB), Envoy's 60 KB and 100 fields; heads
  // between Node's 16 KB default and those limits pass on every path.
  mk("large-heads", {
    name: "heads", stickiness: { sources: ["cookie:uid", "header:x-user-id"], cookie: { name: "uid" } },
    variants: [{ name: "stable", weight: 50, upstream: "api-v1" }, { name: "canary", weight: 50, upstream: "api-v2" }],
  }, (r, i) => {
    const id = { "x-user-id": key(r, i) };
    const pad = (n: number, each: number) => Object.fromEntries(Array.from({ length: n }, (_, j) => [`x-pad-${j}`, "p".repeat(each)]));
    const x = r();
    if (x < 0.2) return { headers: { ...id, ...pad(3, 7000) } };                 // 21 KB: passes everywhere
    if (x < 0.35) return { headers: { ...id, ...pad(1, 9000) } };                // one 9 KB line: Kong 400
    if (x < 0.5) return { headers: { ...id, ...pad(5, 7000) } };                 // five 7 KB lines: Kong 400
    if (x < 0.6) return { headers: { ...id, ...pad(10, 7000) } };                // 70 KB: Kong 400, Envoy 431
    if (x < 0.7) return { headers: { ...id, ...pad(120, 10) } };                 // 120 fields: Envoy 431
    if (x < 0.8) return { path: "/" + "q".repeat(9000) , headers: id };          // request line above 8 KB: Kong 414
    return { headers: r() < 0.7 ? id : {} };
  });

  // Repeated headers: Envoy's codec merges an inline header's copies (user-agent: empty
  // copies dropped, the rest joined with ","), keeps every copy of any other header and
  // hands a filter the first (x-user-id, x-tier); Kong hands a plugin every copy. The
  // same facts on every path (core-js/envoy-inline-headers.ts).
  mk("repeated-headers", {
    name: "repeats", stickiness: { sources: ["header:x-user-id"] },
    rules: [
      { match: { header: { "user-agent": { regex: "^bot", ignoreCase: true } } }, variant: "stable" },
      { match: { header: { "user-agent": { contains: "," } } }, variant: "beta" },
      { match: { header: { "x-tier": { exact: "gold" } } }, variant: "canary" },
    ],
    variants: [{ name: "stable", weight: 50, upstream: "api-v1" }, { name: "canary", weight: 40, upstream: "api-v2" }, { name: "beta", weight: 10 }],
  }, (r, i) => {
    const id = key(r, i).replace(/^\s+|\s+$/g, "") || `u${i}`;
    const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)];
    const ua = pick<string | string[]>(["Mozilla/5.0", ["", "Bot/1"], ["Bot/1", ""], ["Mozilla/5.0", "Bot/1"], ["", ""], ["Bot/1", "x", ""]]);
    const tier = pick<string | string[] | undefined>([undefined, "gold", ["", "gold"], ["gold", "silver"], ["silver", "gold"]]);
    const uid = pick<string | string[]>([id, ["", id], [id, "other"]]);
    return { headers: { "x-user-id": uid, "user-agent": ua, "x-tier": tier } };
  });

  return out;
}
