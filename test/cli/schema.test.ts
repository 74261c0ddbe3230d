// `tandem schema` stays honest against the core's validator (what the gateways run):
// generated valid policies pass both the schema (ajv) and the core; every generated
// mutation the schema refuses (an unknown field, a value out of range, a wrong type, a
// value outside an enum or pattern) the core refuses too. The schema comes from the
// built CLI, as an editor would get it.
import { describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import Ajv from "ajv";
import { parse } from "yaml";
import { CLI, ROOT, loadCore, requireBuilt } from "../support/dist";
import { rng } from "../support/rng";

type J = any;
const schema = JSON.parse(execFileSync(process.execPath, [requireBuilt(CLI), "schema"], { cwd: ROOT, encoding: "utf8" }));
const validate = new Ajv({ allErrors: false, strict: false }).compile(schema);
const core = loadCore();
const coreAccepts = (p: J) => core.validatePolicy(JSON.stringify(p)) === null;

const EXAMPLES = ["checkout", "circuit-breaker", "canary-guard", "tagging", "game-day"].map((n) => parse(readFileSync(join(ROOT, "deploy/examples", `${n}.yaml`), "utf8")));

// A random valid policy: an experiment (with the optional parts drawn at random), maybe
// tagging experiments, maybe a breaker and a fallback.
function generate(r: () => number): J {
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)];
  const n = 1 + Math.floor(r() * 4);
  const weights = Array.from({ length: n }, () => 0);
  for (let i = 0; i < 100; i++) weights[Math.floor(r() * n)]++;
  const variants: J[] = weights.map((w, i) => ({ name: `v${i}`, weight: w, ...(r() < 0.5 ? { upstream: `up-${i}` } : {}) }));
  const ex: J = { name: pick(["checkout", "exp.1", "a_b-c"]), variants };
  if (r() < 0.5) ex.seed = "seed-" + Math.floor(r() * 100);
  if (r() < 0.5) ex.stickiness = { sources: ["cookie:sid", "header:x-user-id"], cookie: { name: "sid", maxAgeSeconds: Math.floor(r() * 34560000), domain: pick([".example.com", "shop.example.com", "localhost"]), sameSite: pick(["Lax", "Strict"]) } };
  if (r() < 0.5) ex.scope = { hosts: [pick(["shop.example.com", "*.beta.example.com"])], pathPrefixes: ["/api/"] };
  if (r() < 0.5) ex.rules = [{ match: { header: { "x-beta": { exact: "yes", ignoreCase: true } } }, variant: "v0" }, { match: { path: { prefix: "/app" }, method: { regex: "^(GET|HEAD)$" } }, split: [{ variant: "v0", weight: 50 }, { variant: `v${n - 1}`, weight: 50 }] }];
  if (r() < 0.3) ex.hash = pick(["tandem", "growthbook-v2"]);
  if (r() < 0.3) ex.override = { header: "x-force", secret: "0123456789abcdef0123", requireExpiry: r() < 0.5 };
  if (r() < 0.3) ex.exposeHeader = true;
  if (n > 1 && r() < 0.3) ex.variants[n - 1].guard = { window: { type: "count", size: 20 }, minimumCalls: 10, failureRateThreshold: 50, cooldownMs: 10000, to: "v0" };
  const spec: J = { experiment: ex };
  if (r() < 0.3) spec.experiments = [{ name: "recs", variants: [{ name: "a", weight: 50 }, { name: "b", weight: 50 }] }];
  if (r() < 0.5) {
    spec.circuitBreaker = { key: pick(["upstream", "route", "header:x-tenant"]), window: pick([{ type: "count", size: 1 + Math.floor(r() * 10000) }, { type: "time", sizeMs: 10000, buckets: 10 }]),
      minimumCalls: 1 + Math.floor(r() * 100), failureRateThreshold: Math.round(r() * 10000) / 100, openDurationMs: 1 + Math.floor(r() * 86400000),
      halfOpen: { permittedCalls: 1 + Math.floor(r() * 10) }, failure: { statuses: [pick(["5xx", 503]), 429], errors: ["connect", "timeout"] }, mode: pick(["enforce", "dry_run", "forced_open", "forced_closed"]) };
    if (r() < 0.5) spec.fallback = pick([{ respond: { status: 503, body: "busy", headers: { "retry-after": "5" } } }, { reroute: { variant: "v0" } }, { reroute: { upstream: "backup" }, on: ["open", "upstreamFailure"] }]);
  }
  return { apiVersion: "tandem.dev/v1alpha1", kind: "TrafficPolicy", metadata: { name: "gen" }, spec };
}

