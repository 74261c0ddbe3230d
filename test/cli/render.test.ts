// tandem render: every output validates (schemas, the gateways' own config checks), output
// is byte-identical run to run, names Kubernetes cannot hold are refused before anything
// is written, the Istio binding follows where the filter runs, secrets stay in a Secret.
import { afterAll, describe, expect, it } from "vitest";
import { tandem } from "../support/cli-run";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { CLI, FILTER_WASM, ROOT, loadCore } from "../support/dist";
import { annotatedPlugins, checkRender, envoyWasmFilters, yamlDocs } from "../support/rendered";
import { manifestProblems } from "../support/manifests";
import { renderFiles, type RenderRequest } from "../../cli/render";
import { GRPC_ROUTE_HEADERS } from "../../sim/kong/grpc";
import type { PolicyDoc } from "../../cli/policy-file";

const core = loadCore();
const dir = mkdtempSync(join(tmpdir(), "tandem-render-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));   // leave no temp folder behind
const EXAMPLES = readdirSync(join(ROOT, "deploy", "examples")).filter((f) => f.endsWith(".yaml")).map((f) => join("deploy", "examples", f));
const BASE: RenderRequest = { target: "all", namespace: "shop", gateway: null, hosts: ["*"], image: "oci://registry.example/tandem:0.1.0", sha256: null, subsetLabel: "version" };

function load(path: string): PolicyDoc {
  const doc = parse(readFileSync(join(ROOT, path), "utf8")) as PolicyDoc;
  expect(core.validatePolicy(JSON.stringify(doc))).toBeNull();
  return doc;
}

function policy(name: string, spec: Record<string, unknown>, metaName = "checkout"): string {
  const p = join(dir, name);
  writeFileSync(p, JSON.stringify({ apiVersion: "tandem.dev/v1alpha1", kind: "TrafficPolicy", metadata: { name: metaName }, spec }));
  return p;
}

const EXPERIMENT = { name: "checkout-v2", variants: [{ name: "stable", weight: 90, upstream: "api-v1" }, { name: "canary", weight: 10, upstream: "api-v2" }] };

describe("tandem render: every output validates", () => {
  for (const example of EXAMPLES) {
    it(`${example}, at an ingress gateway and on sidecars`, async () => {
      const p = load(example);
      const gw = renderFiles(p, { ...BASE, gateway: { namespace: "istio-system", name: "public" }, hosts: ["shop.example.com"] });
      expect(gw.files.map(([n]) => n)).toEqual(["kong.yaml", "kong-dbless.yaml", "istio.yaml", "envoy.yaml"]);
      expect(await checkRender(gw.files)).toEqual([]);
      const mesh = renderFiles(p, BASE);
      expect(await checkRender(mesh.files.filter(([n]) => n === "istio.yaml"))).toEqual([]);
      const api = renderFiles(p, { ...BASE, gatewayApi: { namespace: "gateways", name: "public" }, hosts: ["shop.example.com"] });
      expect(await checkRender(api.files.filter(([n]) => n !== "envoy.yaml" && n !== "kong-dbless.yaml"))).toEqual([]);
      for (const n of ["kong.yaml", "istio.yaml"]) expect(yamlDocs(Object.fromEntries(api.files)[n]).filter((d) => d.kind === "HTTPRoute"), n).toHaveLength(1);
    }, 60_000);
  }

  it("--grpc: Kong gets a grpc Service and route beside the HTTP ones, as the Kong simulator routes gRPC", async () => {
    const p = load("deploy/examples/checkout.yaml");
    const plain = renderFiles(p, { ...BASE, target: "kong" });
    const grpc = renderFiles(p, { ...BASE, target: "kong", grpc: true });
    const dbless = (r: typeof plain) => yamlDocs(r.files.find(([n]) => n === "kong-dbless.yaml")![1])[0] as { services: Array<Record<string, unknown>> };
    expect(dbless(plain).services.map((s) => s.protocol)).toEqual(["http"]);
    const [http, g] = dbless(grpc).services;
    expect(http).toEqual(dbless(plain).services[0]);
    expect(g).toMatchObject({ name: "checkout-grpc", protocol: "grpc", host: http.host, port: http.port, plugins: http.plugins });
    // the route the simulator gives gRPC calls (sim/kong/gateway.ts grpcRoute)
    expect((g.routes as Array<Record<string, unknown>>)[0]).toEqual({ name: "checkout-grpc", paths: ["/"], protocols: ["grpc", "grpcs"], headers: { "content-type": [...GRPC_ROUTE_HEADERS] } });
    const kong = grpc.files.find(([n]) => n === "kong.yaml")![1];
    expect(kong).toContain('konghq.com/protocol: "grpc"');
    expect(kong).toContain("http2");
    expect(await checkRender(grpc.files)).toEqual([]);
  });

  it("a policy with the override secret and a reroute to an upstream", async () => {
    const spec = {
      experiment: { ...EXPERIMENT, override: { header: "x-tandem-force", secret: "0123456789abcdef-secret" } },
      circuitBreaker: { key: "upstream" }, fallback: { reroute: { upstream: "api-v3" } },
    };
    const p = JSON.parse(readFileSync(policy("secret.json", spec), "utf8")) as PolicyDoc;
    expect(core.validatePolicy(JSON.stringify(p))).toBeNull();
    const r = renderFiles(p, BASE);
    const file = (n: string) => r.files.find(([f]) => f === n)![1];
    // Istio, Envoy and DB-less Kong refer to an environment variable; its value is only in
    // istio.yaml's Secret (for the proxy container's env) and kong.yaml's config Secret
    const ENV = "TANDEM_CHECKOUT_OVERRIDE_SECRET";
    const REF = "{vault://env/tandem-checkout-override-secret}";
    const secrets = yamlDocs(file("istio.yaml")).filter((d) => d.kind === "Secret");
    expect(secrets).toEqual([{ apiVersion: "v1", kind: "Secret", type: "Opaque", metadata: { name: "checkout-secrets", namespace: "shop" }, stringData: { [ENV]: "0123456789abcdef-secret" } }]);
    for (const n of ["istio.yaml", "envoy.yaml", "kong-dbless.yaml"]) {
      expect(file(n).split("0123456789abcdef-secret").length, n).toBe(n === "istio.yaml" ? 2 : 1);
      expect(file(n), n).toContain(REF);
    }
    for (const w of yamlDocs(file("istio.yaml")).filter((d) => d.kind === "WasmPlugin")) {
      expect((w.spec as { vmConfig: unknown }).vmConfig, (w.metadata as { name: string }).name).toEqual({ env: [{ name: ENV, valueFrom: "HOST" }] });
    }
    for (const f of envoyWasmFilters(yamlDocs(file("envoy.yaml"))[0])) expect(f.vm_config.environment_variables).toEqual({ host_env_keys: [ENV] });
    // with the variable set, every gateway takes the config; without it, none does
    expect(await checkRender(r.files, { [ENV]: "0123456789abcdef-secret" })).toEqual([]);
    const unset = await checkRender(r.files.filter(([n]) => n !== "kong.yaml"));
    // (Envoy's own words for a configuration the filter refused; the filter's log line is
    // checked in test/filter/secret-refs.test.ts)
    expect(unset).toEqual([
      `kong-dbless.yaml: experiment: ${REF}: no ${ENV} in Kong's environment`,
      "istio.yaml: WasmPlugin experiment: Failed to configure thread-local Wasm plugin experiment",
      "envoy.yaml: experiment: Failed to configure thread-local Wasm plugin experiment",
    ]);
    const kong = file("kong.yaml");
    // the secret is only inside the Secret's config
    expect(kong.split("0123456789abcdef-secret").length).toBe(2);
    const docs = yamlDocs(kong);
    const plugin = docs.find((d) => d.kind === "KongPlugin" && d.plugin === "experiment")!;
    expect(plugin.config).toBeUndefined();
    expect(plugin.configFrom).toEqual({ secretKeyRef: { name: "checkout-experiment-config", key: "config" } });
    expect(docs[0]).toMatchObject({ kind: "Secret", type: "Opaque", metadata: { name: "checkout-experiment-config", namespace: "shop" } });
    expect(r.warnings.filter((w) => w.includes(ENV))).toEqual([
      `kong-dbless.yaml reads experiment.override.secret from Kong's environment (env vault): start Kong with ${ENV} set`,
      `istio.yaml: the WasmPlugins read ${ENV} from the proxy's environment: give the istio-proxy container these variables from the Secret checkout-secrets (deploy/README.md, "Secrets")`,
      `envoy.yaml reads ${ENV} from Envoy's environment: start Envoy with them set`,
    ]);
    const istio = yamlDocs(r.files.find(([n]) => n === "istio.yaml")![1]);
    const vs = istio.find((d) => d.kind === "VirtualService") as { spec: { http: Array<{ name: string; match?: unknown; route: unknown }> } };
    expect(vs.spec.http[0]).toEqual({ name: "breaker-reroute", match: [{ headers: { "x-tandem-upstream": { exact: "api-v3" } } }], route: [{ destination: { host: "checkout.shop.svc.cluster.local", subset: "api-v3" } }] });
    const dr = istio.find((d) => d.kind === "DestinationRule") as { spec: { subsets: unknown[] } };
    expect(dr.spec.subsets).toEqual(["api-v1", "api-v2", "api-v3"].map((s) => ({ name: s, labels: { version: s } })));
  }, 60_000);
});

describe("tandem render: where the Istio filter runs", () => {
  const p = load("deploy/examples/checkout.yaml");
  const istio = (r: RenderRequest) => yamlDocs(renderFiles(p, { ...r, target: "istio" }).files[0][1]);

  it("at an ingress gateway: the WasmPlugins in the gateway's namespace selecting it, the VirtualService bound to it", () => {
    const docs = istio({ ...BASE, gateway: { namespace: "istio-system", name: "public" }, hosts: ["shop.example.com"] });
    const wp = docs.filter((d) => d.kind === "WasmPlugin");
    expect(wp.map((d) => d.metadata)).toEqual([{ name: "checkout-experiment", namespace: "istio-system" }]);
    expect(wp[0].spec).toMatchObject({ selector: { matchLabels: { istio: "ingressgateway" } }, pluginName: "experiment" });
    expect((wp[0].spec as Record<string, unknown>).match).toBeUndefined();
    const vs = docs.find((d) => d.kind === "VirtualService")!;
    expect(vs.metadata).toEqual({ name: "checkout", namespace: "shop" });
    expect(vs.spec).toMatchObject({ hosts: ["shop.example.com"], gateways: ["istio-system/public"] });
  });

  it("on sidecars: the calling workloads, outbound, and the VirtualService bound to mesh", () => {
    const docs = istio({ ...BASE, selector: { app: "frontend" } });
    const wp = docs.find((d) => d.kind === "WasmPlugin")!;
    expect(wp.metadata).toEqual({ name: "checkout-experiment", namespace: "shop" });
    expect(wp.spec).toMatchObject({ selector: { matchLabels: { app: "frontend" } }, match: [{ mode: "CLIENT" }] });
    const vs = docs.find((d) => d.kind === "VirtualService")!;
    expect(vs.spec).toMatchObject({ hosts: ["checkout.shop.svc.cluster.local"], gateways: ["mesh"] });
  });

  it("the subset label is an option (without spec.upstreams)", () => {
    const cb = load("deploy/examples/circuit-breaker.yaml");
    const dr = yamlDocs(renderFiles(cb, { ...BASE, target: "istio", subsetLabel: "app.kubernetes.io/version" }).files[0][1]).find((d) => d.kind === "DestinationRule")!;
    expect((dr.spec as { subsets: unknown }).subsets).toEqual([{ name: "api-v1", labels: { "app.kubernetes.io/version": "api-v1" } }, { name: "api-v2", labels: { "app.kubernetes.io/version": "api-v2" } }]);
  });
});

describe("tandem render --gateway-api: an HTTPRoute for Istio and the Kong Ingress Controller", () => {
  const p = load("deploy/examples/checkout.yaml");
  const API: RenderRequest = { ...BASE, gatewayApi: { namespace: "gateways", name: "public" }, hosts: ["shop.example.com"] };
  const files = () => Object.fromEntries(renderFiles(p, API).files);
  // Services checkout-v1 / checkout-v2 from spec.upstreams.*.kong (<service>.<namespace>.<port>.svc)
  const RULES = [
    { name: "variant-stable", matches: [{ headers: [{ type: "Exact", name: "x-tandem-variant", value: "stable" }] }], backendRefs: [{ name: "checkout-v1", port: 80 }] },
    { name: "variant-canary", matches: [{ headers: [{ type: "Exact", name: "x-tandem-variant", value: "canary" }] }], backendRefs: [{ name: "checkout-v2", port: 80 }] },
    { name: "default", backendRefs: [{ name: "checkout-v1", port: 80 }] },
  ];

  it("Istio: the HTTPRoute replaces the VirtualService, the WasmPlugins attach to the Gateway with targetRefs", async () => {
    const docs = yamlDocs(files()["istio.yaml"]);
    expect(docs.map((d) => d.kind)).toEqual(["WasmPlugin", "HTTPRoute"]);
    expect(docs[0].metadata).toEqual({ name: "checkout-experiment", namespace: "gateways" });
    expect(docs[0].spec).toMatchObject({ targetRefs: [{ group: "gateway.networking.k8s.io", kind: "Gateway", name: "public" }] });
    expect(Object.keys(docs[0].spec as object)).not.toContain("selector");
    expect(Object.keys(docs[0].spec as object)).not.toContain("match");
    expect(docs[1]).toEqual({
      apiVersion: "gateway.networking.k8s.io/v1", kind: "HTTPRoute", metadata: { name: "checkout", namespace: "shop" },
      spec: { parentRefs: [{ group: "gateway.networking.k8s.io", kind: "Gateway", namespace: "gateways", name: "public" }], hostnames: ["shop.example.com"], rules: RULES },
    });
    expect(await checkRender([["istio.yaml", files()["istio.yaml"]]])).toEqual([]);
  }, 60_000);

  it("Kong Ingress Controller: the same HTTPRoute in kong.yaml, enabling the KongPlugins with konghq.com/plugins", async () => {
    const docs = yamlDocs(files()["kong.yaml"]);
    const route = docs.find((d) => d.kind === "HTTPRoute")!;
    expect(route.metadata).toEqual({ name: "checkout", namespace: "shop", annotations: { "konghq.com/plugins": "checkout-experiment" } });
    expect((route.spec as { rules: unknown }).rules).toEqual(RULES);
    expect(docs.filter((d) => d.kind === "KongPlugin").map((d) => (d.metadata as { name: string }).name)).toEqual(["checkout-experiment"]);
    expect(await checkRender([["kong.yaml", files()["kong.yaml"]]])).toEqual([]);
  }, 60_000);

  it("the reroute rule comes first; Service names from the upstreams; timeouts as Gateway API durations; a warning for retries", async () => {
    const spec = {
      experiment: EXPERIMENT, circuitBreaker: { key: "upstream" }, fallback: { reroute: { upstream: "api-v3" } },
      retries: { attempts: 2, perTryTimeoutMs: 1500, retryOn: ["5xx"] }, timeoutMs: 4000,
      outlierDetection: { consecutiveErrors: 3 },
    };
    const q = JSON.parse(readFileSync(policy("api-reroute.json", spec), "utf8")) as PolicyDoc;
    expect(core.validatePolicy(JSON.stringify(q))).toBeNull();
    const r = renderFiles(q, { ...API, hosts: ["*"] });
    expect(await checkRender(r.files.filter(([n]) => n === "kong.yaml" || n === "istio.yaml"))).toEqual([]);
    const istio = yamlDocs(Object.fromEntries(r.files)["istio.yaml"]);
    const route = istio.find((d) => d.kind === "HTTPRoute")!.spec as { hostnames?: unknown; rules: Array<{ name: string; matches?: unknown; backendRefs: unknown; timeouts: unknown }> };
    expect(route.hostnames).toBeUndefined();
    expect(route.rules.map((x) => x.name)).toEqual(["breaker-reroute", "variant-stable", "variant-canary", "default"]);
    expect(route.rules[0].matches).toEqual([{ headers: [{ type: "Exact", name: "x-tandem-upstream", value: "api-v3" }] }]);
    expect(route.rules.map((x) => x.backendRefs)).toEqual(["api-v3", "api-v1", "api-v2", "api-v1"].map((n) => [{ name: n, port: 80 }]));
    for (const x of route.rules) expect(x.timeouts).toEqual({ request: "4s", backendRequest: "1s500ms" });
    expect(istio.filter((d) => d.kind === "DestinationRule").map((d) => (d.spec as { host: string }).host)).toEqual(["api-v1", "api-v2", "api-v3"].map((n) => `${n}.shop.svc.cluster.local`));
    expect(r.warnings).toContain("istio: retries cannot be expressed in an HTTPRoute (retry is not in the Gateway API standard channel): only retries.perTryTimeoutMs is rendered, as timeouts.backendRequest");
  }, 60_000);

  it("the schema and rules refuse what the API server would", () => {
    const route = yamlDocs(files()["istio.yaml"]).find((d) => d.kind === "HTTPRoute")!;
    const spec = route.spec as { hostnames: string[]; rules: Array<Record<string, unknown>> };
    expect(manifestProblems({ ...route, spec: { ...spec, hostnames: ["*"] } }).join("\n")).toMatch(/hostnames\/0 must match pattern/);
    expect(manifestProblems({ ...route, spec: { ...spec, rules: [{ backendRefs: [{ name: "checkout-v1" }] }] } })).toEqual(["HTTPRoute checkout: Must have port for Service reference (checkout-v1)"]);
    expect(manifestProblems({ ...route, spec: { ...spec, rules: [{ backendRefs: [{ name: "a", port: 80 }], timeouts: { request: "1s", backendRequest: "2s" } }] } })).toEqual(["HTTPRoute checkout: backendRequest timeout cannot be longer than request timeout"]);
    expect(manifestProblems({ ...route, spec: { ...spec, rules: [{ backendRefs: [{ name: "a", port: 80 }], filters: [] }] } }).join("\n")).toMatch(/must NOT have additional properties \(filters\)/);
  });

  it("the CLI: byte-identical, --gateway and --gateway-api exclude each other, an upstream that cannot name a Service is refused", async () => {
    const a = await tandem("render", "deploy/examples/checkout.yaml", "--target", "istio", "--namespace", "shop", "--gateway-api", "gateways/public", "--host", "shop.example.com", "--image", BASE.image);
    const b = await tandem("render", "deploy/examples/checkout.yaml", "--target", "istio", "--namespace", "shop", "--gateway-api", "gateways/public", "--host", "shop.example.com", "--image", BASE.image);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toBe(files()["istio.yaml"]);
    expect(b.stdout).toBe(a.stdout);
    const both = await tandem("render", "deploy/examples/checkout.yaml", "--gateway", "a/b", "--gateway-api", "a/b");
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/^tandem: --gateway \(an Istio Gateway\) and --gateway-api \(a Gateway API Gateway\) exclude each other\n/);
    const bad = await tandem("render", policy("api-bad.json", { experiment: { ...EXPERIMENT, variants: [{ name: "stable", weight: 100, upstream: "api.v1" }] } }), "--target", "istio", "--gateway-api", "gateways/public");
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe(`experiment.variants[0].upstream: must be a DNS-1123 label (lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters) to name a Kubernetes Service for a Gateway API backendRef (or set spec.upstreams.api.v1.kong to <service>.<namespace>.<port>.svc), got "api.v1"\n`);
  });
});

describe("tandem render --istio-extension traffic-extension: Istio 1.30's TrafficExtension instead of the WasmPlugins", () => {
  const TE: RenderRequest = { ...BASE, target: "istio", istioExtension: "traffic-extension" };

  for (const example of EXAMPLES) {
    it(`${example}: valid at an ingress gateway, on sidecars and on a Gateway API Gateway; the same module settings as the WasmPlugin`, async () => {
      const p = load(example);
      for (const r of [{ ...TE, gateway: { namespace: "istio-system", name: "public" } }, TE, { ...TE, gatewayApi: { namespace: "gateways", name: "public" } }]) {
        const files = renderFiles(p, r).files;
        expect(await checkRender(files)).toEqual([]);
        const docs = yamlDocs(files[0][1]);
        expect(docs.filter((d) => d.kind === "WasmPlugin")).toEqual([]);
        const wasm = yamlDocs(renderFiles(p, { ...r, istioExtension: undefined }).files[0][1]).filter((d) => d.kind === "WasmPlugin");
        const te = docs.filter((d) => d.kind === "TrafficExtension");
        expect(te.length).toBe(wasm.length);
        expect(te.length).toBeGreaterThan(0);
        te.forEach((t, i) => {
          const { url, sha256, pluginName, failStrategy, type, pluginConfig, selector, targetRefs, phase, priority, match } = wasm[i].spec as Record<string, unknown>;
          expect(t.metadata).toEqual(wasm[i].metadata);
          expect(t.spec).toEqual(JSON.parse(JSON.stringify({ selector, targetRefs, phase, priority, match, wasm: { url, sha256, pluginName, failStrategy, type, pluginConfig } })));
        });
        // everything but the filter's kind is the same
        expect(docs.filter((d) => d.kind !== "TrafficExtension")).toEqual(yamlDocs(renderFiles(p, { ...r, istioExtension: undefined }).files[0][1]).filter((d) => d.kind !== "WasmPlugin"));
      }
    }, 60_000);
  }

  it("the schema refuses a TrafficExtension with the module's fields at the top of spec, and one with both selector and targetRefs", () => {
    const te = yamlDocs(renderFiles(load("deploy/examples/checkout.yaml"), TE).files[0][1]).find((d) => d.kind === "TrafficExtension")!;
    const spec = te.spec as { wasm: Record<string, unknown> };
    expect(manifestProblems(te)).toEqual([]);
    expect(manifestProblems({ ...te, spec: { ...spec, url: spec.wasm.url } }).join("\n")).toMatch(/must NOT have additional properties \(url\)/);
    expect(manifestProblems({ ...te, spec: { ...spec, selector: { matchLabels: { app: "x" } }, targetRefs: [{ kind: "Gateway", name: "g" }] } })).toContain("TrafficExtension checkout-experiment: only one of targetRefs or selector can be set");
  });

  it("the CLI: --istio-extension traffic-extension, default wasm-plugin, anything else a usage error", async () => {
    const te = await tandem("render", "deploy/examples/checkout.yaml", "--target", "istio", "--istio-extension", "traffic-extension", "--image", BASE.image, "--namespace", "shop");
    expect(te.code, te.stderr).toBe(0);
    expect(te.stdout).toBe(renderFiles(load("deploy/examples/checkout.yaml"), TE).files[0][1]);
    const def = await tandem("render", "deploy/examples/checkout.yaml", "--target", "istio");
    expect(yamlDocs(def.stdout)[0].kind).toBe("WasmPlugin");
    const bad = await tandem("render", "deploy/examples/checkout.yaml", "--istio-extension", "envoy-filter");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^tandem: --istio-extension must be wasm-plugin or traffic-extension, got "envoy-filter"\n/);
  });

  it("the override secret: the warning names the TrafficExtension", () => {
    const spec = { experiment: { ...EXPERIMENT, override: { header: "x-tandem-force", secret: "0123456789abcdef-secret" } } };
    const p = JSON.parse(readFileSync(policy("te-secret.json", spec), "utf8")) as PolicyDoc;
    const r = renderFiles(p, TE);
    expect(r.warnings).toEqual(["istio.yaml: the TrafficExtensions read TANDEM_CHECKOUT_OVERRIDE_SECRET from the proxy's environment: give the istio-proxy container these variables from the Secret checkout-secrets (deploy/README.md, \"Secrets\")"]);
    const te = yamlDocs(r.files.find(([n]) => n === "istio.yaml")![1]).find((d) => d.kind === "TrafficExtension") as { spec: { wasm: Record<string, any> } };
    expect(te.spec.wasm.vmConfig).toEqual({ env: [{ name: "TANDEM_CHECKOUT_OVERRIDE_SECRET", valueFrom: "HOST" }] });
    expect(te.spec.wasm.pluginConfig.override.secret).toBe("{vault://env/tandem-checkout-override-secret}");
  });
});

