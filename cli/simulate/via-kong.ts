// `--via kong`: the real kong-js-pluginserver running dist/kong/<plugin>, behind the
// Kong harness (sim/kong), on the harness's virtual clock. The policy's parts
// are the plugins `tandem render` would enable, with the configs it renders.
import { createHash } from "node:crypto";
import { join } from "node:path";
import { startKong, type KongGateway, type KongPluginSpec } from "../../sim/kong";
import { TRACE_ENV, parseTrace } from "../../plugins/circuit-breaker/trace";
import { GUARD_TRACE_ENV, parseGuardTrace, type GuardStates } from "../../plugins/experiment/trace";
import { distDir } from "../dist-core";
import type { PolicyDoc } from "../policy-file";
import { kongCacheConfig, kongPartConfig, partEnabled } from "../policy-plan";
import { FAULT_TRACE_ENV, parseFaultTrace, type FaultField } from "../../plugins/fault-injection/trace";
import { GatewayDriver, SIM_ANSWER_WAIT_MS, policyFacts, type BreakerReport } from "./via-gateway";
import { METRICS_PORT_ENV } from "../../plugins/shared/metrics";
import { canonicalMetrics } from "./metrics";
import { DEFAULT_UPSTREAM, ScriptedUpstreams } from "./scripted-upstream";
import { kongRetries, retryModel } from "./retries";
import { decisionLineOf, quiet } from "./decisions";

// The breaker's report is plugin-server output (stderr): it reaches the harness's log
// a moment after the handler returned.
const REPORT_WAIT_MS = 3000;

// The instance name a plugin entity gets from the Kong Ingress Controller for a
// KongPlugin (`tandem render` names them <policy>-<plugin>): the name and a hash
// suffix. Kong copies it into the plugin's config as plugin_instance_name
// (plugins_iterator.lua get_plugin_config), so --via kong hands the plugins configs
// as a KIC-managed Kong does. The suffix's exact form does not reach a decision.
export function kicInstanceName(policy: PolicyDoc, plugin: string): string {
  const name = `${policy.metadata.name}-${plugin}`;
  return `${name}-${createHash("sha256").update(name).digest("hex").slice(0, 8)}`;
}

export class KongDriver {
  static async start(policy: PolicyDoc, metrics = false, workers = 1): Promise<GatewayDriver> {
    const facts = policyFacts(policy);
    const ups = await ScriptedUpstreams.start(facts.upstreams);
    const driver = new GatewayDriver("kong", facts, ups, null, retryModel(policy, "kong"));
    // gRPC lines go over HTTP/2, as gRPC clients call: to a proxy_listen with the http2 flag,
    // where a gRPC route on a grpc Service takes them (h2 upstream, trailers kept) and every
    // other request keeps the HTTP Service (sim/kong/grpc.ts, grpc-upstream.ts)
    driver.grpcOverH2 = true;
    const plugins: KongPluginSpec[] = [];
    const ex = kongPartConfig(policy, "experiment");
    if (ex) {
      plugins.push({
        name: "experiment", dir: join(distDir(), "kong", "experiment"), config: ex,
        instanceName: kicInstanceName(policy, "experiment"),
      });
    }
    const cb = kongPartConfig(policy, "circuit-breaker");
    if (cb) {
      plugins.push({
        name: "circuit-breaker", dir: join(distDir(), "kong", "circuit-breaker"), config: cb,
        instanceName: kicInstanceName(policy, "circuit-breaker"),
      });
    }
    // The cache fallback's Kong half, as tandem render enables it (spec.fallback has a cache).
    const cc = kongCacheConfig(policy);
    if (cc) {
      plugins.push({
        name: "fallback-cache", dir: join(distDir(), "kong", "fallback-cache"), config: cc,
        instanceName: kicInstanceName(policy, "fallback-cache"),
      });
    }
    const fc = kongPartConfig(policy, "fault-injection");
    if (fc) {
      plugins.push({
        name: "fault-injection", dir: join(distDir(), "kong", "fault-injection"), config: fc,
        instanceName: kicInstanceName(policy, "fault-injection"),
        // every fault off (and no control header): render writes the KongPlugin disabled,
        // and Kong never runs a disabled entity
        enabled: partEnabled(policy, "fault-injection"),
      });
    }
    // --metrics: each plugin server serves /metrics on a free port (plugins/shared/metrics.ts).
    if (metrics) for (const p of plugins) p.env = { [METRICS_PORT_ENV]: "0" };
    // The plugin servers inherit the environment when spawned: the breaker reports
    // each request (plugins/circuit-breaker/trace.ts).
    const before = process.env[TRACE_ENV];
    const beforeGuard = process.env[GUARD_TRACE_ENV];
    const beforeFault = process.env[FAULT_TRACE_ENV];
    process.env[TRACE_ENV] = "1";
    process.env[GUARD_TRACE_ENV] = "1";
    process.env[FAULT_TRACE_ENV] = "1";
    let gw: KongGateway;
    // The decision log's lines, from Kong's error log: they come at info (./decisions.ts),
    // so this Kong runs at log_level info, as one that keeps them must.
    const decisions: string[] = [];
    try {
      gw = await startKong({
        plugins,
        upstreams: Object.fromEntries(ups.addrs),
        defaultUpstream: DEFAULT_UPSTREAM,
        virtualClock: true,
        upstreamTimeoutMs: SIM_ANSWER_WAIT_MS,
        // the Service's retries as `tandem render` writes them (spec.retries.attempts; none: 0)
        retries: kongRetries(policy),
        workers,
        http2: true,
        grpcRoute: true,
        onUpstreamRequest: driver.record,
        onAccessLog: driver.accessLog,
        logLevel: "info",
        onErrorLog: (e) => {
          const l = e.source === "pluginserver" ? decisionLineOf(e.message) : null;
          if (l !== null) decisions.push(l);
        },
      });
    } catch (e) {
      await ups.close();
      throw e;
    } finally {
      if (before === undefined) delete process.env[TRACE_ENV];
      else process.env[TRACE_ENV] = before;
      if (beforeGuard === undefined) delete process.env[GUARD_TRACE_ENV];
      else process.env[GUARD_TRACE_ENV] = beforeGuard;
      if (beforeFault === undefined) delete process.env[FAULT_TRACE_ENV];
      else process.env[FAULT_TRACE_ENV] = beforeFault;
    }
    driver.gw = {
      port: gw.port,
      setNow: (ms) => gw.setNow(ms),
      pointUpstream: (n, a) => gw.setUpstream(n, a),
      setUpstreamTimeout: (ms) => gw.setUpstreamTimeout(ms),
      settle: () => gw.logDone(),
      breakerReport: () => breakerReport(gw),
      guardReport: (last) => guardReport(gw, last),
      pluginConfigs: () => Object.fromEntries(plugins.map((p) => [p.name, gw.kongConfig(p.name)])),
      faultReport: (last) => faultReport(gw, last),
      ...(metrics ? {
        metricsText: async () => canonicalMetrics(await Promise.all(plugins.map(async (p) => (await fetch(await gw.pluginServer(p.name).metricsUrl())).text())), false),
      } : {}),
      decisionLines: async () => { await gw.logDone(); await quiet(() => decisions.length); return decisions; },
      close: () => gw.close(),
    };
    return driver;
  }
}

