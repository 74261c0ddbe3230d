// deploy/prometheus, deploy/grafana, deploy/flagger, deploy/argo without a Prometheus binary:
// every PromQL expression parses (Prometheus's own lezer grammar) and reads only tandem's
// contract metrics and labels (plus `gateway`, which the scrape config adds, and the rules'
// own recorded series); the dashboard is a well-formed Grafana JSON model; the Flagger
// MetricTemplates and the Argo Rollouts AnalysisTemplate have their CRDs' documented shape
// (fluxcd/flagger pkg/apis/flagger/v1beta1/metric.go, argoproj/argo-rollouts
// pkg/apis/rollouts/v1alpha1/analysis_types.go; no CRD schema of either is vendored here).
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { promql, seriesNames } from "../support/promql";
import { DURATION_BUCKETS, ENVOY_DURATION_SCALE, GATEWAYS, LABEL_VALUES, METRICS } from "../support/metric-contract";
import {
  ARGO_FILE, DEPLOY, FLAGGER_FILE, RULES_TEST_FILE, SAMPLE_FILL, SCRAPE_FILE, dashboardDoc, deployQueries, fillArgo, fillFlagger, fillGrafana,
  panelsOf, rulesDoc, yamlObjects,
} from "../support/deploy-queries";

type Obj = Record<string, any>;

const recorded = rulesDoc().groups.flatMap((g) => g.rules.filter((r) => r.record).map((r) => r.record as string));
const KNOWN_SERIES = new Set([...seriesNames(METRICS), ...recorded]);
const KNOWN_LABELS = new Set([...Object.values(METRICS).flatMap((m) => m.labels), "gateway", "le"]);

// Problems of one expression against the contract; [] when it parses and stays inside it.
function contractProblems(expr: string): string[] {
  const f = promql(expr);
  return [
    ...f.errors,
    ...f.metrics.filter((m) => !KNOWN_SERIES.has(m)).map((m) => `metric ${m} is not in the contract`),
    ...f.labels.filter((l) => !KNOWN_LABELS.has(l)).map((l) => `label ${l} is not in the contract`),
  ];
}

// Label values a matcher pins (label="v") must be values the contract allows.
function valueProblems(expr: string): string[] {
  const out: string[] = [];
  for (const m of expr.matchAll(/\b(\w+)\s*(=|!=)\s*"([^"]*)"/g)) {
    const allowed = m[1] === "gateway" ? GATEWAYS : LABEL_VALUES[m[1]];
    if (allowed && !allowed.includes(m[3])) out.push(`${m[1]}${m[2]}"${m[3]}": not a value of ${m[1]}`);
  }
  return out;
}

const queries = deployQueries();

describe("PromQL in the deploy files", () => {
  it("finds the expressions of every source", () => {
    const by = (s: string) => queries.filter((q) => q.source === s).length;
    expect(by("rule")).toBe(rulesDoc().groups.flatMap((g) => g.rules).length);
    expect(by("dashboard")).toBe(panelsOf(dashboardDoc()).flatMap((p) => p.targets ?? []).length);
    expect(by("flagger")).toBe(2);
    expect(by("argo")).toBe(2);
  });

  for (const q of queries) {
    it(`${q.where}: parses and uses only contract metrics and labels`, () => {
      expect(contractProblems(q.expr)).toEqual([]);
      expect(valueProblems(q.expr)).toEqual([]);
    });
  }

  it("the checker finds what it must find (syntax errors, foreign metric and label names, bad label values)", () => {
    expect(contractProblems("sum(rate(tandem_requests_total[1m])")).not.toEqual([]);
    expect(contractProblems("rate(tandem_requests_total{code_class=\"5xx\"}[1m]) /")).not.toEqual([]);
    expect(contractProblems("rate(tandem_request_total[1m])")).toEqual(["metric tandem_request_total is not in the contract"]);
    expect(contractProblems("{__name__=\"istio_requests_total\"}")).toEqual(["metric istio_requests_total is not in the contract"]);
    expect(contractProblems("sum by (status) (rate(tandem_requests_total[1m]))")).toEqual(["label status is not in the contract"]);
    expect(contractProblems("histogram_quantile(0.95, sum by (le) (rate(tandem_request_duration_seconds_bucket[1m])))")).toEqual([]);
    expect(valueProblems("tandem_requests_total{code_class!=\"500\"}")).toEqual(["code_class!=\"500\": not a value of code_class"]);
    expect(() => fillGrafana("rate(x{a=~\"$nope\"}[1m])", SAMPLE_FILL)).toThrow("no value for $nope");
    expect(() => fillFlagger("x[{{ window }}]", SAMPLE_FILL)).toThrow("unfilled template {{ window }}");
    expect(() => fillArgo("x{a=\"{{args.nope}}\"}", SAMPLE_FILL)).toThrow("no value for args.nope");
  });
});

