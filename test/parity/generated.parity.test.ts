// Generated-policy parity: seeded random policies (./generated-scenarios.ts), each with
// a trace of random requests aimed at what it reads, through the core, Kong and Envoy;
// every request must get the same SimResult from all three. The hand-written scenarios
// (./experiment.parity.test.ts) pin known cases; this one hunts for the unknown ones.
//
// Reproduce a failure: the message names seed, policy index and request line;
//   TANDEM_GEN_SEEDS=<seed> TANDEM_GEN_ONLY=<index> npx vitest run test/parity/generated.parity.test.ts
// Hunt wider (locally): TANDEM_GEN_SEEDS=1-50 (a range or a list), TANDEM_GEN_POLICIES,
// TANDEM_GEN_REQUESTS, TANDEM_GEN_EDGES (documented gateway differences, see KNOWN_EDGES).
// TANDEM_GEN_DUMP=<file>: write every divergent request (not just the first) as JSON lines.
import { appendFileSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { simulate } from "../../cli/simulate/run";
import { ENVOY_PROFILE, type SimResult } from "../../cli/simulate/result";
import { expectSameExceptNewIds, newUserLines } from "./edge-id";
import { normalizedHeaders, sentMethod } from "../../cli/simulate/trace";
import { cliCore } from "../../cli/dist-core";
import { partConfig } from "../../cli/policy-plan";
import { answerNeeds } from "../../core-js/answer-needs";
import { RULE_REASON0, reasonName } from "../../core-js/tandem-core";
import { edgesFromEnv, generatedCase, type GeneratedCase } from "./generated-scenarios";

function seedList(text: string): number[] {
  const out: number[] = [];
  for (const part of text.split(",").map((s) => s.trim()).filter(Boolean)) {
    const m = /^(\d+)-(\d+)$/.exec(part);
    if (m) for (let s = Number(m[1]); s <= Number(m[2]); s++) out.push(s);
    else out.push(Number(part));
  }
  return out;
}

// Committed size: 2 seeds x 10 policies x 120 requests, ~2 s a policy on 2 cores (Kong
// and Envoy run side by side). Wider local runs: TANDEM_GEN_SEEDS=1-20 (200 policies).
const SEEDS = seedList(process.env.TANDEM_GEN_SEEDS ?? "20261127,7");
const POLICIES = Number(process.env.TANDEM_GEN_POLICIES ?? 10);
const REQUESTS = Number(process.env.TANDEM_GEN_REQUESTS ?? 120);
const ONLY = process.env.TANDEM_GEN_ONLY !== undefined ? seedList(process.env.TANDEM_GEN_ONLY) : null;
const EDGES = edgesFromEnv();
const DUMP = process.env.TANDEM_GEN_DUMP;

// TANDEM_GEN_CASES=<file.json>: replay these cases ([{seed, index, policy, trace}], e.g.
// a shrunk repro) instead of generating.
const FILE = process.env.TANDEM_GEN_CASES;
const CASES: GeneratedCase[] = FILE ? (JSON.parse(readFileSync(FILE, "utf8")) as GeneratedCase[]) : [];
if (!FILE) {
  for (const seed of SEEDS) {
    for (let i = 0; i < POLICIES; i++) if (ONLY === null || ONLY.includes(i)) CASES.push(generatedCase(seed, i, REQUESTS, EDGES));
  }
}
const SUBSET = ONLY !== null || FILE !== undefined;
// The coverage assertions hold for the committed configuration; other runs print what
// their cases missed.
const COMMITTED = !SUBSET && !["TANDEM_GEN_SEEDS", "TANDEM_GEN_POLICIES", "TANDEM_GEN_REQUESTS", "TANDEM_GEN_EDGES"].some((k) => process.env[k] !== undefined);
function covered(what: string, missing: unknown[]): void {
  if (COMMITTED) expect(missing, what).toEqual([]);
  else if (missing.length > 0) console.warn(`${what}: ${JSON.stringify(missing)}`);
}
const label = (c: GeneratedCase) => `seed ${c.seed} policy ${c.index}`;

// What the core decided per request, beyond SimResult (reason, tag assignments): the
// coverage the trace really reached. Decided as `simulate --via core` decides.
interface Seen {
  reasons: Set<string>; variants: Set<string>; tags: Set<string>; tagReasons: Set<string>;
  matched: Set<string>;   // fields and operators of the rules that decided a request
  setCookies: number; outOfScope: number; requests: number; cases: number;
}
const seen: Seen = { reasons: new Set(), variants: new Set(), tags: new Set(), tagReasons: new Set(), matched: new Set(), setCookies: 0, outOfScope: 0, requests: 0, cases: 0 };

// "header", "header.exact", "header.exact!" (inverted), ... of a rule's conditions.
function conditionsOf(rule: { match: Record<string, Record<string, unknown> | null> }): string[] {
  const out: string[] = [];
  const one = (field: string, m: Record<string, unknown>) => {
    const op = ["exact", "prefix", "suffix", "contains", "regex", "present"].find((o) => m[o] !== undefined && m[o] !== null);
    out.push(field, `${field}.${op}`, `${op}${m.invert ? "!" : ""}`);
    if (m.ignoreCase) out.push("ignoreCase");
  };
  for (const [field, v] of Object.entries(rule.match)) {
    if (v === null) continue;
    if (field === "header" || field === "cookie" || field === "query") for (const m of Object.values(v)) one(field, m as Record<string, unknown>);
    else one(field, v);
  }
  return out;
}

function observe(c: GeneratedCase, results: SimResult[]): void {
  const core = cliCore();
  const plan = core.configureExperiment(JSON.stringify(partConfig(c.policy, "experiment")));
  try {
    for (const r of c.trace) {
      const facts = answerNeeds(plan.needs, { headers: normalizedHeaders(r), path: r.path, method: sentMethod(r), ip: "127.0.0.1" });
      const d = core.decideExperiment(plan, facts, r.t);
      if (d.variant < 0) { seen.outOfScope++; continue; }
      seen.reasons.add(reasonName(d.reason).replace(/:[1-9]\d*$/, ":n"));   // rule:0, rule:n
      if (d.reason >= RULE_REASON0) {
        const rules = (c.policy.spec.experiment as { rules: Array<{ match: Record<string, Record<string, unknown> | null> }> }).rules;
        for (const x of conditionsOf(rules[d.reason - RULE_REASON0])) seen.matched.add(x);
      }
      for (const t of core.lastTags(plan)) seen.tagReasons.add(reasonName(t.reason).replace(/:\d+$/, ""));
    }
  } finally {
    core.release(plan);
  }
  seen.cases++;
  for (const r of results) {
    seen.requests++;
    if (r.variant !== null) seen.variants.add(`${c.seed}/${c.index}/${r.variant}`);
    if (r.tags) seen.tags.add(r.tags);
    if (r.setCookie !== null) seen.setCookies++;
  }
}

describe("generated policies", () => {
  it("are all accepted by the core (tandem validate's check) and cover the grammar", () => {
    const core = cliCore();
    const used = new Set<string>();
    const walk = (v: unknown, path: string): void => {
      if (Array.isArray(v)) { v.forEach((x) => walk(x, path)); return; }
      if (v === null || typeof v !== "object") return;
      for (const [k, x] of Object.entries(v)) {
        const field = /^(header|cookie|query)$/.test(path.split(".").pop() ?? "") ? `${path}.<name>` : `${path}.${k}`;
        used.add(field);
        if (k === "hash") used.add(`hash=${x}`);
        if (k === "split") used.add(`split/${(x as unknown[]).length}`);
        walk(x, field);
      }
    };
    for (const c of CASES) {
      expect(core.validatePolicy(JSON.stringify(c.policy)), `${label(c)}: ${JSON.stringify(c.policy)}`).toBeNull();
      walk(c.policy.spec, "spec");
    }
    if (SUBSET) return;
    // The generator reached every part of the grammar it claims to (the committed seeds).
    const want = [
      "hash=tandem", "hash=growthbook-v2", "hash=unleash", "spec.experiment.seed", "spec.experiment.variantHeader",
      "spec.experiment.stickiness.sources", "spec.experiment.stickiness.cookie", "spec.experiment.scope",
      "spec.experiment.override.secret", "spec.experiment.rollout.steps", "spec.experiment.exposeHeader",
      "spec.experiment.rules.split", "spec.experiment.rules.variant", "spec.experiments.rules", "spec.experiments.variants",
      ...["header", "cookie", "query"].map((f) => `spec.experiment.rules.match.${f}.<name>`),
      ...["path", "method", "host"].map((f) => `spec.experiment.rules.match.${f}`),
      ...["exact", "prefix", "suffix", "contains", "regex", "present", "ignoreCase", "invert"].map((op) => `spec.experiment.rules.match.header.<name>.${op}`),
    ];
    covered("grammar the generator never produced", want.filter((w) => !used.has(w)));
  });

  describe.each(CASES.map((c) => ({ name: label(c), c })))("$name", ({ c }) => {
    it(`${c.trace.length} requests decide identically through core, Kong and Envoy`, async () => {
      const core = await simulate("core", c.policy, c.trace, () => {});
      // Envoy runs as an Istio ingress gateway: its own x-request-id (see ./edge-id.ts).
      const coreEnvoy = await simulate("core", c.policy, c.trace, () => {}, { profile: ENVOY_PROFILE });
      const [kong, envoy] = await Promise.all([
        simulate("kong", c.policy, c.trace, () => {}),
        simulate("envoy", c.policy, c.trace, () => {}),
      ]);
      const where = (i: number) =>
        `${label(c)} line ${c.trace[i].line} (TANDEM_GEN_SEEDS=${c.seed} TANDEM_GEN_ONLY=${c.index}): ` +
        `${c.trace[i].method} ${c.trace[i].path} ${JSON.stringify(c.trace[i].headers).slice(0, 600)} t=${c.trace[i].t}\npolicy ${JSON.stringify(c.policy)}`;
      if (DUMP) {
        for (let i = 0; i < c.trace.length; i++) {
          if (JSON.stringify(kong[i]) !== JSON.stringify(core[i]) || JSON.stringify(envoy[i]) !== JSON.stringify(coreEnvoy[i])) {
            appendFileSync(DUMP, JSON.stringify({ seed: c.seed, index: c.index, request: c.trace[i], core: core[i], kong: kong[i], envoy: envoy[i] }) + "\n");
          }
        }
      }
      for (let i = 0; i < c.trace.length; i++) {
        expect(kong[i], `kong, ${where(i)}`).toEqual(core[i]);
        expect(envoy[i], `envoy, ${where(i)}`).toEqual(coreEnvoy[i]);
      }
      expectSameExceptNewIds(core, coreEnvoy, newUserLines(c.policy, c.trace), where);
      observe(c, core);
    }, 300_000);
  });

  it("exercised the policies: reasons, variants, tags, cookies", () => {
    if (process.env.TANDEM_GEN_VERBOSE) {
      console.log(JSON.stringify({ ...seen, reasons: [...seen.reasons], matched: [...seen.matched].sort(), variants: seen.variants.size, tags: seen.tags.size, tagReasons: [...seen.tagReasons] }));
    }
    // A failed case observed nothing (its own failure says why); a subset proves nothing.
    if (SUBSET || seen.cases < CASES.length) return;
    expect(seen.requests).toBe(CASES.reduce((n, c) => n + c.trace.length, 0));
    const missing = (want: string[], have: Set<string>) => want.filter((w) => !have.has(w));
    covered("decision reasons never seen", missing(["split", "rule:0", "rule:n", "override", "ramp"], seen.reasons));
    covered("tag reasons never seen", missing(["rule", "split"], seen.tagReasons));
    // requests really matched rules of every kind (fields, operators, present: false /
    // inverted conditions included)
    const kinds = ["header", "cookie", "query", "path", "method", "host", "exact", "prefix", "suffix", "contains", "regex", "present", "ignoreCase"];
    covered("rule conditions that never decided a request", kinds.filter((k) => !seen.matched.has(k)));
    covered("no request was out of scope", seen.outOfScope > 0 ? [] : ["scope"]);
    covered("no inverted condition ever decided a request", [...seen.matched].some((m) => m.endsWith("!")) ? [] : ["invert"]);
    // the traces are not vacuous, whatever the seeds
    expect(seen.variants.size).toBeGreaterThan(CASES.length * 1.5);   // per policy, more than one variant on average
    expect(seen.setCookies).toBeGreaterThan(0);
    if (CASES.some((c) => c.policy.spec.experiments)) expect(seen.tags.size).toBeGreaterThan(1);
  });
});
