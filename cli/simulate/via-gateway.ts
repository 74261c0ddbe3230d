// `--via kong` and `--via envoy` share this driver: real HTTP through a harness
// gateway on loopback to scripted upstreams, on the gateway's virtual clock. The
// result is read from what actually happened: the request the gateway sent upstream
// (variant header, chosen upstream) and the response the client got.
import { cliCore } from "../dist-core";
import type { PolicyDoc } from "../policy-file";
import { findSetCookie, send } from "./http-client";
import type { Action, BreakerState, SimResult } from "./result";
import { DEFAULT_UPSTREAM, ScriptedUpstreams, upstreamNames } from "./scripted-upstream";
import { answerOf, normalizedHeaders, sentMethod, type TraceRequest } from "./trace";
import { edgeRefusals } from "./edge";
import { experimentConfig } from "../render";
import { TAGS_HEADER } from "../../core-js/tandem-core";

export interface UpstreamAttempt { upstream: string; headers: Record<string, string | string[] | undefined> }

// What the circuit-breaker did with the last request, as the gateway's plugin / filter
// reports it (the state is inside the gateway): the `action` and `breaker` fields.
export interface BreakerReport { action: Extract<Action, "forward" | "fallback" | "reject">; state: BreakerState }

export interface GatewayHandle {
  port: number;
  setNow(ms: number): Promise<void>;
  // Called with each trace line before it is sent (the Envoy path draws its request id).
  beforeRequest?(r: TraceRequest): void;
  pointUpstream(name: string, addr: { host: string; port: number }): void;
  settle(): Promise<void>;         // wait until the request's after-response work is done
  // After settle(): the breaker's report on the request (policies with a breaker).
  breakerReport?(): Promise<BreakerReport | null>;
  // After settle(): each guarded variant's guard state (policies with canary guards);
  // `last`: no other report follows for this request (Kong: empty the log after it).
  guardReport?(last: boolean): Promise<Record<string, BreakerState> | null>;
  // The configs the gateway last handed each plugin (Kong: StartInstance's, Kong's keys included).
  pluginConfigs?(): Record<string, Record<string, unknown>>;
  close(): Promise<void>;
}

// tags: the policy has tagging experiments (results report the x-tandem-experiments header);
// guards: it has canary guards (results report their states).
export interface PolicyFacts { variantHeader: string | null; cookie: string | null; upstreams: string[]; breaker: boolean; tags?: boolean; guards?: boolean }

export function policyFacts(policy: PolicyDoc): PolicyFacts {
  const ex = policy.spec.experiment as { variants?: Array<{ upstream?: string }> } | undefined;
  const breaker = !!(policy.spec.circuitBreaker || policy.spec.fallback);
  // A fallback may reroute to an upstream of its own.
  const reroute = (policy.spec.fallback as { reroute?: { upstream?: unknown } } | undefined)?.reroute?.upstream;
  const extra = typeof reroute === "string" ? [reroute] : [];
  if (!ex) return { variantHeader: null, cookie: null, upstreams: [...new Set([DEFAULT_UPSTREAM, ...extra])], breaker };
  const plan = cliCore().configureExperiment(JSON.stringify(experimentConfig(policy)));
  cliCore().release(plan);
  return { variantHeader: plan.variantHeader, cookie: plan.cookie, upstreams: [...new Set([...upstreamNames(ex.variants), ...extra])], breaker, tags: plan.tags.length > 0, guards: plan.guards.length > 0 };
}

// A header as the upstream received it (repeated copies joined, so they show).
function headerText(v: string | string[] | undefined): string | null {
  return v === undefined ? null : Array.isArray(v) ? v.join(", ") : v;
}

export class GatewayDriver {
  last: UpstreamAttempt | null = null;
  private lastGuards: Record<string, BreakerState> = {};

  constructor(readonly gateway: "kong" | "envoy", readonly facts: PolicyFacts, readonly ups: ScriptedUpstreams, public gw: GatewayHandle | null = null) {}

  record = (a: UpstreamAttempt): void => { this.last = a; };

  async run(r: TraceRequest): Promise<SimResult> {
    const gw = this.gw!;
    this.last = null;
    await gw.setNow(r.t);
    gw.beforeRequest?.(r);
    this.ups.script = { upstream: r.upstream, upstreams: r.upstreams, advance: (ms) => gw.setNow(r.t + ms) };
    // Upstreams that refuse this request's connection point at a closed port.
    const refuse = this.facts.upstreams.filter((n) => answerOf(r, n).error === "connect");
    for (const n of refuse) gw.pointUpstream(n, { host: "127.0.0.1", port: this.ups.closedPort });
    let reply;
    try {
      reply = await send(gw.port, sentMethod(r), r.path, normalizedHeaders(r));
    } finally {
      for (const n of refuse) gw.pointUpstream(n, this.ups.addrs.get(n)!);
    }
    await gw.settle();
    const refused = edgeRefusals(r);
    const mine = refused?.[this.gateway];
    if (mine !== undefined && this.last === null && reply.status === mine) {
      // The gateway answered before any plugin ran: nothing to report, nothing changed.
      return {
        variant: null, upstream: null, action: "refused", status: reply.status, breaker: null, setCookie: null,
        ...(this.facts.tags ? { tags: null } : {}),
        ...(this.facts.guards ? { guards: this.lastGuards } : {}),
        refused: refused!,
      };
    }
    // The guards' report first: on Kong the breaker's report empties the log after it.
    const guards = this.facts.guards && gw.guardReport ? await gw.guardReport(!this.facts.breaker) : undefined;
    const report = this.facts.breaker && gw.breakerReport ? await gw.breakerReport() : null;
    const a = this.last as UpstreamAttempt | null;
    const vh = this.facts.variantHeader;
    const v = a && vh ? a.headers[vh] : undefined;
    return {
      variant: typeof v === "string" ? v : null,
      upstream: a && a.upstream !== DEFAULT_UPSTREAM ? a.upstream : null,
      action: report?.action ?? "forward",
      status: reply.status,
      breaker: report?.state ?? null,
      setCookie: findSetCookie(reply.headers, this.facts.cookie),
      ...(this.facts.tags ? { tags: headerText(a?.headers[TAGS_HEADER]) } : {}),
      ...(this.facts.guards ? { guards: (this.lastGuards = guards ?? {}) } : {}),
      ...(refused ? { refused } : {}),
    };
  }

  async close(): Promise<void> {
    await this.gw?.close();
    await this.ups.close();
  }
}