describe("deploy/prometheus/rules.yaml", () => {
  const groups = rulesDoc().groups;
  const rules = groups.flatMap((g) => g.rules);
  const alert = (name: string) => rules.find((r) => r.alert === name)!;

  it("has unique group names, each rule a record or an alert with an expr", () => {
    expect(new Set(groups.map((g) => g.name)).size).toBe(groups.length);
    for (const r of rules) {
      expect(typeof r.expr).toBe("string");
      expect(Number(r.record !== undefined) + Number(r.alert !== undefined), JSON.stringify(r)).toBe(1);
    }
  });

  it("recorded series follow level:metric:operations and keep gateway, policy, experiment, variant", () => {
    for (const name of recorded) {
      expect(name).toMatch(/^gateway_policy_experiment_variant:tandem_[a-z_]+:[a-z0-9_]+$/);
      const r = rules.find((x) => x.record === name)!;
      // every aggregation keeps the per-variant labels
      for (const by of String(r.expr).matchAll(/by \(([^)]*)\)/g)) expect(by[1], name).toMatch(/^gateway, policy, experiment(, variant)?(, le)?$/);
    }
  });

  it("alerts carry a severity and a summary naming gateway and variant", () => {
    for (const r of rules.filter((x) => x.alert)) {
      expect(["critical", "warning"]).toContain(r.labels?.severity);
      expect(r.annotations?.summary, r.alert).toContain("{{ $labels.gateway }}");
    }
  });

  it("the canary alerts use Flagger's thresholds (success below 99%, p95 above 500 ms) for non-stable variants, unless stable fails too", () => {
    const sr = alert("TandemCanarySuccessRateLow").expr;
    expect(sr).toMatch(/success_ratio_rate1m\{variant!="stable"\} < 0\.99\)\s*unless on \(gateway, policy, experiment\)\s*\(\S+success_ratio_rate1m\{variant="stable"\} < 0\.99\)/);
    const p95 = alert("TandemCanaryLatencyHigh").expr;
    expect(p95).toMatch(/p95_rate1m\{variant!="stable"\} > 0\.5\)\s*unless on \(gateway, policy, experiment\)\s*\(\S+p95_rate1m\{variant="stable"\} > 0\.5\)/);
    // thresholds in the metric's units: ratio and seconds
    expect(promql(sr).metrics).toEqual(["gateway_policy_experiment_variant:tandem_requests:success_ratio_rate1m"]);
    expect(promql(p95).metrics).toEqual(["gateway_policy_experiment_variant:tandem_request_duration_seconds:p95_rate1m"]);
  });
});

describe("deploy/prometheus/rules.test.yaml (promtool's unit tests; run in promtool.test.ts)", () => {
  const doc = parse(readFileSync(RULES_TEST_FILE, "utf8")) as Obj;
  const tests = doc.tests as Obj[];

  it("its input series are contract series; its exprs parse and read only contract or recorded series", () => {
    expect(doc.rule_files).toEqual(["rules.yaml"]);
    for (const t of tests) {
      for (const s of t.input_series) expect(contractProblems(s.series), s.series).toEqual([]);
      for (const e of t.promql_expr_test ?? []) expect(contractProblems(e.expr), e.expr).toEqual([]);
    }
  });

  it("tests every alert of rules.yaml, each with a firing case and a quiet one", () => {
    const alerts = rulesDoc().groups.flatMap((g) => g.rules).filter((r) => r.alert).map((r) => r.alert as string);
    const cases = tests.flatMap((t) => t.alert_rule_test as Obj[]);
    for (const a of alerts) {
      const mine = cases.filter((c) => c.alertname === a);
      expect(mine.length, a).toBeGreaterThan(0);
      expect(mine.some((c) => c.exp_alerts.length > 0), `${a} fires somewhere`).toBe(true);
      expect(mine.some((c) => c.exp_alerts.length === 0), `${a} is quiet somewhere`).toBe(true);
    }
  });
});

