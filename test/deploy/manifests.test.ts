// Every file under deploy/ is checked here: Kubernetes manifests against the Istio 1.30.3 and
// Kong Ingress Controller CRD schemas and kubernetes-models; every plugin config inside them
// through the gateways' own checks (test/support/rendered.ts); the rendered ones equal what
// `tandem render` writes today; the plugin-server settings match what the built plugin
// directories report to `kong-js-pluginserver --dump-all-plugins`.
import { describe, expect, it } from "vitest";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { basename, dirname, join, relative } from "node:path";
import { parse } from "yaml";
import { KONG_DIR, ROOT, loadCore } from "../support/dist";
import { manifestProblems } from "../support/manifests";
import { checkRender, kongPluginInfo, yamlDocs } from "../support/rendered";
import { renderFiles, type RenderRequest } from "../../cli/render";
import { DEFAULT_IMAGE } from "../../cli/render";
import { CUSTOM_STAT_NAMESPACE } from "../../sim/envoy/index";
import { tandemIstioProxyConfig } from "../../cli/render/envoy-stats";
import type { PolicyDoc } from "../../cli/policy-file";

const DEPLOY = join(ROOT, "deploy");
const read = (rel: string) => readFileSync(join(DEPLOY, rel), "utf8");
const core = loadCore();

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
}
const YAML_FILES = walk(DEPLOY).filter((f) => f.endsWith(".yaml")).map((f) => relative(DEPLOY, f)).sort();

// Which check covers each file: a new file under deploy/ needs one.
const POLICIES = YAML_FILES.filter((f) => f.startsWith("examples/"));
const COMPOSE = ["envoy/compose.yaml", "kong/compose.yaml"];
const KUBERNETES: Record<string, string[]> = {
  kong: ["kong/plugins.yaml", "kong/service.yaml", "kong/metrics-service.yaml"],
  istio: ["istio/gateway.yaml", "istio/ingress-gateway.yaml", "istio/sidecar.yaml", "istio/frontend.yaml"],
};
const OTHER = ["envoy/envoy.yaml", "kong/kong-dbless.yaml", "kong/helm-values.yaml", "istio/istiod-values.yaml"];
// checked by test/deploy/observability.test.ts (and promtool.test.ts when promtool is installed)
const OBSERVABILITY = ["prometheus/prometheus.yaml", "prometheus/rules.yaml", "prometheus/rules.test.yaml", "flagger/metric-templates.yaml", "argo/analysis-template.yaml"];

const checkout = parse(read("examples/checkout.yaml")) as PolicyDoc;
const BASE: RenderRequest = { target: "all", namespace: "shop", gateway: null, hosts: ["*"], image: DEFAULT_IMAGE, sha256: null, subsetLabel: "version" };
const rendered = (r: Partial<RenderRequest>) => Object.fromEntries(renderFiles(checkout, { ...BASE, ...r }).files);