// Every place in `doc` the schema constrains, paired with its subschema.
interface Site { holder: J; key: string | number; value: J; schema: J }
function sites(doc: J, s: J, out: Site[] = [], holder: J = null, key: string | number = ""): Site[] {
  if (holder !== null) out.push({ holder, key, value: doc, schema: s });
  if (doc && typeof doc === "object" && !Array.isArray(doc)) {
    for (const [k, v] of Object.entries(doc)) {
      const sub = s.properties?.[k] ?? (typeof s.additionalProperties === "object" ? s.additionalProperties : null);
      if (sub) sites(v, sub, out, doc, k);
    }
  } else if (Array.isArray(doc) && s.items) doc.forEach((v, i) => sites(v, s.items, out, doc, i));
  return out;
}

// The mutations a schema can state, for the value at a site (none when it states none).
function mutations(site: Site): Array<{ what: string; value: J; addKey?: string }> {
  const s = site.schema;
  const out: Array<{ what: string; value: J; addKey?: string }> = [];
  if ((s.type === "integer" || s.type === "number") && typeof s.maximum === "number") out.push({ what: "above maximum", value: s.maximum + 1 }, { what: "below minimum", value: s.minimum - 1 });
  if (s.type === "integer" || s.type === "number") out.push({ what: "a string for a number", value: String(site.value) });
  if (s.type === "integer") out.push({ what: "a fraction for an integer", value: (typeof site.value === "number" ? site.value : 1) + 0.5 });
  if (s.enum) out.push({ what: "outside the enum", value: "bogus" });
  if (s.type === "string" && s.pattern) out.push({ what: "outside the pattern", value: "has space\u0001" });
  if (s.type === "boolean") out.push({ what: "a string for a boolean", value: "true" });
  if (s.type === "object" && s.additionalProperties === false) out.push({ what: "an unknown field", value: null, addKey: "bogusField" });
  return out;
}

describe("tandem schema", () => {
  it("prints a draft-07 JSON Schema of TrafficPolicy with descriptions, defaults, ranges and enums", () => {
    expect(schema.$schema).toBe("http://json-schema.org/draft-07/schema#");
    expect(schema.title).toBe("TrafficPolicy");
    const cb = schema.properties.spec.properties.circuitBreaker.properties;
    expect(cb.openDurationMs).toMatchObject({ type: "integer", minimum: 1, maximum: 86400000, default: 30000 });
    expect(cb.mode.enum).toEqual(["enforce", "dry_run", "forced_open", "forced_closed"]);
    expect(typeof cb.mode.description).toBe("string");
  });

  it("the examples and 300 generated policies pass both the schema and the core", () => {
    const r = rng(12);
    const policies = [...EXAMPLES, ...Array.from({ length: 300 }, () => generate(r))];
    for (const p of policies) {
      expect(validate(p), JSON.stringify(validate.errors)).toBe(true);
      expect(core.validatePolicy(JSON.stringify(p)), JSON.stringify(p)).toBeNull();
    }
  });

  it("every generated mutation the schema refuses, the core refuses", () => {
    const r = rng(34);
    let tried = 0;
    const kinds = new Set<string>();
    for (let i = 0; i < 60; i++) {
      const base = i < EXAMPLES.length ? EXAMPLES[i] : generate(r);
      for (const site of sites(base, schema)) {
        for (const m of mutations(site)) {
          const doc = structuredClone(base);
          const at = sites(doc, schema).find((x) => x.value !== undefined && pathOf(doc, x) === pathOf(base, site))!;
          if (m.addKey) at.value[m.addKey] = 1; else at.holder[at.key] = m.value;
          if (validate(doc)) continue;   // the schema states nothing here (e.g. a string id that fits)
          tried++;
          kinds.add(m.what);
          expect(coreAccepts(doc), `${m.what} at ${pathOf(base, site)}: ${JSON.stringify(doc)}`).toBe(false);
        }
      }
    }
    expect(tried).toBeGreaterThan(1000);
    expect(kinds.size).toBe(8);
  });
});

// A site's path, to find the same site in a copy.
const paths = new WeakMap<object, Map<J, string>>();
function pathOf(root: J, site: Site): string {
  let m = paths.get(root);
  if (!m) {
    m = new Map();
    const walk = (v: J, p: string) => { if (v && typeof v === "object") { m!.set(v, p); for (const [k, x] of Object.entries(v)) walk(x, `${p}/${k}`); } };
    walk(root, "");
    paths.set(root, m);
  }
  return `${m.get(site.holder)}/${site.key}`;
}