describe("deploy/prometheus/prometheus.yaml", () => {
  const cfg = parse(readFileSync(SCRAPE_FILE, "utf8")) as Obj;

  it("loads rules.yaml and adds gateway=kong|envoy in every job", () => {
    expect(cfg.rule_files).toEqual(["rules.yaml"]);
    const gateways = new Set<string>();
    for (const job of cfg.scrape_configs as Obj[]) {
      const fromRelabel = (job.relabel_configs ?? []).filter((r: Obj) => r.target_label === "gateway").map((r: Obj) => r.replacement);
      const fromStatic = (job.static_configs ?? []).map((s: Obj) => s.labels?.gateway).filter(Boolean);
      const g = [...fromRelabel, ...fromStatic];
      expect(g.length, job.job_name).toBe(fromStatic.length ? (job.static_configs as Obj[]).length : 1);
      for (const x of g) { expect(GATEWAYS, job.job_name).toContain(x); gateways.add(x); }
    }
    expect([...gateways].sort()).toEqual([...GATEWAYS].sort());
  });

  it("Kubernetes jobs pick their targets by port name (Kong: deploy/kong/metrics-service.yaml's endpoints; Istio: the proxy's port)", () => {
    const jobs = Object.fromEntries((cfg.scrape_configs as Obj[]).map((j) => [j.job_name, j]));
    expect(jobs["tandem-kong"].kubernetes_sd_configs).toEqual([{ role: "endpoints" }]);
    expect(jobs["tandem-kong"].relabel_configs[0]).toEqual({ source_labels: ["__meta_kubernetes_endpoint_port_name"], regex: "tandem-.+", action: "keep" });
    const svc = parse(readFileSync(join(DEPLOY, "kong", "metrics-service.yaml"), "utf8")) as Obj;
    for (const p of svc.spec.ports) expect(p.name).toMatch(new RegExp(`^${jobs["tandem-kong"].relabel_configs[0].regex}$`));
    expect(jobs["tandem-envoy"].kubernetes_sd_configs).toEqual([{ role: "pod" }]);
    expect(jobs["tandem-envoy"].relabel_configs[0]).toMatchObject({ source_labels: ["__meta_kubernetes_pod_container_port_name"], action: "keep" });
    expect(jobs["tandem-envoy"].relabel_configs.find((r: Obj) => r.target_label === "__metrics_path__").replacement).toBe("/stats/prometheus");
  });

  it("both Envoy jobs keep tandem_ series only, drop the µs _sum and map every µs `le` bound back to the contract's seconds", () => {
    const envoyJobs = (cfg.scrape_configs as Obj[]).filter((j) => j.job_name.startsWith("tandem-envoy"));
    expect(envoyJobs).toHaveLength(2);
    for (const j of envoyJobs) {
      const m = j.metric_relabel_configs as Obj[];
      expect(m[0]).toEqual({ source_labels: ["__name__"], regex: "tandem_.+", action: "keep" });
      expect(m[1]).toEqual({ source_labels: ["__name__"], regex: "tandem_request_duration_seconds_sum", action: "drop" });
      const le = m.slice(2).map((r) => [Number(/;(\d+)$/.exec(r.regex)![1]), r.replacement]);
      expect(le.map(([us]) => us)).toEqual(DURATION_BUCKETS.map((b) => Math.round(b * ENVOY_DURATION_SCALE)));
      // the replacement is how prom-client (Kong) writes the same bound: JavaScript's number text
      expect(le.map(([, s]) => s)).toEqual(DURATION_BUCKETS.map(String));
    }
  });
});

