// Checks shared by the render and deploy/ tests: every plugin config inside a manifest is
// one the gateways accept. Kong: the plugin's own schema as `kong-js-pluginserver
// --dump-all-plugins` reports it (Kong's schema check, sim/kong/schema.ts), then the core;
// Istio / Envoy: the filter module loaded with that root id and configuration in the Envoy
// simulator (an unknown root id or a refused configuration fails the load, as in Envoy).
import { fallbackForm } from "../../plugins/circuit-breaker/fallback-form";
import { parseAllDocuments } from "yaml";
import { PluginServer, type PluginInfo } from "../../sim/kong/plugin-server";
import { configFieldsOf, validateConfig } from "../../sim/kong/plugin-registry";
import { WasmHost } from "../../sim/envoy/index";
import { FILTER_WASM, KONG_DIR, loadCore } from "./dist";
import { manifestProblems } from "./manifests";

const core = loadCore();
const infos = new Map<string, Promise<PluginInfo>>();

export function kongPluginInfo(plugin: string): Promise<PluginInfo> {
  if (!infos.has(plugin)) infos.set(plugin, PluginServer.query(KONG_DIR(plugin)).then((l) => l[0]));
  return infos.get(plugin)!;
}

// "" when Kong and the plugin would start an instance with this config, else why not.
export async function kongConfigProblem(plugin: string, config: Record<string, unknown>): Promise<string> {
  const info = await kongPluginInfo(plugin);
  if (info?.Name !== plugin) return `no plugin ${plugin} in ${KONG_DIR(plugin)}`;
  let stored: Record<string, unknown>;
  try { stored = validateConfig(configFieldsOf(info), config); } catch (e) { return `Kong schema: ${(e as Error).message}`; }
  // The plugin hands the core the config without Kong's own keys and its Kong-only field.
  const { variantUpstreams: _vu, ...forCore } = stored;
  const json = JSON.stringify(forCore);
  if (plugin === "experiment") {
    try { core.release(core.configureExperiment(json)); } catch (e) { return (e as Error).message; }
    return "";
  }
  if (plugin === "fault-injection") {
    try { core.releaseFaults(core.configureFaults(json)); } catch (e) { return (e as Error).message; }
    return "";
  }
  // The circuit-breaker plugin's own step: the list form from Kong's `fallbacks` back under `fallback`.
  let breaker: Record<string, unknown>;
  try { breaker = fallbackForm(forCore); } catch (e) { return (e as Error).message; }
  return core.validateBreaker(JSON.stringify(breaker)) ?? "";
}

export async function envoyConfigProblem(rootId: string, configuration: string, envs: Record<string, string> = {}): Promise<string> {
  try {
    await WasmHost.load({ wasm: FILTER_WASM, rootId, configuration, envs });
    return "";
  } catch (e) {
    return (e as Error).message;
  }
}

export function yamlDocs(text: string): Array<Record<string, unknown>> {
  return parseAllDocuments(text).map((d) => {
    if (d.errors.length > 0) throw d.errors[0];
    return d.toJS() as Record<string, unknown>;
  }).filter((d) => d !== null);
}

// The `konghq.com/plugins: a,b` line render writes as a comment.
export function annotatedPlugins(text: string): string[] {
  const m = /konghq\.com\/plugins: "?([^"\s]+)"?/.exec(text);
  return m ? m[1].split(",") : [];
}

// Secret references ("{vault://env/<name>}", cli/render/secret-refs.ts) as Kong's env vault
// resolves them (kong/vaults/env/init.lua: <NAME>, '-' -> '_'), in the `secret` fields
// (the plugins' referenceable ones); an unresolved one is a problem.
const REF = /^\{vault:\/\/env\/([a-z0-9_-]+)\}$/i;
function kongResolved(config: unknown, env: Record<string, string>, unresolved: string[]): unknown {
  if (Array.isArray(config)) return config.map((x) => kongResolved(x, env, unresolved));
  if (config === null || typeof config !== "object") return config;
  return Object.fromEntries(Object.entries(config).map(([k, v]) => {
    const m = k === "secret" && typeof v === "string" ? REF.exec(v) : null;
    if (!m) return [k, kongResolved(v, env, unresolved)];
    const key = m[1].toUpperCase().replaceAll("-", "_");
    if (env[key] === undefined) unresolved.push(`${v}: no ${key} in Kong's environment`);
    return [k, env[key] ?? v];
  }));
}