describe("tandem render: one policy, every gateway's names (spec.upstreams)", () => {
  it("Kong gets the KIC Upstream names, Istio the subsets and labels, Envoy the addresses; the neutral names stay in the filter's config", () => {
    const p = load("deploy/examples/checkout.yaml");
    const files = Object.fromEntries(renderFiles(p, BASE).files);
    const kp = yamlDocs(files["kong.yaml"]).find((d) => d.kind === "KongPlugin")!;
    expect((kp.config as { variants: Array<{ upstream: string }> }).variants.map((v) => v.upstream)).toEqual(["checkout-v1.shop.80.svc", "checkout-v2.shop.80.svc"]);
    const dbless = yamlDocs(files["kong-dbless.yaml"])[0] as { upstreams: unknown };
    expect(dbless.upstreams).toEqual([{ name: "checkout-v1.shop.80.svc", targets: [{ target: "api-v1:9001" }] }, { name: "checkout-v2.shop.80.svc", targets: [{ target: "api-v2:9002" }] }]);
    const istio = yamlDocs(files["istio.yaml"]);
    expect((istio.find((d) => d.kind === "DestinationRule")!.spec as { subsets: unknown }).subsets).toEqual([{ name: "v1", labels: { version: "v1" } }, { name: "v2", labels: { version: "v2" } }]);
    const vs = istio.find((d) => d.kind === "VirtualService")!.spec as { http: Array<{ route: Array<{ destination: { subset: string } }> }> };
    expect(vs.http.map((h) => h.route[0].destination.subset)).toEqual(["v1", "v2", "v1"]);
    const wp = istio.find((d) => d.kind === "WasmPlugin")!.spec as { pluginConfig: { variants: Array<{ upstream: string }> } };
    expect(wp.pluginConfig.variants.map((v) => v.upstream)).toEqual(["api-v1", "api-v2"]);
    expect(files["envoy.yaml"]).toContain("address: api-v2\n                      port_value: 9002");
  });
});