describe("deploy/grafana/tandem.json", () => {
  const d = dashboardDoc();
  const panels = panelsOf(d);
  const content = panels.filter((p) => p.type !== "row");
  const vars = (d.templating.list as Obj[]).map((v) => v.name);

  it("is a dashboard model Grafana imports: title, uid, schemaVersion, time, templating, panels", () => {
    expect(typeof d.title).toBe("string");
    expect(d.uid).toMatch(/^[A-Za-z0-9_-]{1,40}$/);
    expect(Number.isInteger(d.schemaVersion)).toBe(true);
    expect(d.time).toEqual({ from: expect.any(String), to: expect.any(String) });
    expect(d.id ?? null).toBeNull();   // an id would bind the file to one Grafana's database
    expect(vars).toEqual(["datasource", "gateway", "policy", "experiment"]);
  });

  it("every panel has a unique id, a type, a place on the 24-column grid and no overlap", () => {
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
    const cells = new Set<string>();
    for (const p of panels) {
      expect(["row", "timeseries", "state-timeline"], p.title).toContain(p.type);
      const { x, y, w, h } = p.gridPos;
      expect(x >= 0 && w > 0 && x + w <= 24 && y >= 0 && h > 0, p.title).toBe(true);
      for (let i = x; i < x + w; i++) for (let j = y; j < y + h; j++) {
        expect(cells.has(`${i},${j}`), `${p.title} overlaps at ${i},${j}`).toBe(false);
        cells.add(`${i},${j}`);
      }
    }
  });

  it("every panel has a Prometheus target with an expr and a unique refId; data sources are the variable", () => {
    for (const p of content) {
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      expect(p.datasource).toEqual({ type: "prometheus", uid: "${datasource}" });
      expect(new Set(p.targets.map((t: Obj) => t.refId)).size, p.title).toBe(p.targets.length);
      for (const t of p.targets) {
        expect(typeof t.expr === "string" && t.expr.length > 0, p.title).toBe(true);
        expect(t.datasource).toEqual(p.datasource);
      }
    }
  });

  it("every $variable a query uses is defined; gateway and policy filter every tandem_ selector", () => {
    for (const p of content) for (const t of p.targets) {
      for (const m of String(t.expr).matchAll(/\$(\w+)/g)) if (!m[1].startsWith("__")) expect(vars, `${p.title}: $${m[1]}`).toContain(m[1]);
      // every selector of a policy-labelled metric filters by gateway and policy
      for (const s of String(t.expr).matchAll(/(tandem_\w+)\{([^}]*)\}/g)) {
        expect(s[2], `${p.title}: ${s[1]}`).toContain('gateway=~"$gateway"');
        const base = s[1].replace(/_(bucket|sum|count)$/, "");
        if (METRICS[base]?.labels.includes("policy")) expect(s[2], `${p.title}: ${s[1]}`).toContain('policy=~"$policy"');
      }
    }
  });

  it("shows what the issue asks: per-variant rate, success rate and p95 side by side, served split, breaker and guard states, faults", () => {
    const exprs = (title: RegExp) => content.filter((p) => title.test(p.title)).flatMap((p) => p.targets.map((t: Obj) => t.expr as string));
    const first = content.slice(0, 3);
    expect(first.map((p) => p.gridPos.y)).toEqual([first[0].gridPos.y, first[0].gridPos.y, first[0].gridPos.y]);
    expect(first.map((p) => p.title)).toEqual(["Requests per second by variant", "Success rate by variant (non-5xx)", "p95 upstream latency by variant"]);
    expect(exprs(/^p95/)[0]).toMatch(/^histogram_quantile\(0\.95, /);
    expect(exprs(/^Served split/)).toHaveLength(1);
    expect(exprs(/^Weighted split/)[0]).toContain('reason="split"');
    expect(promql(exprs(/^Circuit breaker state/)[0]).metrics).toEqual(["tandem_breaker_state"]);
    expect(promql(exprs(/^Canary guard state/)[0]).metrics).toEqual(["tandem_guard_state"]);
    expect(promql(exprs(/^Injected faults/)[0]).metrics).toEqual(["tandem_faults_total"]);
  });
});