// Every file of a render (or under deploy/), checked as the cluster and the gateways would:
// *envoy*.yaml is a static Envoy config, *dbless*.yaml a Kong declarative config, anything
// else Kubernetes manifests. `env`: the gateways' process environment (Envoy's
// host_env_keys, Istio's vmConfig.env valueFrom HOST, Kong's env vault).
export async function checkRender(files: Array<[string, string]>, env: Record<string, string> = {}): Promise<string[]> {
  const problems: string[] = [];
  const kongConfig = (where: string, c: Record<string, unknown>) => {
    const unresolved: string[] = [];
    const out = kongResolved(c, env, unresolved) as Record<string, unknown>;
    problems.push(...unresolved.map((u) => `${where}: ${u}`));
    return out;
  };
  for (const [name, text] of files) {
    const docs = yamlDocs(text);
    if (/envoy/.test(name)) {
      for (const f of envoyWasmFilters(docs[0])) {
        // Envoy's WasmConfig: key_values, then each host_env_keys variable that is set
        // (source/extensions/common/wasm/plugin.cc)
        const vars = f.vm_config.environment_variables;
        const envs: Record<string, string> = { ...(vars?.key_values ?? {}) };
        for (const k of vars?.host_env_keys ?? []) if (env[k] !== undefined) envs[k] = env[k];
        const why = await envoyConfigProblem(f.root_id, f.configuration.value, envs);
        if (why) problems.push(`${name}: ${f.root_id}: ${why}`);
      }
      continue;
    }
    if (/dbless/.test(name)) {
      // every Service's plugins (render --grpc adds a gRPC Service with the same ones)
      for (const s of docs[0].services as Array<{ plugins: Array<{ name: string; config: Record<string, unknown> }> }>) {
        for (const p of s.plugins) {
          const why = await kongConfigProblem(p.name, kongConfig(`${name}: ${p.name}`, p.config));
          if (why) problems.push(`${name}: ${p.name}: ${why}`);
        }
      }
      continue;
    }
    for (const d of docs) problems.push(...manifestProblems(d).map((p) => `${name}: ${p}`));
    const plugins = docs.filter((d) => d.kind === "KongPlugin");
    const annotated = [...annotatedPlugins(text), ...docs.flatMap((d) => String(((d.metadata as { annotations?: Record<string, string> } | undefined)?.annotations ?? {})["konghq.com/plugins"] ?? "").split(",").filter((x) => x))];
    for (const a of annotated) if (!plugins.some((p) => (p.metadata as { name: string }).name === a)) problems.push(`${name}: konghq.com/plugins names ${a}, not in the file`);
    for (const p of plugins) {
      let config = p.config as Record<string, unknown> | undefined;
      const ref = (p.configFrom as { secretKeyRef?: { name: string; key: string } } | undefined)?.secretKeyRef;
      if (ref) {
        const secret = docs.find((d) => d.kind === "Secret" && (d.metadata as { name: string }).name === ref.name);
        const raw = (secret?.stringData as Record<string, string> | undefined)?.[ref.key];
        if (raw === undefined) { problems.push(`${name}: Secret ${ref.name} key ${ref.key} not in the file`); continue; }
        config = JSON.parse(raw);
      }
      const why = await kongConfigProblem(p.plugin as string, kongConfig(`${name}: KongPlugin ${p.plugin}`, config ?? {}));
      if (why) problems.push(`${name}: KongPlugin ${p.plugin}: ${why}`);
    }
    for (const w of docs.filter((d) => d.kind === "WasmPlugin" || d.kind === "TrafficExtension")) {
      const s = (w.kind === "WasmPlugin" ? w.spec : (w.spec as { wasm: unknown }).wasm) as { pluginName: string; pluginConfig: unknown; vmConfig?: { env?: Array<{ name: string; value?: string; valueFrom?: string }> } };
      // Istio: valueFrom HOST -> Envoy's host_env_keys, else key_values (value)
      const envs: Record<string, string> = {};
      for (const e of s.vmConfig?.env ?? []) {
        if (e.valueFrom === "HOST") { if (env[e.name] !== undefined) envs[e.name] = env[e.name]; } else envs[e.name] = e.value ?? "";
      }
      const why = await envoyConfigProblem(s.pluginName, JSON.stringify(s.pluginConfig), envs);
      if (why) problems.push(`${name}: ${w.kind} ${s.pluginName}: ${why}`);
    }
  }
  return problems;
}

interface WasmConfig {
  root_id: string; configuration: { value: string };
  vm_config: { code: { local: { filename: string } }; environment_variables?: { host_env_keys?: string[]; key_values?: Record<string, string> } };
}
export function envoyWasmFilters(envoy: Record<string, unknown>): WasmConfig[] {
  const hcm = (envoy as { static_resources: { listeners: Array<{ filter_chains: Array<{ filters: Array<{ typed_config: { http_filters: Array<{ name: string; typed_config: { config: WasmConfig } }> } }> }> }> } })
    .static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
  return hcm.http_filters.filter((f) => f.name === "envoy.filters.http.wasm").map((f) => f.typed_config.config);
}