describe("tandem render: the cache fallback", () => {
  it("Kong gets the opt-in fallback-cache KongPlugin beside the breaker, with the breaker's config, annotated and in decK; Envoy none", async () => {
    const p = load("deploy/examples/cache-fallback.yaml");
    const r = renderFiles(p, BASE);
    expect(await checkRender(r.files)).toEqual([]);   // KongPlugin CRD schema, Kong's schema of each plugin, the core
    const files = Object.fromEntries(r.files);
    const kps = yamlDocs(files["kong.yaml"]).filter((d) => d.kind === "KongPlugin");
    expect(kps.map((d) => [d.plugin, (d.metadata as { name: string }).name])).toEqual([
      ["circuit-breaker", "catalog-cache-circuit-breaker"], ["fallback-cache", "catalog-cache-fallback-cache"],
    ]);
    expect(kps[1].config).toEqual(kps[0].config);
    expect((kps[1].config as { fallbacks: Array<Record<string, unknown>> }).fallbacks[0].cache).toEqual((p.spec.fallback as Array<Record<string, unknown>>)[0].cache);
    expect(annotatedPlugins(files["kong.yaml"])).toEqual(["catalog-cache-circuit-breaker", "catalog-cache-fallback-cache"]);
    const dbless = yamlDocs(files["kong-dbless.yaml"])[0] as { services: Array<{ plugins: Array<{ name: string; config: unknown }> }> };
    expect(dbless.services[0].plugins.map((x) => x.name)).toEqual(["circuit-breaker", "fallback-cache"]);
    expect(dbless.services[0].plugins[1].config).toEqual(dbless.services[0].plugins[0].config);
    // Envoy's circuit-breaker filter keeps the cache itself: no other filter.
    expect(envoyWasmFilters(yamlDocs(files["envoy.yaml"])[0]).map((f) => f.root_id)).toEqual(["circuit-breaker"]);
  });

  it("no fallback-cache KongPlugin without a cache in spec.fallback (it would buffer the route for nothing)", () => {
    const p = load("deploy/examples/circuit-breaker.yaml");
    const files = Object.fromEntries(renderFiles(p, BASE).files);
    expect(yamlDocs(files["kong.yaml"]).filter((d) => d.kind === "KongPlugin").map((d) => d.plugin)).not.toContain("fallback-cache");
    expect(files["kong-dbless.yaml"]).not.toContain("fallback-cache");
  });
});

