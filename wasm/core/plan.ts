// A whole TrafficPolicy compiled into the plan the Node side works from (`render`,
// `simulate`, `explain`, the playground): what each gateway's plugins are configured
// with, and the policy facts an adapter or a report needs, decided here once so no
// TypeScript re-reads the raw document. Configure time only.
//
//   name            metadata.name
//   parts           [{plugin, config, kong, enabled}] in chain order: `experiment` (spec.experiment
//                   + `experiments`, `hasFaults: false` without spec.faults), `circuit-breaker` (spec.circuitBreaker + `fallback`),
//                   `fault-injection` (spec.faults + the `experiment` a fault targets and
//                   keys users by + `hasBreaker`: a breaker for scope: upstream to feed).
//                   config: the plugin / root id config as the Envoy filter reads it;
//                   kong: the same for Kong's schema (failure statuses as strings, and
//                   the breaker's `variantUpstreams`, Kong routing before plugins run);
//                   enabled: whether the part does anything at all: false only for
//                   `fault-injection` when no fault is enabled and none has a `control`
//                   header to strip (render writes its Kong plugin entity disabled,
//                   which Kong then never runs: no plugin-server round trip)
//   variantHeader   the header the experiment sets (lowercase); null without one
//   overrideHeader  the QA override header, or null
//   expose          whether responses carry x-tandem-decision
//   variants        [{name, upstream|null, weight (percent), guarded}] in declared order
//   faults          {count, enabled: every fault enabled} for spec.faults, or null
//   sources         the experiment's key sources in order, [{kind, name}] (defaults applied)
//   scope           {hosts (lowercase), pathPrefixes}: empty lists, every request
//   taggingExperiments  how many spec.experiments
//   breakerKey      circuitBreaker.key (upstream | route | header:<name>), or null
//   fallback        the fallback's reply or reroute and when it applies, with `field`
//                   (its item's path: fallback, fallback[i]), or null
//   reject          the answer to a rejection no fallback takes
//   upstreams, resilience, secrets   what render writes around the plugins (./plan-deploy.ts)
//   warnings        what `tandem validate` warns about (./plan-warnings.ts)
import { JType, JValue, parseJson } from "./json/json";
import { jsonText, writeJson } from "./json/write";
import { Reader, formatBp } from "./config/reader";
import { validatePolicy } from "./policy";
import { parseExperiment } from "./experiment/config";
import { ExperimentSettings } from "./experiment/settings";
import { parseBreaker, BREAKER_SECTION, FALLBACK_SECTION } from "./breaker/config";
import { parseFallback } from "./breaker/fallback-config";
import { FallbackKind, UPSTREAM_NAMES_FIELD } from "./contract";
import { VARIANT_UPSTREAMS_FIELD } from "./contract-kong";
import { KeyKind } from "./breaker/settings";
import { FallbackSettings } from "./breaker/settings";
import { describeFallbackPlan, describeReject, keyName } from "./breaker/runtime";
import { TAGGING_SECTION } from "./tagging/config";
import { FAULTS_SECTION } from "./fault/config";
import { HAS_FAULTS_FIELD, POLICY_FIELD } from "./metrics/catalog";
import { describeResilience, describeSecrets, describeUpstreams } from "./plan-deploy";
import { describeWarnings } from "./plan-warnings";

// spec.faults (validated before) as the playground shows it: how many, and whether all
// are enabled (`enabled` absent means true: ./fault/config.ts).
function faultsSummary(faults: JValue | null): string {
  if (faults === null) return "null";
  let enabled = true;
  for (let i = 0; i < faults.items.length; i++) {
    const e = faults.items[i].get("enabled");
    if (e !== null && e.type == JType.Bool && !e.b) enabled = false;
  }
  return "{\"count\":" + faults.items.length.toString() + ",\"enabled\":" + (enabled ? "true" : "false") + "}";
}

// Whether the fault-injection part can do anything: some fault of spec.faults (validated
// before) is enabled, or one has a `control` header, which the plugin strips from every
// request whatever the switch (./fault/config.ts parseFaults), so it must still run.
function faultsActive(faults: JValue): bool {
  for (let i = 0; i < faults.items.length; i++) {
    const f = faults.items[i];
    if (f.get("control") !== null) return true;
    const e = f.get("enabled");
    if (e === null || e.type != JType.Bool || e.b) return true;
  }
  return false;
}

