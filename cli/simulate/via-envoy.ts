// `--via envoy`: dist/wasm/tandem.wasm in the Envoy harness (sim/envoy), a
// proxy-wasm host on V8 built to Envoy's semantics, with a route table that matches
// the variant header after the filters ran — as a VirtualService would. The filters are
// the policy's parts in `tandem render`'s order and configs: `experiment`, then
// `circuit-breaker` (the circuitBreaker fields plus `fallback`). The proxy is an Istio
// ingress gateway, where `tandem render` puts the filters: an edge
// (use_remote_address), so the client's x-request-id is replaced by Envoy's own
// (trace.ts envoyRequestId).
//
// What the breaker did (the result's `action` and `breaker`) is observed from outside
// the filter, never through a response header: the filter's counters
// (wasmcustom.tandem_breaker_rejected / _upstream_fallback, before and after the
// request) and the state of the request's key in the proxy's shared data
// (wasm/filter/breaker-store.ts layout). The key's slot is the one the filter touched
// during the request: the last one it wrote, else the last one it read (admission reads
// the key's candidate slots in order and stops at the key's). The trace runs one
// request at a time, so nothing else touches shared data meanwhile.
import { join } from "node:path";
import { SharedData, VirtualTicks, startEnvoy, type EnvoyGateway, type FilterSpec, type RouteSpec } from "../../sim/envoy";
import type { FaultField } from "../../plugins/fault-injection/trace";
import { distDir } from "../dist-core";
import type { PolicyDoc } from "../policy-file";
import { partConfig, planOf, rerouteOf } from "../policy-plan";
import { GatewayDriver, SIM_ANSWER_WAIT_MS, policyFacts, type BreakerReport } from "./via-gateway";
import type { BreakerState } from "./result";
import { UPSTREAM_HEADER, VARIANT_HEADER } from "../../core-js/tandem-core";
import { isBreakerSlot, readSharedState } from "../../core-js/shared-state";
import { DEFAULT_UPSTREAM, ScriptedUpstreams } from "./scripted-upstream";
import { envoyRequestId } from "./trace";
import { ENVOY_UPGRADES, ISTIO_PATH_NORMALIZATION } from "./edge";
import { tandemHistogramBuckets, tandemStatsTags } from "../render/envoy-stats";
import { canonicalMetrics } from "./metrics";
import { decisionLineOf } from "./decisions";
import { SIM_BACKOFF, envoyRetryPolicy, retryModel } from "./retries";

// ---- the filter's shared data (wasm/filter/breaker-store.ts, read by core-js/shared-state.ts) ----

// The process's shared data, noting which breaker slot the filter touched last.
class WatchedSharedData extends SharedData {
  lastSet: string | null = null;
  lastGet: string | null = null;

  override get(vmId: string, key: string) {
    if (isBreakerSlot(key)) this.lastGet = key;
    return super.get(vmId, key);
  }

  override set(vmId: string, key: string, value: Uint8Array, cas: number) {
    const r = super.set(vmId, key, value, cas);
    if (isBreakerSlot(key) && r === 0) this.lastSet = key;
    return r;
  }

  // The state of the key the last request was about; forget it for the next one. A
  // request that touched no slot (forced modes never do) reports closed, as the core
  // reports a key nothing was recorded for.
  take(vmId = ""): BreakerState {
    const name = this.lastSet ?? this.lastGet;
    this.lastSet = this.lastGet = null;
    const e = name === null ? undefined : super.get(vmId, name);
    return (e && readSharedState(name!, e.value)?.state) || "closed";
  }
}

// Answers GatewayHandle.breakerReport() after each request.
class BreakerWatch {
  private last: Record<string, number>;
  private readonly rejectAction: "fallback" | "reject";

  constructor(private readonly gw: EnvoyGateway, private readonly sd: WatchedSharedData, policy: PolicyDoc) {
    this.last = gw.metrics();
    // fallbackOnReject: the fallback answers a rejection when its `on` has "open" (the default).
    const f = planOf(policy).fallback;
    this.rejectAction = f !== null && f.kind !== "none" && f.onOpen ? "fallback" : "reject";
  }

  report(): BreakerReport {
    const m = this.gw.metrics();
    const prev = this.last;
    this.last = m;
    const delta = (n: string) => (m[`wasmcustom.${n}`] ?? 0) - (prev[`wasmcustom.${n}`] ?? 0);
    let action: BreakerReport["action"] = "forward";
    const state = this.sd.take();
    // the filter counts the preflights it let pass (wasm/filter/breaker-filter.ts)
    if (delta("tandem_breaker_preflights") > 0) return { action, state: null };
    if (delta("tandem_breaker_rejected") > 0) action = this.rejectAction;
    else if (delta("tandem_breaker_upstream_fallback") > 0) action = "fallback";
    return { action, state };
  }
}

