// The playground's gateways: Kong (the harness in front of real kong-js-pluginserver
// processes, one per plugin) and Envoy (the harness running tandem.wasm), each with the
// plugins / filters `tandem render` would enable for the policy (experiment,
// circuit-breaker, fault-injection) and the configs it renders, on the real clock, in
// front of the demo backends. A new policy goes to both the way a deploy sends it: the
// core validates it first (as `tandem validate` in CI would); then Kong gets each
// plugin's new config (a new StartInstance) and Envoy each filter's (on_configure).
// A policy with another set of parts or upstreams restarts both gateways on their ports.
// Each gateway runs in a worker thread of its own (./gateway-thread.ts says why); the
// demo backends and the page stay on the main thread.
import { join } from "node:path";
import type { KongPluginSpec } from "../../sim/kong";
import type { FilterSpec, RouteSpec } from "../../sim/envoy";
import { GatewayThread } from "./gateway-thread";
import { UPSTREAM_HEADER, VARIANT_HEADER } from "../../core-js/tandem-core";
import { cliCore, distDir } from "../dist-core";
import type { PolicyDoc } from "../policy-file";
import { policyJson } from "../validate";
import { kongPartConfig, partConfig, partEnabled, partsOf, planOf, rerouteOf } from "../policy-plan";
import { kicInstanceName } from "../simulate/via-kong";
import { demoBackend, type DemoBackend } from "./backend";
import { METRICS_PORT_ENV } from "../../plugins/shared/metrics";
import { tandemHistogramBuckets, tandemStatsTags } from "../render/envoy-stats";

export type Part = "experiment" | "circuit-breaker" | "fault-injection";

interface Variant { name: string; upstream?: string }

// What the playground needs to know of a policy: its parts' configs for each gateway,
// its upstreams, the variant header and the sticky cookie.
export interface PolicyShape {
  doc: PolicyDoc;
  parts: Part[];
  variants: Variant[];
  upstreams: string[];
  variantHeader: string;
  cookie: string | null;
  reroute: string | null;
}

/** The core's refusal of a policy, "<field path>: <rule>, got <value>". */
export class RefusedPolicy extends Error {}

export function shapeOf(doc: PolicyDoc): PolicyShape {
  const err = cliCore().validatePolicy(policyJson("policy", doc));
  if (err !== null) throw new RefusedPolicy(err.startsWith(": ") ? "policy" + err : err);
  const ex = partConfig(doc, "experiment");
  if (!ex) throw new RefusedPolicy("the playground needs spec.experiment");
  const plan = cliCore().configureExperiment(JSON.stringify(ex));
  cliCore().release(plan);
  const variants: Variant[] = planOf(doc).variants.map((v) => ({ name: v.name, ...(v.upstream !== null ? { upstream: v.upstream } : {}) }));
  // the single form's or the list's reroute (the list's was missed when this read the document)
  const reroute = rerouteOf(doc)?.upstream;
  const parts: Part[] = partsOf(doc);
  const upstreams = [...new Set([...variants.map((v) => v.upstream ?? v.name), ...(typeof reroute === "string" ? [reroute] : [])])];
  return { doc, parts, variants, upstreams, variantHeader: plan.variantHeader.toLowerCase(), cookie: plan.cookie, reroute: typeof reroute === "string" ? reroute : null };
}

function kongConfig(doc: PolicyDoc, part: Part): Record<string, unknown> {
  return kongPartConfig(doc, part)!;
}

function envoyConfig(doc: PolicyDoc, part: Part): string {
  return JSON.stringify(partConfig(doc, part));
}

export interface StackPorts { kong: number; envoy: number; backend: number }

export class Stack {
  kong!: GatewayThread;
  envoy!: GatewayThread;
  readonly backends = new Map<string, DemoBackend>();
  shape!: PolicyShape;
  /** bumps on every applied policy: the page marks weight changes and reloads by it */
  generation = 0;

  /** `threadDir`: where playground-gateway.js is (default: beside the CLI bundle) */
  private constructor(private readonly ports: StackPorts, private readonly threadDir: string | undefined) {}

  static async start(shape: PolicyShape, ports: StackPorts, threadDir?: string): Promise<Stack> {
    const s = new Stack(ports, threadDir);
    try {
      await s.startGateways(shape);
    } catch (e) {
      await s.close();
      throw e;
    }
    return s;
  }

  addr(name: string): { host: string; port: number } {
    return { host: "127.0.0.1", port: (this.backends.get(name)!.server.address() as { port: number }).port };
  }