// The experiment's key sources in order, {kind, name} (name "" for ip), and its scope
// (hosts lowercase, path prefixes; empty: every request): the playground builds a user's
// request that reaches the experiment from them.
const SOURCE_KINDS: StaticArray<string> = ["cookie", "header", "query", "ip"];
function sourcesText(es: ExperimentSettings): string {
  let t = "[";
  for (let i = 0; i < es.sources.length; i++) {
    const src = unchecked(es.sources[i]);
    t += (i > 0 ? "," : "") + "{\"kind\":\"" + SOURCE_KINDS[<i32>src.kind] + "\",\"name\":" + jsonText(src.name) + "}";
  }
  return t + "]";
}
function bytesListText(list: StaticArray<StaticArray<u8>> | null): string {
  let t = "[";
  if (list !== null) for (let i = 0; i < list.length; i++) {
    const b = unchecked(list[i]);
    t += (i > 0 ? "," : "") + jsonText(String.UTF8.decodeUnsafe(changetype<usize>(b), <usize>b.length));
  }
  return t + "]";
}

export class PlanResult {
  plan: string = "";
  error: string = "";
}

// `obj` with `extra` (when not null) appended under `key`: a part's config.
function joined(obj: JValue | null, key: string, extra: JValue | null): JValue {
  const o = new JValue();
  o.type = JType.Obj;
  if (obj !== null) for (let i = 0; i < obj.keys.length; i++) { o.keys.push(obj.keys[i]); o.vals.push(obj.vals[i]); }
  if (extra !== null) { o.keys.push(key); o.vals.push(extra); }
  return o;
}

// `obj` with its `from` key named `to`, in place of order.
function renamed(obj: JValue, from: string, to: string): JValue {
  const o = joined(obj, "", null);
  for (let i = 0; i < o.keys.length; i++) if (o.keys[i] == from) o.keys[i] = to;
  return o;
}

// `hasFaults: false` (./metrics/catalog.ts HAS_FAULTS_FIELD).
function noFaults(): JValue {
  const no = new JValue();
  no.type = JType.Bool;
  no.b = false;
  return no;
}