// The experiment plugin's guard line for the request just sent (its log phase writes
// one per request); the log is emptied after it when no other report follows.
async function guardReport(gw: KongGateway, last: boolean): Promise<GuardStates | null> {
  const deadline = Date.now() + REPORT_WAIT_MS;
  for (;;) {
    let found: GuardStates | null = null;
    for (const e of gw.logs("debug")) {
      if (e.source !== "pluginserver") continue;
      const t = parseGuardTrace(e.message);
      if (t) found = t;
    }
    if (found || Date.now() > deadline) {
      if (last) gw.clearLogs();
      return found;
    }
    await new Promise((r) => setTimeout(r, 2));
  }
}

// The breaker plugin's line for the request just sent; the log is emptied after it.
async function breakerReport(gw: KongGateway): Promise<BreakerReport | null> {
  const deadline = Date.now() + REPORT_WAIT_MS;
  for (;;) {
    let found: BreakerReport | null = null;
    for (const e of gw.logs("debug")) {
      if (e.source !== "pluginserver") continue;
      const t = parseTrace(e.message);
      if (t) found = t;
    }
    if (found || Date.now() > deadline) {
      gw.clearLogs();
      return found;
    }
    await new Promise((r) => setTimeout(r, 2));
  }
}

// The fault plugin's line for the request just sent (its access writes one per request
// it sees); the log is emptied after it when no other report follows.
async function faultReport(gw: KongGateway, last: boolean): Promise<FaultField | null> {
  const deadline = Date.now() + REPORT_WAIT_MS;
  for (;;) {
    let found: FaultField | null | undefined;
    // A breaker or guard line (written in access on a rejection, else in log, after
    // this plugin's access) means the fault plugin's line is in if it ran at all.
    let later = false;
    for (const e of gw.logs("debug")) {
      if (e.source !== "pluginserver") continue;
      const t = parseFaultTrace(e.message);
      if (t !== undefined) found = t;
      if (parseTrace(e.message) || parseGuardTrace(e.message)) later = true;
    }
    if (found !== undefined || later || Date.now() > deadline) {
      if (last) gw.clearLogs();
      return found ?? null;
    }
    await new Promise((r) => setTimeout(r, 2));
  }
}