  private async startGateways(shape: PolicyShape): Promise<void> {
    // The first policy's backends on --backend-port and up (checked free at start); a
    // later policy's new upstreams on any free port, so a reload never meets a busy one.
    const first = this.generation === 0;
    for (const n of shape.upstreams) {
      if (this.backends.has(n)) continue;
      const i = this.backends.size;
      const port = this.ports.backend === 0 || !first ? 0 : this.ports.backend + i;
      this.backends.set(n, await demoBackend(n, port, shape.variantHeader));
    }
    const addrs = Object.fromEntries(shape.upstreams.map((n) => [n, this.addr(n)]));
    const doc = shape.doc;
    const dir = (p: Part) => join(distDir(), "kong", p);
    // Metrics on, as deploy/kong/pluginserver.env runs them: each plugin server serves
    // /metrics on a port of its own (here any free one), which the page scrapes.
    // enabled: the plan's, as render writes it (a fault-injection part with every fault off
    // is a disabled entity, which Kong never runs).
    const plugins: KongPluginSpec[] = shape.parts.map((p) => ({
      name: p, dir: dir(p), config: kongConfig(doc, p), instanceName: kicInstanceName(doc, p), env: { [METRICS_PORT_ENV]: "0" },
      enabled: partEnabled(doc, p),
    }));
    // keepHistory false: the playground reads neither rpcStats nor logs, and runs for hours.
    this.kong = await GatewayThread.kong({ plugins, upstreams: addrs, defaultUpstream: shape.upstreams[0], port: this.ports.kong, keepHistory: false }, shape.parts, this.threadDir);
    this.kongMetrics = this.kong.metricsUrls;
    const wasm = join(distDir(), "wasm", "tandem.wasm");
    // failStrategy FAIL_OPEN as `tandem render` writes it.
    const filters: FilterSpec[] = shape.parts.map((p) => ({ wasm, rootId: p, configuration: envoyConfig(doc, p), failurePolicy: "FAIL_OPEN" }));
    const routes: RouteSpec[] = [
      // A rerouted call names its upstream in x-tandem-upstream: that route first, as render writes it.
      ...(shape.reroute !== null ? [{ header: { name: UPSTREAM_HEADER, value: shape.reroute }, cluster: shape.reroute }] : []),
      ...shape.variants.map((v) => ({ header: { name: shape.variantHeader || VARIANT_HEADER, value: v.name }, cluster: v.upstream ?? v.name })),
      { cluster: shape.upstreams[0] },
    ];
    // The admin listener (any free port) serves /stats/prometheus as Envoy does, with the
    // stats_config `tandem render --target envoy` writes (tag extraction: real labels;
    // latency bounds in µs), which the page scrapes as it scrapes Kong's /metrics.
    this.envoy = await GatewayThread.envoy({
      filters, clusters: addrs, routes, port: this.ports.envoy,
      admin: { port: 0 }, statsTags: tandemStatsTags(), histogramBucketSettings: tandemHistogramBuckets(),
    }, this.threadDir);
    this.shape = shape;
    this.generation++;
  }

  /**
   * Puts a validated policy in force on both gateways. Same parts and upstreams: each
   * plugin and filter is reconfigured in place (state such as a tripped guard stays, as
   * on a real gateway). Else both restart on their ports with the new policy.
   */
  async apply(next: PolicyShape): Promise<"reconfigured" | "restarted"> {
    const same = next.parts.join() === this.shape.parts.join() && next.upstreams.join() === this.shape.upstreams.join() &&
      next.variants.map((v) => `${v.name}>${v.upstream ?? ""}`).join() === this.shape.variants.map((v) => `${v.name}>${v.upstream ?? ""}`).join() &&
      next.variantHeader === this.shape.variantHeader;
    if (same) {
      for (const p of next.parts) {
        // the entity's `enabled` with its config: switching a fault on or off in the page
        // enables or disables the Kong plugin, as editing the KongPlugin's `disabled` does
        await this.kong.configure(p, kongConfig(next.doc, p), partEnabled(next.doc, p));
        if (!(await this.envoy.reconfigure(p, envoyConfig(next.doc, p)))) throw new RefusedPolicy(`Envoy refused the ${p} configuration (see its log)`);
      }
      this.shape = next;
      this.generation++;
      return "reconfigured";
    }
    // Keep the ports the gateways had (an ephemeral port stays the one the page shows).
    this.ports.kong = this.kong.port;
    this.ports.envoy = this.envoy.port;
    await this.closeGateways();
    await this.startGateways(next);
    return "restarted";
  }

  private kongMetrics: string[] = [];

  /**
   * Where each gateway serves its metrics (Prometheus text): Kong, each plugin server's
   * /metrics; Envoy, its admin's /stats/prometheus (the path deploy/prometheus scrapes:
   * every defined series, used or not, as a Prometheus sees it).
   */
  metricsUrls(g: "kong" | "envoy"): string[] {
    return g === "kong" ? this.kongMetrics : this.envoy?.adminUrl ? [`${this.envoy.adminUrl}/stats/prometheus`] : [];
  }

  private async closeGateways(): Promise<void> {
    await Promise.allSettled([this.kong?.close(), this.envoy?.close()]);
  }

  async close(): Promise<void> {
    await this.closeGateways();
    for (const b of this.backends.values()) { b.server.closeAllConnections(); b.server.close(); }
  }
}