// ---- canary guards' states (wasm/filter/guard-store.ts: the breaker-store layout) ----

// Where each guarded variant's guard state is: the filter logs it at configure
// ("tandem: guard state of variant <name> <shared-data name>", GUARD_STATE_AT).
const GUARD_STATE_AT = "tandem: guard state of variant ";

function guardNames(gw: EnvoyGateway): Map<string, string> {
  const out = new Map<string, string>();
  for (const l of gw.logs()) {
    if (!l.message.startsWith(GUARD_STATE_AT)) continue;
    const [variant, name] = l.message.slice(GUARD_STATE_AT.length).split(" ");
    out.set(variant, name);
  }
  return out;
}

// Each guard's state in shared data; a name never written yet is a closed guard.
function guardStates(sd: SharedData, names: Map<string, string>): Record<string, BreakerState> {
  const out: Record<string, BreakerState> = {};
  for (const [variant, name] of names) {
    const e = sd.get("", name);
    out[variant] = (e && readSharedState(name, e.value)?.state) || "closed";
  }
  return out;
}

// on_log (where the breaker records the outcome) runs when the stream is destroyed,
// which can be a moment after the client read the response: wait until no stream is
// in flight in any worker VM.
const SETTLE_MS = 2000;

async function streamsDone(gw: EnvoyGateway): Promise<void> {
  const deadline = Date.now() + SETTLE_MS;
  const inFlight = () => {
    let n = 0;
    for (const vm of gw.vms) for (const c of vm.contexts.values()) if (c.isRoot) n += (c as { activeStreams?: number }).activeStreams ?? 0;
    return n;
  };
  while (inFlight() > 0 && Date.now() < deadline) await new Promise((ok) => setTimeout(ok, 1));
}