export function compilePolicy(text: string): PlanResult {
  const out = new PlanResult();
  const err = validatePolicy(text);
  if (err.length > 0) { out.error = err; return out; }
  const doc = parseJson(text).value as JValue;
  const spec = doc.get("spec") as JValue;
  const name = ((doc.get("metadata") as JValue).get("name") as JValue).s;
  const r = new Reader();
  const ex = spec.get("experiment");
  const cb = spec.get("circuitBreaker");
  const fb = spec.get("fallback");
  let es: ExperimentSettings | null = null;
  if (ex !== null) es = parseExperiment(r, ex, "experiment");
  let f: FallbackSettings | null = null;
  if (fb !== null) f = parseFallback(r, fb, FALLBACK_SECTION);

  // Every part names the policy (its metrics' `policy` label, ./metrics/policy-name.ts).
  const policy = new JValue();
  policy.type = JType.Str;
  policy.s = name;
  let parts = "";
  let variants = "[";
  if (ex !== null && es !== null) {
    let cfg = joined(joined(ex, TAGGING_SECTION, spec.get(TAGGING_SECTION)), POLICY_FIELD, policy);
    // No fault-injection part: the experiment need not look for a fault's mark per
    // stream (./metrics/catalog.ts HAS_FAULTS_FIELD; absent means true).
    if (spec.get(FAULTS_SECTION) === null) cfg = joined(cfg, HAS_FAULTS_FIELD, noFaults());
    parts += "{\"plugin\":\"experiment\",\"config\":" + writeJson(cfg) + ",\"kong\":" + writeJson(cfg, true) + ",\"enabled\":true}";
    for (let i = 0; i < es.variants.length; i++) {
      const v = es.variants[i];
      variants += (i > 0 ? "," : "") + "{\"name\":" + jsonText(v.name) + ",\"upstream\":" + (v.upstream.length > 0 ? jsonText(v.upstream) : "null")
        + ",\"weight\":" + formatBp(v.weightBp) + ",\"guarded\":" + (unchecked(es.guardOf[i]) >= 0 ? "true" : "false") + "}";
    }
  }
  variants += "]";
  let breakerKey = "null";
  if (cb !== null || fb !== null) {
    const bs = parseBreaker(r, cb !== null ? cb : joined(null, "", null), BREAKER_SECTION);
    if (bs !== null) breakerKey = jsonText(keyName(bs));
    let cfg = joined(joined(cb, "fallback", fb), POLICY_FIELD, policy);
    // No fault-injection part: the breaker need not look for a fault's mark either.
    if (spec.get(FAULTS_SECTION) === null) cfg = joined(cfg, HAS_FAULTS_FIELD, noFaults());
    // Kong routes before plugins run: a reroute to a variant needs each variant's Kong
    // Upstream (the core resolves a reroute with it: ./breaker/reroute.ts).
    const ups = new JValue();
    ups.type = JType.Obj;
    if (es !== null) {
      for (let i = 0; i < es.variants.length; i++) {
        const v = es.variants[i];
        if (v.upstream.length == 0) continue;
        const u = new JValue();
        u.type = JType.Str;
        u.s = v.upstream;
        ups.keys.push(v.name);
        ups.vals.push(u);
      }
    }
    // key: upstream counts each variant under its upstream's neutral name, on both
    // gateways (./breaker/upstream-names.ts).
    if (bs !== null && bs.keyKind == KeyKind.Upstream && ups.keys.length > 0) cfg = joined(cfg, UPSTREAM_NAMES_FIELD, ups);
    let kongCfg = joined(cfg, VARIANT_UPSTREAMS_FIELD, ups.keys.length > 0 ? ups : null);
    // Kong types a field as one shape: the list form goes under the Kong-only
    // `fallbacks` (plugins/circuit-breaker/fallback-form.ts).
    if (fb !== null && fb.type == JType.Arr) kongCfg = renamed(kongCfg, "fallback", "fallbacks");
    parts += (parts.length > 0 ? "," : "") + "{\"plugin\":\"circuit-breaker\",\"config\":" + writeJson(cfg) + ",\"kong\":" + writeJson(kongCfg, true) + ",\"enabled\":true}";
  }
  const faults = spec.get(FAULTS_SECTION);
  if (faults !== null) {
    let cfg = joined(null, FAULTS_SECTION, faults);
    if (ex !== null) cfg = joined(cfg, "experiment", ex);
    if (cb !== null) {
      const yes = new JValue();
      yes.type = JType.Bool;
      yes.b = true;
      cfg = joined(cfg, "hasBreaker", yes);
    }
    cfg = joined(cfg, POLICY_FIELD, policy);
    parts += (parts.length > 0 ? "," : "") + "{\"plugin\":\"fault-injection\",\"config\":" + writeJson(cfg) + ",\"kong\":" + writeJson(cfg, true) + ",\"enabled\":" + (faultsActive(faults) ? "true" : "false") + "}";
  }
  let d = "{\"name\":" + jsonText(name) + ",\"parts\":[" + parts + "]";
  d += ",\"variantHeader\":" + (es !== null ? jsonText(es.variantHeader) : "null");
  d += ",\"overrideHeader\":" + (es !== null && es.overrideHeader.length > 0 ? jsonText(es.overrideHeader) : "null");
  d += ",\"expose\":" + (es !== null && es.expose ? "true" : "false");
  d += ",\"variants\":" + variants;
  d += ",\"faults\":" + faultsSummary(faults);
  d += ",\"sources\":" + (es !== null ? sourcesText(es) : "[]");
  const tagging = spec.get(TAGGING_SECTION);
  d += ",\"taggingExperiments\":" + (tagging !== null ? tagging.items.length.toString() : "0");
  d += ",\"scope\":{\"hosts\":" + bytesListText(es !== null ? es.scopeHosts : null) + ",\"pathPrefixes\":" + bytesListText(es !== null ? es.scopePrefixes : null) + "}";
  d += ",\"breakerKey\":" + breakerKey;
  d += ",\"fallback\":" + describeFallbackPlan(f, true);
  d += ",\"reject\":" + describeReject();
  const routed = new Array<string>(0);
  if (es !== null) for (let i = 0; i < es.variants.length; i++) if (es.variants[i].upstream.length > 0) routed.push(es.variants[i].upstream);
  if (f !== null && f.kind == FallbackKind.Reroute && f.upstream.length > 0) routed.push(f.upstream);
  d += ",\"upstreams\":" + describeUpstreams(spec, routed);
  d += ",\"resilience\":" + describeResilience(spec);
  d += ",\"secrets\":" + describeSecrets(spec);
  d += ",\"warnings\":" + describeWarnings(spec, es);
  out.plan = d + "}";
  return out;
}