describe("tandem render: spec.faults", () => {
  it("the fault-injection KongPlugin, WasmPlugin and Envoy filter carry spec.faults, after the experiment", () => {
    const p = load("deploy/examples/game-day.yaml");
    const files = Object.fromEntries(renderFiles(p, BASE).files);
    const kong = yamlDocs(files["kong.yaml"]);
    const kp = kong.find((d) => d.kind === "KongPlugin" && d.plugin === "fault-injection")!;
    expect(kp.metadata).toMatchObject({ name: "checkout-game-day-fault-injection", namespace: "shop" });
    const config = kp.config as { faults: unknown; experiment: { name: string }; hasBreaker?: boolean };
    expect(config.faults).toEqual(p.spec.faults);
    expect(config.experiment.name).toBe("checkout-v2");
    expect(config.hasBreaker).toBeUndefined();
    expect(annotatedPlugins(files["kong.yaml"])).toEqual(["checkout-game-day-experiment", "checkout-game-day-fault-injection"]);
    const dbless = yamlDocs(files["kong-dbless.yaml"])[0] as { services: Array<{ plugins: Array<{ name: string; config: { faults: unknown } }> }> };
    expect(dbless.services[0].plugins.map((x) => x.name)).toEqual(["experiment", "fault-injection"]);
    expect(dbless.services[0].plugins[1].config.faults).toEqual(p.spec.faults);
    const wps = yamlDocs(files["istio.yaml"]).filter((d) => d.kind === "WasmPlugin").map((d) => d.spec as { pluginName: string; priority: number; pluginConfig: { faults: unknown } });
    expect(wps.map((w) => [w.pluginName, w.priority])).toEqual([["experiment", 100], ["fault-injection", 90]]);
    expect(wps[1].pluginConfig.faults).toEqual(p.spec.faults);
    const filters = envoyWasmFilters(yamlDocs(files["envoy.yaml"])[0]);
    expect(filters.map((f) => f.root_id)).toEqual(["experiment", "fault-injection"]);
    expect(JSON.parse(filters[1].configuration.value).faults).toEqual(p.spec.faults);
  });

  it("a fault's control secret goes into a Secret on Kong, with a warning for the other files", async () => {
    const spec = {
      experiment: EXPERIMENT,
      faults: [{ name: "on-demand", control: { secret: "fault-control-secret-0123" } }],
    };
    const p = JSON.parse(readFileSync(policy("fault-secret.json", spec), "utf8")) as PolicyDoc;
    expect(core.validatePolicy(JSON.stringify(p))).toBeNull();
    const r = renderFiles(p, BASE);
    const ENV = "TANDEM_CHECKOUT_FAULT_0_CONTROL_SECRET";
    expect(await checkRender(r.files, { [ENV]: "fault-control-secret-0123" })).toEqual([]);
    expect(await checkRender(r.files.filter(([n]) => n === "envoy.yaml"))).toEqual(["envoy.yaml: fault-injection: Failed to configure thread-local Wasm plugin fault-injection"]);
    const kong = r.files.find(([n]) => n === "kong.yaml")![1];
    expect(kong.split("fault-control-secret-0123").length).toBe(2);
    const kp = yamlDocs(kong).find((d) => d.kind === "KongPlugin" && d.plugin === "fault-injection")!;
    expect(kp.config).toBeUndefined();
    expect(kp.configFrom).toEqual({ secretKeyRef: { name: "checkout-fault-injection-config", key: "config" } });
    expect(r.warnings.join("\n")).toContain(`istio.yaml: the WasmPlugins read ${ENV} from the proxy's environment`);
  }, 60_000);

  it("every fault off: the fault-injection KongPlugin goes out disabled: true with its config kept (decK: enabled false); the WasmPlugin as before", async () => {
    const p = load("deploy/examples/playground.yaml");
    const r = renderFiles(p, BASE);
    expect(await checkRender(r.files)).toEqual([]);   // the KongPlugin CRD schema has `disabled`
    const files = Object.fromEntries(r.files);
    const kps = yamlDocs(files["kong.yaml"]).filter((d) => d.kind === "KongPlugin");
    const kp = kps.find((d) => d.plugin === "fault-injection")!;
    expect(kp.disabled).toBe(true);
    expect((kp.config as { faults: unknown }).faults).toEqual(p.spec.faults);
    expect(kps.filter((d) => d.plugin !== "fault-injection").map((d) => d.disabled)).toEqual([undefined, undefined]);
    // still annotated: switching the fault on is the one field
    expect(annotatedPlugins(files["kong.yaml"])).toContain(kp.metadata && (kp.metadata as { name: string }).name);
    const dbless = yamlDocs(files["kong-dbless.yaml"])[0] as { services: Array<{ plugins: Array<{ name: string; enabled?: boolean; config: { faults: unknown } }> }> };
    const fi = dbless.services[0].plugins.find((x) => x.name === "fault-injection")!;
    expect(fi.enabled).toBe(false);
    expect(fi.config.faults).toEqual(p.spec.faults);
    expect(dbless.services[0].plugins.filter((x) => x.name !== "fault-injection").map((x) => x.enabled)).toEqual([undefined, undefined]);
    const wp = yamlDocs(files["istio.yaml"]).find((d) => d.kind === "WasmPlugin" && (d.spec as { pluginName: string }).pluginName === "fault-injection")!;
    expect(Object.keys(wp.spec as object)).not.toContain("disabled");
  }, 60_000);

  it("a fault on, or every fault off but one with a control header (stripped whatever the switch): the KongPlugin stays enabled", () => {
    const on = renderFiles(load("deploy/examples/game-day.yaml"), BASE);
    expect(yamlDocs(Object.fromEntries(on.files)["kong.yaml"]).find((d) => d.kind === "KongPlugin" && d.plugin === "fault-injection")!.disabled).toBeUndefined();
    const spec = { experiment: EXPERIMENT, faults: [{ name: "off", abort: { status: 503, percent: 5 }, enabled: false }, { name: "on-demand", control: { secret: "fault-control-secret-0123" }, enabled: false }] };
    const p = JSON.parse(readFileSync(policy("fault-control-off.json", spec), "utf8")) as PolicyDoc;
    const kong = Object.fromEntries(renderFiles(p, BASE).files)["kong.yaml"];
    expect(yamlDocs(kong).find((d) => d.kind === "KongPlugin" && d.plugin === "fault-injection")!.disabled).toBeUndefined();
    const off = JSON.parse(readFileSync(policy("fault-off.json", { ...spec, faults: [spec.faults[0]] }), "utf8")) as PolicyDoc;
    expect(yamlDocs(Object.fromEntries(renderFiles(off, BASE).files)["kong.yaml"]).find((d) => d.kind === "KongPlugin" && d.plugin === "fault-injection")!.disabled).toBe(true);
  });

  it("faults alone render (no experiment, no breaker)", async () => {
    const p = JSON.parse(readFileSync(policy("fault-only.json", { faults: [{ abort: { status: 503, percent: 5 } }] }), "utf8")) as PolicyDoc;
    expect(core.validatePolicy(JSON.stringify(p))).toBeNull();
    const r = renderFiles(p, BASE);
    expect(await checkRender(r.files)).toEqual([]);
    expect(yamlDocs(r.files.find(([n]) => n === "istio.yaml")![1]).map((d) => (d.spec as { pluginName?: string }).pluginName)).toEqual(["fault-injection"]);
  }, 60_000);
});