describe("deploy/flagger: MetricTemplates (flagger.app/v1beta1)", () => {
  const docs = yamlObjects(FLAGGER_FILE);
  const SPEC = ["provider", "query"];
  const PROVIDER = ["type", "address", "secretRef", "region", "insecureSkipVerify"];
  // MetricTemplateModel's functions plus the Canary metric's templateVariables
  const FUNCS = /^(name|namespace|target|service|ingress|interval|variables\.\w+)$/;

  it("each has the documented fields only, a prometheus provider with an http(s) address, and a query", () => {
    expect(docs.map((x) => x.metadata.name)).toEqual(["tandem-success-rate", "tandem-latency-p95"]);
    for (const m of docs) {
      expect(m.apiVersion).toBe("flagger.app/v1beta1");
      expect(m.kind).toBe("MetricTemplate");
      expect(m.metadata.name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
      expect(Object.keys(m).sort()).toEqual(["apiVersion", "kind", "metadata", "spec"]);
      expect(Object.keys(m.spec).every((k) => SPEC.includes(k)), m.metadata.name).toBe(true);
      expect(Object.keys(m.spec.provider).every((k) => PROVIDER.includes(k)), m.metadata.name).toBe(true);
      expect(m.spec.provider.type).toBe("prometheus");
      expect(new URL(m.spec.provider.address).protocol).toMatch(/^https?:$/);
      for (const t of String(m.spec.query).matchAll(/\{\{\s*([^}]*?)\s*\}\}/g)) expect(t[1], m.metadata.name).toMatch(FUNCS);
    }
  });

  it("answer in Flagger's builtin units: success rate in percent, duration in milliseconds", () => {
    expect(docs[0].spec.query).toMatch(/^100 \* /);
    expect(docs[1].spec.query).toMatch(/^1000 \* histogram_quantile\(0\.95,/);
  });
});

describe("deploy/argo: AnalysisTemplate (argoproj.io/v1alpha1)", () => {
  const docs = yamlObjects(ARGO_FILE);
  const SPEC = ["metrics", "args", "dryRun", "measurementRetention"];
  const METRIC = ["name", "interval", "initialDelay", "count", "successCondition", "failureCondition", "failureLimit", "inconclusiveLimit", "consecutiveErrorLimit", "provider"];
  const PROMETHEUS = ["address", "query", "timeout", "insecure", "headers", "authentication"];
  const DURATION = /^(\d+(ms|s|m|h))+$/;

  it("has the documented fields only; every {{args.x}} is a declared arg; conditions read result[0]", () => {
    expect(docs).toHaveLength(1);
    const t = docs[0];
    expect(t.apiVersion).toBe("argoproj.io/v1alpha1");
    expect(t.kind).toBe("AnalysisTemplate");
    expect(Object.keys(t.spec).every((k) => SPEC.includes(k))).toBe(true);
    const args = (t.spec.args as Obj[]).map((a) => a.name);
    for (const a of t.spec.args) expect(Object.keys(a).every((k) => ["name", "value", "valueFrom"].includes(k))).toBe(true);
    expect(new Set(t.spec.metrics.map((m: Obj) => m.name)).size).toBe(t.spec.metrics.length);
    for (const m of t.spec.metrics as Obj[]) {
      expect(Object.keys(m).every((k) => METRIC.includes(k)), m.name).toBe(true);
      expect(m.interval).toMatch(DURATION);
      expect(Number.isInteger(m.failureLimit)).toBe(true);
      expect(Object.keys(m.provider)).toEqual(["prometheus"]);
      expect(Object.keys(m.provider.prometheus).every((k) => PROMETHEUS.includes(k)), m.name).toBe(true);
      expect(new URL(m.provider.prometheus.address).protocol).toMatch(/^https?:$/);
      for (const a of String(m.provider.prometheus.query).matchAll(/\{\{\s*args\.([\w-]+)\s*\}\}/g)) expect(args, m.name).toContain(a[1]);
      expect(m.successCondition).toMatch(/^result\[0\] (>=|<=) [\d.]+$/);
    }
    expect(t.spec.metrics.map((m: Obj) => m.successCondition)).toEqual(["result[0] >= 0.99", "result[0] <= 0.5"]);
  });
});
