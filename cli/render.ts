// `tandem render <policy> --target kong|istio|envoy|all`: the manifests for one
// TrafficPolicy (cli/render/: kong.ts, istio.ts, envoy.ts; names.ts checks every name,
// targets.ts maps each upstream to each gateway's name). This file holds the plugin
// configs every path shares (the simulators run exactly these) and the command.
// Same input, byte-identical output: objects are built in a fixed order and nothing
// depends on the clock, the environment or the file system beyond --image's module.
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { makeOutDir } from "./out-dir";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { stringify } from "yaml";
import { loadPolicy } from "./validate";
import type { PolicyDoc } from "./policy-file";
import { UsageError } from "./usage-error";
import { distDir } from "./dist-core";
import { RenderRefusal, isDnsSubdomain, requireLabel, requireLabelKey, requireSubdomain, resourceName } from "./render/names";
import { upstreamTargets, variantsOf, type Targets } from "./render/targets";
import { renderKongDbless, renderKongIngress } from "./render/kong";
import { ISTIO_EXTENSIONS, checkIstioNames, renderIstio, type IstioExtension, type IstioOptions } from "./render/istio";
import { crossNamespaceBackends, renderHttpRoute, type GatewayRef } from "./render/gateway-api";
import { ENVOY_HEADER, renderEnvoy } from "./render/envoy";
import { kongWarnings, resilienceOf } from "./render/resilience";
import { secretRefs, secretsName } from "./render/secret-refs";

export const DEFAULT_IMAGE = "oci://ghcr.io/tandem-dev/tandem:0.1.0";
export const TARGETS = ["kong", "istio", "envoy", "all"] as const;
export type Target = (typeof TARGETS)[number];
export const DEFAULT_SUBSET_LABEL = "version";

// The plugin configs every path shares come from the core's plan (./policy-plan.ts).
import { partsOf, rerouteOf } from "./policy-plan";

export function toYaml(docs: object[]): string {
  return docs.map((d) => stringify(d, { lineWidth: 0 })).join("---\n");
}

export interface RenderRequest {
  target: Target;
  namespace: string;
  gateway: { namespace: string; name: string } | null;
  // --gateway-api <ns>/<name>: an HTTPRoute attached to that Gateway API Gateway, in kong.yaml
  // (with the konghq.com/plugins annotation) and in istio.yaml (instead of the VirtualService).
  gatewayApi?: GatewayRef | null;
  // --istio-extension: the kind istio.yaml deploys the filter with (default wasm-plugin).
  istioExtension?: IstioExtension;
  hosts: string[];
  service?: string;
  selector?: Record<string, string>;
  image: string;
  sha256: string | null;
  subsetLabel: string;
  // --grpc: the route also carries gRPC (Kong: a grpc Service and route beside the HTTP ones)
  grpc?: boolean;
}