describe("tandem render: retries, timeouts, connection pool, outlier detection", () => {
  const spec = {
    experiment: EXPERIMENT,
    retries: { attempts: 2, perTryTimeoutMs: 1000, retryOn: ["5xx", "connect-failure"] },
    timeoutMs: 3000,
    connectionPool: { maxConnections: 100, maxPendingRequests: 50, maxRequests: 200, maxRequestsPerConnection: 1000 },
    outlierDetection: { consecutiveErrors: 3, maxEjectionPercent: 50 },
  };
  const p = JSON.parse(readFileSync(policy("resilience.json", spec), "utf8")) as PolicyDoc;

  it("into each gateway's native settings, every output valid, a warning for what Kong cannot express", async () => {
    expect(core.validatePolicy(JSON.stringify(p))).toBeNull();
    const r = renderFiles(p, BASE);
    expect(await checkRender(r.files)).toEqual([]);
    const files = Object.fromEntries(r.files);
    const istio = yamlDocs(files["istio.yaml"]);
    const vs = istio.find((d) => d.kind === "VirtualService")!.spec as { http: Array<Record<string, unknown>> };
    for (const h of vs.http) expect(h).toMatchObject({ timeout: "3s", retries: { attempts: 2, perTryTimeout: "1s", retryOn: "5xx,connect-failure" } });
    expect((istio.find((d) => d.kind === "DestinationRule")!.spec as { trafficPolicy: unknown }).trafficPolicy).toEqual({
      connectionPool: { tcp: { maxConnections: 100 }, http: { http1MaxPendingRequests: 50, http2MaxRequests: 200, maxRequestsPerConnection: 1000 } },
      outlierDetection: { consecutive5xxErrors: 3, interval: "10s", baseEjectionTime: "30s", maxEjectionPercent: 50 },
    });
    const envoy = yamlDocs(files["envoy.yaml"])[0] as { static_resources: { listeners: Array<{ filter_chains: Array<{ filters: Array<{ typed_config: { route_config: { virtual_hosts: Array<{ routes: Array<{ route: unknown }> }> } } }> }> }>; clusters: Array<Record<string, unknown>> } };
    const routes = envoy.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].routes;
    for (const rt of routes) expect(rt.route).toMatchObject({ timeout: "3s", retry_policy: { retry_on: "5xx,connect-failure", num_retries: 2, per_try_timeout: "1s" } });
    expect(envoy.static_resources.clusters[0]).toMatchObject({
      circuit_breakers: { thresholds: [{ max_connections: 100, max_pending_requests: 50, max_requests: 200 }] },
      outlier_detection: { consecutive_5xx: 3, interval: "10s", base_ejection_time: "30s", max_ejection_percent: 50 },
    });
    const dbless = yamlDocs(files["kong-dbless.yaml"])[0] as { services: Array<Record<string, unknown>>; upstreams: Array<Record<string, unknown>> };
    expect(dbless.services[0]).toMatchObject({ retries: 2, connect_timeout: 1000, read_timeout: 1000, write_timeout: 1000 });
    expect(dbless.upstreams[0].healthchecks).toEqual({ passive: { type: "http", unhealthy: { http_failures: 3, tcp_failures: 3, timeouts: 3, http_statuses: [500, 502, 503, 504] } } });
    const kic = yamlDocs(files["kong.yaml"]);
    expect(kic.find((d) => d.kind === "KongUpstreamPolicy")).toMatchObject({ metadata: { name: "checkout-upstream" }, spec: { healthchecks: { passive: { unhealthy: { httpFailures: 3 } } } } });
    expect(files["kong.yaml"]).toContain('#   konghq.com/retries: "2"\n#   konghq.com/connect-timeout: "1000"');
    expect(files["kong.yaml"]).toContain('#   konghq.com/upstream-policy: "checkout-upstream"');
    expect(r.warnings).toEqual([
      "kong: retries.retryOn 5xx cannot be expressed: Kong retries connection failures and timeouts only (nginx proxy_next_upstream error timeout)",
      "kong: timeoutMs cannot be expressed: Kong's timeouts are per try (connect/read/write), set from retries.perTryTimeoutMs",
      "kong: connectionPool cannot be expressed: Kong has no per-upstream connection or request limits",
      "kong: outlierDetection.intervalMs, baseEjectionTimeMs and maxEjectionPercent cannot be expressed: a target Kong's passive health check marks unhealthy stays out until an active health check or the Admin API brings it back",
    ]);
  }, 60_000);

  it("the CLI prints the warnings on stderr and still writes", async () => {
    const out = join(dir, "resilience-out");
    const r = await tandem("render", policy("resilience2.json", spec), "--out", out, "--target", "kong");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr.split("\n").filter((l) => l.startsWith("tandem: warning: kong:"))).toHaveLength(4);
    expect(readdirSync(out).sort()).toEqual(["kong-dbless.yaml", "kong.yaml"]);
  });
});