export class EnvoyDriver {
  static async start(policy: PolicyDoc, metrics = false): Promise<GatewayDriver> {
    const facts = policyFacts(policy);
    const cb = partConfig(policy, "circuit-breaker");
    const rerouteUpstream = rerouteOf(policy)?.upstream ?? null;
    if (rerouteUpstream !== null && !facts.upstreams.includes(rerouteUpstream)) facts.upstreams.push(rerouteUpstream);
    const ups = await ScriptedUpstreams.start(facts.upstreams);
    const driver = new GatewayDriver("envoy", facts, ups, null, retryModel(policy, "envoy"));
    driver.grpcOverH2 = true;
    // the route retry_policy `tandem render` writes from spec.retries (none: one try)
    const retryPolicy = envoyRetryPolicy(policy);
    const ex = partConfig(policy, "experiment");
    const wasm = join(distDir(), "wasm", "tandem.wasm");
    const filters: FilterSpec[] = [];
    // failStrategy FAIL_OPEN as `tandem render` writes it, i.e. Istio >= 1.25's failure_policy.
    if (ex) filters.push({ wasm, rootId: "experiment", configuration: JSON.stringify(ex), failurePolicy: "FAIL_OPEN" });
    if (cb) filters.push({ wasm, rootId: "circuit-breaker", configuration: JSON.stringify(cb), failurePolicy: "FAIL_OPEN" });
    const fc = partConfig(policy, "fault-injection");
    if (fc) filters.push({ wasm, rootId: "fault-injection", configuration: JSON.stringify(fc), failurePolicy: "FAIL_OPEN" });
    const routes: RouteSpec[] = [
      // Rerouted calls name their upstream in x-tandem-upstream: that route first, as
      // `tandem render` writes it (a rerouted call still carries its variant header).
      ...(rerouteUpstream !== null ? [{ header: { name: UPSTREAM_HEADER, value: rerouteUpstream }, cluster: rerouteUpstream }] : []),
      ...planOf(policy).variants.filter((v) => v.upstream !== null).map((v) => ({ header: { name: facts.variantHeader ?? VARIANT_HEADER, value: v.name }, cluster: v.upstream! })),
      { cluster: DEFAULT_UPSTREAM },
    ];
    // Each route its own copy: a per-try timeout set for a line (below) applies to all.
    if (retryPolicy !== null) for (const r of routes) r.retryPolicy = { ...retryPolicy };
    const sharedData = new WatchedSharedData();
    let now = 0;
    let line = 0;
    // Root timers (the fault filter's delays, the experiment's counter flushes) on the
    // same virtual clock: moving the clock fires every timer due on the way, in order.
    const ticks = new VirtualTicks(() => now, (ms) => { now = ms; });
    try {
      const gw = await startEnvoy({
        filters,
        // use_downstream_protocol_config, as `tandem render` writes each cluster (and Istio
        // for a port whose protocol it sniffs): gRPC calls (h2) go upstream over h2, the
        // rest over HTTP/1.1 (sim/envoy/http-stream.ts ClusterSpec)
        clusters: Object.fromEntries([...ups.addrs].map(([n, a]) => [n, { ...a, useDownstreamProtocol: true }])),
        routes,
        clock: () => now,
        upstreamTimeoutMs: SIM_ANSWER_WAIT_MS,
        sharedData,
        onUpstreamRequest: driver.record,
        onAccessLog: driver.accessLog,
        useRemoteAddress: true,
        pathNormalization: ISTIO_PATH_NORMALIZATION,
        // Istio's HCM (and tandem render's envoy.yaml) allow WebSocket upgrades
        upgradeConfigs: [...ENVOY_UPGRADES],
        uuid: () => envoyRequestId(line),
        virtualTicks: ticks,
        // the router's retry backoff on the virtual clock, its jitter drawn as retries.ts does
        retryBackoff: SIM_BACKOFF,
        retrySleep: async (ms) => { ticks.advance(now + ms); },
        // tandem render's stats_config: the metrics with real labels (docs/metrics.md)
        statsTags: tandemStatsTags(),
        histogramBucketSettings: tandemHistogramBuckets(),
      });
      const watch = cb ? new BreakerWatch(gw, sharedData, policy) : null;
      const guards = guardNames(gw);
      driver.gw = {
        port: gw.port,
        setNow: async (ms) => { ticks.advance(ms); },
        now: () => now,
        beforeRequest: (r) => { line = r.line; },
        pointUpstream: (n, a) => gw.setCluster(n, a),
        // With a per-try timeout the router's per-try timer is the one a timing-out try
        // meets (and may retry); the route's timer, covering every try, stays long.
        setUpstreamTimeout: (ms) => {
          if (retryPolicy?.perTryTimeoutMs === undefined) return gw.setUpstreamTimeout(ms);
          for (const r of routes) r.retryPolicy!.perTryTimeoutMs = ms;
          gw.setUpstreamTimeout(SIM_ANSWER_WAIT_MS * 2);
        },
        settle: () => streamsDone(gw),
        ...(watch ? { breakerReport: async () => watch.report() } : {}),
        guardReport: async () => guardStates(sharedData, guards),
        ...(fc ? faultWatch(gw, ticks, () => now) : {}),
        // a scrape after the last request's counts were flushed (the experiment root's
        // tick, wasm/filter/counter-buffer.ts) and Envoy's stats flush merged histograms
        ...(metrics ? { metricsText: async () => { ticks.fireArmed(); gw.flushStats(); return canonicalMetrics([gw.prometheus(true)], true); } } : {}),
        // the experiment filter's proxy_log lines (./decisions.ts), in the order written
        decisionLines: async () => gw.logs().flatMap((l) => { const d = decisionLineOf(l.message); return d === null ? [] : [d]; }),
        close: () => gw.close(),
      };
    } catch (e) {
      await ups.close();
      throw e;
    }
    return driver;
  }
}

// What the fault filter did with the last request, observed from outside: its counters
// (wasmcustom.tandem_fault_delays_injected / _aborts_injected) and, for a delay, how far
// virtual time had to move before the stream resumed (the root's tick); an abort's
// status is the one the client got.
function faultWatch(gw: EnvoyGateway, ticks: VirtualTicks, now: () => number) {
  let last = gw.metrics();
  let start = 0;
  let resumedAt: number | null = null;
  return {
    now,
    pump: async (done: () => boolean) => {
      start = now();
      resumedAt = null;
      while (!done()) {
        await new Promise((ok) => setTimeout(ok, 1));
        // the delayed stream waits for the fault root's timer; others due before it fire on the way
        const next = ticks.nextAt((root) => root.rootId === "fault-injection");
        if (next !== Infinity && !done()) { ticks.advance(next); resumedAt = next; }
      }
    },
    faultReport: async (_last: boolean, status: number): Promise<FaultField | null> => {
      const m = gw.metrics();
      const prev = last;
      const d = (n: string) => (m[`wasmcustom.${n}`] ?? 0) - (prev[`wasmcustom.${n}`] ?? 0);
      last = m;
      const ms = d("tandem_fault_delays_injected") > 0 && resumedAt !== null ? resumedAt - start : null;
      if (d("tandem_fault_aborts_injected") > 0) return ms !== null ? { kind: "abort", status, ms } : { kind: "abort", status };
      return ms !== null ? { kind: "delay", ms } : null;
    },
  };
}
