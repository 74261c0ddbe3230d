// Every PromQL expression in tandem's observability files, with their template syntax filled
// in: deploy/prometheus/rules.yaml (recording rules and alerts), deploy/grafana/tandem.json
// (panel targets; variable queries' selectors), deploy/flagger/ (MetricTemplates, Go
// templates `{{ interval }}`, `{{ variables.x }}`) and deploy/argo/ (`{{args.x}}`).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments, parse } from "yaml";
import { ROOT } from "./dist";

export const DEPLOY = join(ROOT, "deploy");
export const RULES_FILE = join(DEPLOY, "prometheus", "rules.yaml");
export const SCRAPE_FILE = join(DEPLOY, "prometheus", "prometheus.yaml");
export const RULES_TEST_FILE = join(DEPLOY, "prometheus", "rules.test.yaml");
export const DASHBOARD_FILE = join(DEPLOY, "grafana", "tandem.json");
export const FLAGGER_FILE = join(DEPLOY, "flagger", "metric-templates.yaml");
export const ARGO_FILE = join(DEPLOY, "argo", "analysis-template.yaml");

type Obj = Record<string, any>;

export interface RuleFile { groups: Array<{ name: string; interval?: string; rules: Obj[] }> }
export const rulesDoc = (): RuleFile => parse(readFileSync(RULES_FILE, "utf8"));
export const dashboardDoc = (): Obj => JSON.parse(readFileSync(DASHBOARD_FILE, "utf8"));
export const yamlObjects = (file: string): Obj[] => parseAllDocuments(readFileSync(file, "utf8")).map((d) => d.toJS());

export interface Fill {
  /** rate window for $__rate_interval and Flagger's {{ interval }} */
  window: string;
  /** Grafana variables ($gateway, $policy, $experiment: regexes) */
  grafana: Record<string, string>;
  /** Flagger templateVariables and Argo args */
  args: Record<string, string>;
}
export const SAMPLE_FILL: Fill = { window: "1m", grafana: { gateway: ".*", policy: ".*", experiment: ".*" }, args: { policy: "checkout", variant: "canary" } };

export interface DeployQuery {
  source: "rule" | "dashboard" | "dashboard-variable" | "flagger" | "argo";
  /** where it is, for messages: file and rule/panel/template name */
  where: string;
  /** as written in the file */
  raw: string;
  /** with its template syntax filled in */
  expr: string;
  /** recording rule name / alert name / panel title / metric name */
  name: string;
  record?: boolean;
}

// A placeholder nothing fills is an error, not a silent literal.
function leftover(where: string, expr: string): string {
  const m = /\$\{?\w+|\{\{[^}]*\}\}/.exec(expr);
  if (m) throw new Error(`${where}: unfilled template ${m[0]}`);
  return expr;
}

export function fillGrafana(expr: string, fill: Fill, where = "dashboard"): string {
  const out = expr.replace(/\$__rate_interval|\$__interval|\$\{(\w+)\}|\$(\w+)/g, (all, braced: string, bare: string) => {
    if (all === "$__rate_interval" || all === "$__interval") return fill.window;
    const name = braced ?? bare;
    if (!(name in fill.grafana)) throw new Error(`${where}: no value for $${name}`);
    return fill.grafana[name];
  });
  return leftover(where, out);
}

export function fillFlagger(expr: string, fill: Fill, where = "flagger"): string {
  const out = expr.replace(/\{\{\s*(interval|variables\.(\w+))\s*\}\}/g, (_all, what: string, v: string) => {
    if (what === "interval") return fill.window;
    if (!(v in fill.args)) throw new Error(`${where}: no value for variables.${v}`);
    return fill.args[v];
  });
  return leftover(where, out);
}

export function fillArgo(expr: string, fill: Fill, where = "argo"): string {
  const out = expr.replace(/\{\{\s*args\.([\w-]+)\s*\}\}/g, (_all, v: string) => {
    if (!(v in fill.args)) throw new Error(`${where}: no value for args.${v}`);
    return fill.args[v];
  });
  return leftover(where, out);
}

/** Grafana's label_values(<selector>, <label>): the selector is PromQL. */
export function variableSelector(query: string): { selector: string; label: string } | null {
  const m = /^label_values\((.*),\s*([A-Za-z_]\w*)\)$/s.exec(query.trim());
  return m ? { selector: m[1], label: m[2] } : null;
}

export function panelsOf(d: Obj): Obj[] {
  return (d.panels ?? []).flatMap((p: Obj) => [p, ...(p.panels ?? [])]);
}

export function deployQueries(fill: Fill = SAMPLE_FILL): DeployQuery[] {
  const out: DeployQuery[] = [];
  for (const g of rulesDoc().groups) {
    for (const r of g.rules) {
      const name = r.record ?? r.alert;
      out.push({ source: "rule", where: `rules.yaml ${g.name}/${name}`, raw: r.expr, expr: String(r.expr), name, record: r.record !== undefined });
    }
  }
  const d = dashboardDoc();
  for (const p of panelsOf(d)) {
    for (const t of p.targets ?? []) {
      const where = `tandem.json panel "${p.title}" ${t.refId}`;
      out.push({ source: "dashboard", where, raw: t.expr, expr: fillGrafana(t.expr, fill, where), name: `${p.title} ${t.refId}` });
    }
  }
  for (const v of d.templating?.list ?? []) {
    if (v.type !== "query") continue;
    const where = `tandem.json variable $${v.name}`;
    const q = variableSelector(typeof v.query === "string" ? v.query : v.query?.query ?? "");
    if (!q) throw new Error(`${where}: not label_values(<selector>, <label>)`);
    out.push({ source: "dashboard-variable", where, raw: q.selector, expr: fillGrafana(q.selector, fill, where), name: v.name });
  }
  for (const t of yamlObjects(FLAGGER_FILE)) {
    const where = `flagger MetricTemplate ${t.metadata?.name}`;
    out.push({ source: "flagger", where, raw: t.spec?.query, expr: fillFlagger(String(t.spec?.query), fill, where), name: t.metadata?.name });
  }
  for (const t of yamlObjects(ARGO_FILE)) {
    for (const m of t.spec?.metrics ?? []) {
      const where = `argo AnalysisTemplate ${t.metadata?.name} metric ${m.name}`;
      const q = m.provider?.prometheus?.query;
      out.push({ source: "argo", where, raw: q, expr: fillArgo(String(q), fill, where), name: m.name });
    }
  }
  return out;
}