describe("tandem render: the command", () => {
  it("is byte-identical run to run, per target", async () => {
    const a = join(dir, "a"), b = join(dir, "b");
    expect((await tandem("render", "deploy/examples/circuit-breaker.yaml", "--out", a)).code).toBe(0);
    expect((await tandem("render", "deploy/examples/circuit-breaker.yaml", "--out", b)).code).toBe(0);
    const names = readdirSync(a).sort();
    expect(names).toEqual(["envoy.yaml", "istio.yaml", "kong-dbless.yaml", "kong.yaml"]);
    for (const n of names) expect(readFileSync(join(b, n))).toEqual(readFileSync(join(a, n)));
    const envoy = await tandem("render", "deploy/examples/circuit-breaker.yaml", "--target", "envoy");
    expect(envoy.stdout).toBe(readFileSync(join(a, "envoy.yaml"), "utf8"));
  });

  it("deploy/envoy/envoy.yaml is what render --target envoy writes for deploy/examples/checkout.yaml", async () => {
    const r = await tandem("render", "deploy/examples/checkout.yaml", "--target", "envoy");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(readFileSync(join(ROOT, "deploy", "envoy", "envoy.yaml"), "utf8"));
  });

  it("envoy.yaml's HCM allows WebSocket upgrades, as Istio's do (else Envoy answers every upgrade 403 upgrade_failed)", async () => {
    const r = await tandem("render", "deploy/examples/checkout.yaml", "--target", "envoy");
    expect(r.code, r.stderr).toBe(0);
    const envoy = yamlDocs(r.stdout)[0] as { static_resources: { listeners: Array<{ filter_chains: Array<{ filters: Array<{ typed_config: Record<string, unknown> }> }> }> } };
    expect(envoy.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.upgrade_configs).toEqual([{ upgrade_type: "websocket" }]);
  });

  it("envoy.yaml's clusters speak the client's protocol upstream (use_downstream_protocol_config): gRPC (HTTP/2) reaches its upstream over h2", async () => {
    const r = await tandem("render", "deploy/examples/checkout.yaml", "--target", "envoy");
    expect(r.code, r.stderr).toBe(0);
    const envoy = yamlDocs(r.stdout)[0] as { static_resources: { clusters: Array<{ name: string; typed_extension_protocol_options?: Record<string, Record<string, unknown>> }> } };
    const clusters = envoy.static_resources.clusters;
    expect(clusters.length).toBeGreaterThan(1);
    for (const c of clusters) {
      const o = c.typed_extension_protocol_options?.["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"];
      expect(o, c.name).toEqual({
        "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
        use_downstream_protocol_config: { http_protocol_options: {}, http2_protocol_options: {} },
      });
    }
  });

  it("pins the module: sha256 of the built module for an http(s) url, the given digest for an image", async () => {
    const sha = createHash("sha256").update(readFileSync(FILTER_WASM)).digest("hex");
    const http = await tandem("render", "deploy/examples/checkout.yaml", "--target", "istio", "--image", "https://modules.example/tandem.wasm");
    expect(yamlDocs(http.stdout)[0].spec).toMatchObject({ url: "https://modules.example/tandem.wasm", sha256: sha });
    const oci = await tandem("render", "deploy/examples/checkout.yaml", "--target", "istio", "--sha256", "a".repeat(64));
    expect((yamlDocs(oci.stdout)[0].spec as { sha256: string }).sha256).toBe("a".repeat(64));
  });

  const refusals: Array<[string, string, string[], string]> = [
    ["a policy name Kubernetes cannot hold", policy("n1.json", { experiment: EXPERIMENT }, "My_Checkout.V2"), [],
      `metadata.name: cannot name Kubernetes objects: must be a DNS-1123 label (lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters) with the suffix "-circuit-breaker", got "My_Checkout.V2"`],
    ["an upstream that cannot be an Istio subset", policy("n2.json", { experiment: { ...EXPERIMENT, variants: [{ name: "stable", weight: 100, upstream: "checkout-v1.shop.80.svc" }] } }), [],
      `experiment.variants[0].upstream: must be a DNS-1123 label (lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters) to name an Istio subset (or set spec.upstreams.checkout-v1.shop.80.svc.istio.subset), got "checkout-v1.shop.80.svc"`],
    ["an upstream that cannot be a Kong Upstream", policy("n3.json", { experiment: { ...EXPERIMENT, variants: [{ name: "stable", weight: 100, upstream: "API_v1" }] } }), ["--target", "kong"],
      `experiment.variants[0].upstream (a Kong Upstream name): must be a DNS-1123 subdomain (DNS-1123 labels joined by '.', at most 253 characters), got "API_v1"`],
    ["a list-form reroute upstream that cannot be a Kong Upstream", policy("n6.json", { circuitBreaker: {}, fallback: [{ cache: {} }, { reroute: { upstream: "API_v1" } }] }), ["--target", "kong"],
      `fallback[1].reroute.upstream (a Kong Upstream name): must be a DNS-1123 subdomain (DNS-1123 labels joined by '.', at most 253 characters), got "API_v1"`],
    ["a bad namespace", policy("n4.json", { experiment: EXPERIMENT }), ["--namespace", "Bad_NS!"],
      `--namespace: must be a DNS-1123 label (lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters), got "Bad_NS!"`],
    ["an empty spec", policy("n5.json", {}), [], "spec: nothing to render: needs experiment, circuitBreaker, fallback, faults, retries, timeoutMs, connectionPool or outlierDetection"],
  ];
  for (const [what, file, extra, message] of refusals) {
    it(`refuses ${what} with one line, writing nothing`, async () => {
      const out = join(dir, `refused-${file.replace(/\W/g, "")}`);
      const r = await tandem("render", file, "--out", out, ...extra);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(message + "\n");
      expect(existsSync(out)).toBe(false);
    });
  }

  it("an unknown --target or a malformed --gateway is a usage error", async () => {
    const t = await tandem("render", "deploy/examples/checkout.yaml", "--target", "nginx");
    expect(t.code).toBe(2);
    expect(t.stderr).toMatch(/^tandem: --target must be kong, istio, envoy or all, got "nginx"\nusage:/);
    const g = await tandem("render", "deploy/examples/checkout.yaml", "--gateway", "public");
    expect(g.code).toBe(2);
    expect(g.stderr).toMatch(/^tandem: --gateway takes <namespace>\/<name>, got "public"/);
  });
});