// Every file of a render, by name, or a RenderRefusal naming the first name that cannot be
// rendered. Nothing here writes: the command writes only after all of it succeeded.
export function renderFiles(p: PolicyDoc, r: RenderRequest): { files: Array<[string, string]>; warnings: string[] } {
  const res = resilienceOf(p);
  if (partsOf(p).length === 0 && Object.keys(res).length === 0) {
    throw new RenderRefusal("spec: nothing to render: needs experiment, circuitBreaker, fallback, faults, retries, timeoutMs, connectionPool or outlierDetection");
  }
  resourceName(p.metadata.name, "circuit-breaker"); // the longest name render makes from it
  requireLabel("--namespace", r.namespace);
  requireLabelKey("--subset-label", r.subsetLabel);
  const service = r.service ?? `${p.metadata.name}.${r.namespace}.svc.cluster.local`;
  requireSubdomain(r.service === undefined ? "metadata.name" : "--service", service);
  const targets = upstreamTargets(p, r.subsetLabel);
  const want = (t: Target) => r.target === t || r.target === "all";
  const files: Array<[string, string]> = [];
  const warnings: string[] = [];
  // experiment.override.secret, faults[i].control.secret: kong.yaml keeps them in a Secret,
  // the other outputs refer to environment variables (render/secret-refs.ts).
  const refs = secretRefs(p);
  const envs = refs.map((r) => r.env).join(", ");
  if (want("kong")) {
    checkKongNames(p, targets);
    const ingress = renderKongIngress(p, { namespace: r.namespace, targets, grpc: r.grpc });
    if (r.gatewayApi) {
      const plugins = ingress.docs.filter((d) => (d as { kind: string }).kind === "KongPlugin").map((d) => (d as { metadata: { name: string } }).metadata.name);
      const route = renderHttpRoute(p, {
        namespace: r.namespace, gateway: r.gatewayApi, hosts: r.hosts, service, targets,
        annotations: plugins.length > 0 ? { "konghq.com/plugins": plugins.join(",") } : {},
      });
      ingress.docs.push(route);
      warnings.push(...crossNamespaceBackends(route).map((b) => `kong.yaml: the HTTPRoute's backend ${b} is in another namespace: it needs a ReferenceGrant there`));
    }
    files.push(["kong.yaml", ingress.header + toYaml(ingress.docs)]);
    files.push(["kong-dbless.yaml", toYaml([renderKongDbless(p, { namespace: r.namespace, targets, grpc: r.grpc })])]);
    warnings.push(...kongWarnings(res));
    if (refs.length > 0) warnings.push(`kong-dbless.yaml reads ${refs.map((r) => r.field).join(", ")} from Kong's environment (env vault): start Kong with ${envs} set`);
  }
  if (want("istio")) {
    const o: IstioOptions = {
      namespace: r.namespace, gateway: r.gateway, gatewayApi: r.gatewayApi ?? null, hosts: r.hosts, service, image: r.image, sha256: r.sha256, targets, extension: r.istioExtension ?? "wasm-plugin",
      selector: r.selector ?? (r.gateway ? { istio: "ingressgateway" } : {}),
    };
    if (!r.gatewayApi) checkIstioNames(p, o);   // subsets: only the VirtualService's routes use them
    const docs = renderIstio(p, o);
    files.push(["istio.yaml", toYaml(docs)]);
    if (r.gatewayApi) {
      if (res.retries !== undefined) warnings.push("istio: retries cannot be expressed in an HTTPRoute (retry is not in the Gateway API standard channel): only retries.perTryTimeoutMs is rendered, as timeouts.backendRequest");
      const route = docs.find((d) => (d as { kind: string }).kind === "HTTPRoute");
      if (route) warnings.push(...crossNamespaceBackends(route).map((b) => `istio.yaml: the HTTPRoute's backend ${b} is in another namespace: it needs a ReferenceGrant there`));
    }
    const kind = r.istioExtension === "traffic-extension" ? "TrafficExtension" : "WasmPlugin";
    if (refs.length > 0) warnings.push(`istio.yaml: the ${kind}s read ${envs} from the proxy's environment: give the istio-proxy container these variables from the Secret ${secretsName(p)} (deploy/README.md, "Secrets")`);
  }
  if (want("envoy")) {
    files.push(["envoy.yaml", ENVOY_HEADER + toYaml([renderEnvoy(p, targets)])]);
    if (refs.length > 0) warnings.push(`envoy.yaml reads ${envs} from Envoy's environment: start Envoy with them set`);
  }
  return { files, warnings };
}

// Kong Upstream names are host names (Kong's `typedefs.host`; KIC's
// <service>.<namespace>.<port>.svc is one); Kong compares them ignoring case.
function checkKongNames(p: PolicyDoc, targets: Targets[]): void {
  const variants = variantsOf(p);
  for (const t of targets) {
    if (isDnsSubdomain(t.kong.toLowerCase())) continue;
    const i = variants.findIndex((v) => v.upstream === t.name);
    const where = t.kong !== t.name ? `upstreams.${t.name}.kong` : i >= 0 ? `experiment.variants[${i}].upstream` : rerouteOf(p)?.path ?? "fallback.reroute.upstream";
    requireSubdomain(`${where} (a Kong Upstream name)`, t.kong);
  }
}