describe("deploy/", () => {
  it("every YAML file has a check", () => {
    expect([...POLICIES, ...COMPOSE, ...Object.values(KUBERNETES).flat(), ...OTHER, ...OBSERVABILITY].sort()).toEqual(YAML_FILES);
  });

  it("the example policies are valid", () => {
    for (const f of POLICIES) expect(core.validatePolicy(JSON.stringify(parse(read(f)))), f).toBeNull();
  });

  for (const [gateway, files] of Object.entries(KUBERNETES)) {
    it(`the ${gateway} manifests validate, with every plugin config the gateway would accept`, async () => {
      // One file for the checks across documents (annotations -> KongPlugins, Secrets).
      expect(await checkRender([[`deploy/${gateway}`, files.map(read).join("---\n")]])).toEqual([]);
    }, 60_000);
  }

  it("the rendered files are what tandem render writes", () => {
    const kong = rendered({ target: "kong" });
    expect(read("kong/plugins.yaml")).toBe(kong["kong.yaml"]);
    expect(read("kong/kong-dbless.yaml")).toBe(kong["kong-dbless.yaml"]);
    expect(read("istio/ingress-gateway.yaml")).toBe(rendered({ target: "istio", gateway: { namespace: "istio-system", name: "shop-gateway" }, hosts: ["shop.example.com"] })["istio.yaml"]);
    expect(read("istio/sidecar.yaml")).toBe(rendered({ target: "istio", selector: { app: "frontend" } })["istio.yaml"]);
  });

  it("the local Envoy and DB-less Kong configs load their plugin configs", async () => {
    expect(await checkRender([["envoy.yaml", read("envoy/envoy.yaml")], ["kong-dbless.yaml", read("kong/kong-dbless.yaml")]])).toEqual([]);
  }, 60_000);

  it("Istio: the VirtualServices bind to the Gateway and route to pods the subsets select", () => {
    const docs = KUBERNETES.istio.flatMap((f) => yamlDocs(read(f)));
    const gw = docs.find((d) => d.kind === "Gateway")!;
    const gwName = `${(gw.metadata as { namespace: string }).namespace}/${(gw.metadata as { name: string }).name}`;
    const podLabels = docs.filter((d) => d.kind === "Deployment").map((d) => (d.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels);
    const services = docs.filter((d) => d.kind === "Service").map((d) => `${(d.metadata as { name: string }).name}.${(d.metadata as { namespace: string }).namespace}.svc.cluster.local`);
    for (const vs of docs.filter((d) => d.kind === "VirtualService")) {
      const gws = (vs.spec as { gateways: string[] }).gateways;
      expect(gws.every((g) => g === "mesh" || g === gwName)).toBe(true);
    }
    for (const dr of docs.filter((d) => d.kind === "DestinationRule")) {
      const s = dr.spec as { host: string; subsets: Array<{ labels: Record<string, string> }> };
      expect(services).toContain(s.host);
      for (const sub of s.subsets) expect(podLabels.some((l) => Object.entries(sub.labels).every(([k, v]) => l[k] === v))).toBe(true);
    }
    const sidecarPlugin = yamlDocs(read("istio/sidecar.yaml")).find((d) => d.kind === "WasmPlugin")!;
    const selector = (sidecarPlugin.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels;
    expect(podLabels.some((l) => Object.entries(selector).every(([k, v]) => l[k] === v))).toBe(true);
  });

  it("Kong Ingress Controller: the Upstream names in the plugin config are the Services' <service>.<namespace>.<port>.svc", () => {
    const docs = KUBERNETES.kong.flatMap((f) => yamlDocs(read(f)));
    const upstreams = docs.filter((d) => d.kind === "Service").flatMap((d) => {
      const m = d.metadata as { name: string; namespace: string };
      return (d.spec as { ports: Array<{ port: number }> }).ports.map((p) => `${m.name}.${m.namespace}.${p.port}.svc`);
    });
    const plugin = docs.find((d) => d.kind === "KongPlugin" && d.plugin === "experiment")!;
    for (const v of (plugin.config as { variants: Array<{ upstream: string }> }).variants) expect(upstreams).toContain(v.upstream);
  });

  it("compose files name images or builds and mount files that exist", () => {
    for (const f of COMPOSE) {
      const c = parse(read(f)) as { services: Record<string, { image?: string; build?: { context: string; dockerfile: string }; volumes?: string[]; env_file?: string[] }> };
      for (const [name, s] of Object.entries(c.services)) {
        expect(s.image ?? s.build, `${f}: ${name}`).toBeTruthy();
        if (s.build) expect(existsSync(join(DEPLOY, dirname(f), s.build.context, s.build.dockerfile)), `${f}: ${name} build`).toBe(true);
        for (const v of s.volumes ?? []) expect(existsSync(join(DEPLOY, dirname(f), v.split(":")[0])), `${f}: ${name} mounts ${v}`).toBe(true);
        for (const e of s.env_file ?? []) expect(existsSync(join(DEPLOY, dirname(f), e)), `${f}: ${name} env_file ${e}`).toBe(true);
      }
    }
  });

  it("istiod values export tandem's counters", () => {
    const v = parse(read("istio/istiod-values.yaml")) as { meshConfig: { defaultConfig: { proxyStatsMatcher: { inclusionPrefixes: string[] } } } };
    expect(v.meshConfig.defaultConfig.proxyStatsMatcher.inclusionPrefixes).toContain(CUSTOM_STAT_NAMESPACE.replace(/\.$/, ""));
  });

  it("istiod values carry tandem's Istio proxy config: the stats inclusion and a tag per metrics label", () => {
    const v = parse(read("istio/istiod-values.yaml")) as { meshConfig: { defaultConfig: Record<string, unknown> } };
    expect(v.meshConfig.defaultConfig).toEqual(tandemIstioProxyConfig());
  });
});

describe("deploy/kong: plugin-server settings", () => {
  const env = Object.fromEntries(read("kong/pluginserver.env").split("\n").filter((l) => /^[A-Z_]+=/.test(l)).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
  const dockerfile = read("kong/Dockerfile");

  it("each server's query command reports, from the directory the image copies there, the plugin KONG_PLUGINS lists", async () => {
    const plugins = env.KONG_PLUGINS.split(",").filter((p) => p !== "bundled");
    const reported: string[] = [];
    const metricsPorts: string[] = [];
    for (const server of env.KONG_PLUGINSERVER_NAMES.split(",")) {
      const key = `KONG_PLUGINSERVER_${server.toUpperCase().replace(/-/g, "_")}`;
      const socket = env[`${key}_SOCKET`], start = env[`${key}_START_CMD`], query = env[`${key}_QUERY_CMD`];
      expect(socket && start && query, server).toBeTruthy();
      // --dump-all-plugins prints JSON; -v would corrupt it (Kong parses the output).
      expect(query).toMatch(/ --dump-all-plugins$/);
      expect(query.split(" ")).not.toContain("-v");
      // tandem's start command (instance ids that never repeat), installed by the image
      // (after the environment the start command sets: each server's own metrics port)
      const env0 = /^\/usr\/bin\/env((?: [A-Z_]+=\S+)+) /.exec(start);
      const port = /TANDEM_METRICS_PORT=(\d+)/.exec(env0?.[1] ?? "");
      expect(port, `${server} serves metrics on its own port`).not.toBeNull();
      expect(metricsPorts).not.toContain(port![1]);
      metricsPorts.push(port![1]);
      expect(start.slice(env0![0].length).split(" ")[0]).toBe("/usr/local/bin/tandem-pluginserver");
      expect(query.split(" ")[0]).toBe("/usr/local/bin/tandem-pluginserver");
      expect(dockerfile).toMatch(/^COPY dist\/kong\/tandem-pluginserver\.js (\S+)$/m);
      expect(dockerfile).toContain(`ln -s ${/^COPY dist\/kong\/tandem-pluginserver\.js (\S+)$/m.exec(dockerfile)![1]} /usr/local/bin/tandem-pluginserver`);
      const dir = /--plugins-directory (\S+)/.exec(query)![1];
      expect(/--plugins-directory (\S+)/.exec(start)![1]).toBe(dir);
      expect(/--sock-name (\S+)/.exec(start)![1]).toBe(basename(socket));
      expect(/ -p (\S+)/.exec(start)![1]).toBe(dirname(socket));
      const copy = new RegExp(`^COPY (dist/kong/\\S+) ${dir.replace(/\//g, "\\/")}$`, "m").exec(dockerfile);
      expect(copy, `${dir} is copied into the image`).not.toBeNull();
      const info = await kongPluginInfo(basename(copy![1]));
      expect(KONG_DIR(info.Name)).toBe(join(ROOT, copy![1]));
      reported.push(info.Name);
    }
    expect(reported.sort()).toEqual(plugins.sort());
  }, 60_000);

  it("the Helm values carry the same settings", () => {
    const values = parse(read("kong/helm-values.yaml")) as { env: Record<string, string> };
    const fromHelm = Object.fromEntries(Object.entries(values.env).filter(([k]) => k !== "database").map(([k, v]) => [`KONG_${k.toUpperCase()}`, v]));
    expect(fromHelm).toEqual(env);
  });
});

describe("the manifest checks can fail", () => {
  it("unknown fields, both config and configFrom, names, unknown root ids", async () => {
    expect(manifestProblems({ apiVersion: "networking.istio.io/v1", kind: "VirtualService", metadata: { name: "a" }, spec: { hosts: ["a"], gateway: ["mesh"] } })).toEqual(["VirtualService a: /spec must NOT have additional properties (gateway)"]);
    expect(manifestProblems({ apiVersion: "configuration.konghq.com/v1", kind: "KongPlugin", metadata: { name: "My_Plugin" }, plugin: "experiment", config: {}, configFrom: { secretKeyRef: { name: "s", key: "k" } } }))
      .toEqual(["KongPlugin My_Plugin: metadata.name is not a DNS-1123 subdomain", "KongPlugin My_Plugin: Using both config and configFrom fields is not allowed."]);
    expect(manifestProblems({ apiVersion: "configuration.konghq.com/v1", kind: "KongPlugin", metadata: { name: "p" } })).toEqual(["KongPlugin p: / must have required property 'plugin'"]);
    const wp = { apiVersion: "extensions.istio.io/v1alpha1", kind: "WasmPlugin", metadata: { name: "w", namespace: "shop" }, spec: { url: "oci://x/y:1", pluginName: "experment", pluginConfig: { name: "e", variants: [{ name: "a", weight: 100 }] } } };
    const problems = await checkRender([["w.yaml", JSON.stringify(wp)]]);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^w\.yaml: WasmPlugin experment: /);
    const kp = { apiVersion: "configuration.konghq.com/v1", kind: "KongPlugin", metadata: { name: "k", annotations: {} }, plugin: "experiment", config: { name: "e", variants: [{ name: "a", weight: 90 }] } };
    expect(await checkRender([["k.yaml", JSON.stringify(kp)]])).toEqual(["k.yaml: KongPlugin experiment: experiment.variants: weights must sum to 100, got 90"]);
  }, 60_000);
});