// The module's sha256 for WasmPlugin.sha256: Istio checks a module fetched over
// http(s)/file against it. For an oci:// image it is the image's digest, which only the
// registry knows: pass it with --sha256 (deploy/README.md: build and push).
function moduleSha256(image: string, given: string | undefined): string | null {
  if (given !== undefined) {
    if (!/^[a-f0-9]{64}$/.test(given)) throw new UsageError(`--sha256 takes 64 lowercase hex digits, got ${JSON.stringify(given)}`);
    return given;
  }
  if (!/^(https?|file):\/\//.test(image)) return null;
  return createHash("sha256").update(readFileSync(join(distDir(), "wasm", "tandem.wasm"))).digest("hex");
}

function parseSelector(s: string): Record<string, string> {
  const pairs = s.split(",").map((kv) => kv.split("="));
  if (pairs.some((kv) => kv.length !== 2 || kv[0] === "" || kv[1] === "")) throw new UsageError(`--selector takes label=value[,label=value...], got ${JSON.stringify(s)}`);
  return Object.fromEntries(pairs as Array<[string, string]>);
}

function parseGateway(s: string | undefined, flag = "--gateway"): { namespace: string; name: string } | null {
  if (s === undefined) return null;
  const m = /^([^/]+)\/([^/]+)$/.exec(s);
  if (!m) throw new UsageError(`${flag} takes <namespace>/<name>, got ${JSON.stringify(s)}`);
  return { namespace: requireLabel(`${flag} namespace`, m[1]), name: requireSubdomain(`${flag} name`, m[2]) };
}

export function renderCommand(args: string[]): number {
  const { values, positionals } = parseArgs({
    args, allowPositionals: true,
    options: {
      target: { type: "string", default: "all" },
      out: { type: "string" }, namespace: { type: "string", default: "default" },
      gateway: { type: "string" }, "gateway-api": { type: "string" }, host: { type: "string", multiple: true },
      image: { type: "string", default: DEFAULT_IMAGE }, sha256: { type: "string" },
      service: { type: "string" }, selector: { type: "string" },
      "subset-label": { type: "string", default: DEFAULT_SUBSET_LABEL },
      "istio-extension": { type: "string", default: "wasm-plugin" },
      grpc: { type: "boolean", default: false },
    },
  });
  if (positionals.length !== 1) throw new UsageError("render takes one policy file");
  if (!(TARGETS as readonly string[]).includes(values.target!)) throw new UsageError(`--target must be kong, istio, envoy or all, got ${JSON.stringify(values.target)}`);
  if (!(ISTIO_EXTENSIONS as readonly string[]).includes(values["istio-extension"]!)) throw new UsageError(`--istio-extension must be wasm-plugin or traffic-extension, got ${JSON.stringify(values["istio-extension"])}`);
  const selector = values.selector === undefined ? undefined : parseSelector(values.selector);
  const gateway = parseGateway(values.gateway);
  const gatewayApi = parseGateway(values["gateway-api"], "--gateway-api");
  if (gateway && gatewayApi) throw new UsageError("--gateway (an Istio Gateway) and --gateway-api (a Gateway API Gateway) exclude each other");
  const sha256 = moduleSha256(values.image!, values.sha256);
  const policy = loadPolicy(positionals[0]);
  const { files, warnings } = renderFiles(policy, {
    target: values.target as Target, namespace: values.namespace!, gateway, gatewayApi, istioExtension: values["istio-extension"] as IstioExtension, hosts: values.host ?? ["*"],
    service: values.service, selector, image: values.image!, sha256, subsetLabel: values["subset-label"]!, grpc: values.grpc,
  });
  for (const w of warnings) process.stderr.write(`tandem: warning: ${w}\n`);
  if (values.out) {
    makeOutDir(values.out);
    for (const [name, text] of files) writeFileSync(join(values.out, name), text);
    process.stdout.write(`wrote ${files.map(([name]) => join(values.out!, name)).join(", ")}\n`);
  } else if (files.length === 1) {
    process.stdout.write(files[0][1]);
  } else {
    process.stdout.write(files.map(([name, text]) => `# --- ${name} ---\n${text}`).join("---\n"));
  }
  return 0;
}
