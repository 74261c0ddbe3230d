// `--via kong` and `--via envoy` share this driver: real HTTP through a harness
// gateway on loopback to scripted upstreams, on the gateway's virtual clock. The
// result is read from what actually happened: the request the gateway sent upstream
// (variant header, chosen upstream) and the response the client got.
import { cliCore } from "../dist-core";
import type { PolicyDoc } from "../policy-file";
import { findSetCookie, send, sendH2 } from "./http-client";
import type { Action, BreakerState, SimResult } from "./result";
import { DEFAULT_UPSTREAM, ScriptedUpstreams, upstreamNames } from "./scripted-upstream";
import { answerOf, normalizedHeaders, sentMethod, type TraceRequest, type TraceUpstream } from "./trace";
import { resolveTries, tryAnswer, type RetryModel } from "./retries";
import { edgeRefusals } from "./edge";
import { partConfig, partsOf, planOf, rerouteOf } from "../policy-plan";
import { CACHE_HEADER, CACHE_HEADER_VALUE } from "../../wasm/core/contract";
import { TAGS_HEADER } from "../../core-js/tandem-core";
import type { FaultField } from "../../plugins/fault-injection/trace";

// Real time the gateway waits on a line whose trace says the upstream times out (its
// virtual latency is advanced separately), and on every other line: long enough that
// only a hung harness reaches it. The gateways retry as the policy's spec.retries says
// (none: one try), a trace answer's `tries` saying what each try gets (./retries.ts).
export const SIM_TIMEOUT_MS = 300;
export const SIM_ANSWER_WAIT_MS = 10_000;
// How long to wait for a gateway's access log line after its reply (real time).
const ACCESS_LOG_WAIT_MS = 3000;

export interface UpstreamAttempt { upstream: string; headers: Record<string, string | string[] | undefined> }

// What the circuit-breaker did with the last request, as the gateway's plugin / filter
// reports it (the state is inside the gateway): the `action` and `breaker` fields.
// state null: the breaker took no part (a CORS preflight it let pass untouched).
export interface BreakerReport { action: Extract<Action, "forward" | "fallback" | "reject">; state: BreakerState | null }

export interface GatewayHandle {
  port: number;
  // --metrics: the gateway's metrics, canonical (./metrics.ts)
  metricsText?(): Promise<string>;
  // --decisions: the decision log's lines the gateway wrote so far (./decisions.ts)
  decisionLines?(): Promise<string[]>;
  setNow(ms: number): Promise<void>;
  // Called with each trace line before it is sent (the Envoy path draws its request id).
  beforeRequest?(r: TraceRequest): void;
  pointUpstream(name: string, addr: { host: string; port: number }): void;
  // The gateway's upstream timeout (real time) for the requests sent from now on.
  setUpstreamTimeout(ms: number): void;
  settle(): Promise<void>;         // wait until the request's after-response work is done
  // After settle(): the breaker's report on the request (policies with a breaker).
  breakerReport?(): Promise<BreakerReport | null>;
  // After settle(): each guarded variant's guard state (policies with canary guards);
  // `last`: no other report follows for this request (Kong: empty the log after it).
  guardReport?(last: boolean): Promise<Record<string, BreakerState> | null>;
  // The configs the gateway last handed each plugin (Kong: StartInstance's, Kong's keys included).
  pluginConfigs?(): Record<string, Record<string, unknown>>;
  // After settle(): the fault the gateway injected (policies with spec.faults); `last`
  // as for guardReport; `status`: what the client got (an abort's status on Envoy).
  faultReport?(last: boolean, status: number): Promise<FaultField | null>;
  // While the request is in flight: moves virtual time to the gateway's next timer
  // (Envoy's root ticks that resume delayed streams) until `done()`.
  pump?(done: () => boolean): Promise<void>;
  // The gateway's virtual now (Envoy: moved by pump); absent: the request's t.
  now?(): number;
  close(): Promise<void>;
}

// tags: the policy has tagging experiments (results report the x-tandem-experiments header);
// guards: it has canary guards (results report their states).
// cache: its fallback has a cache (results report whether the answer came from it).
export interface PolicyFacts { variantHeader: string | null; cookie: string | null; upstreams: string[]; breaker: boolean; tags?: boolean; guards?: boolean; faults?: boolean; cache?: boolean }

export function policyFacts(policy: PolicyDoc): PolicyFacts {
  const pp = planOf(policy);
  const parts = partsOf(policy);
  const breaker = parts.includes("circuit-breaker");
  const faults = {
    ...(parts.includes("fault-injection") ? { faults: true } : {}),
    ...(pp.fallback?.cache ? { cache: true } : {}),
  };
  // A fallback may reroute to an upstream of its own.
  const reroute = rerouteOf(policy)?.upstream;
  const extra = typeof reroute === "string" ? [reroute] : [];
  const ex = partConfig(policy, "experiment");
  if (!ex) return { variantHeader: null, cookie: null, upstreams: [...new Set([DEFAULT_UPSTREAM, ...extra])], breaker, ...faults };
  const plan = cliCore().configureExperiment(JSON.stringify(ex));
  cliCore().release(plan);
  return { variantHeader: plan.variantHeader, cookie: plan.cookie, upstreams: [...new Set([...upstreamNames(pp.variants), ...extra])], breaker, tags: plan.tags.length > 0, guards: plan.guards.length > 0, ...faults };
}

// A header as the upstream received it (repeated copies joined, so they show).
function headerText(v: string | string[] | undefined): string | null {
  return v === undefined ? null : Array.isArray(v) ? v.join(", ") : v;
}

export class GatewayDriver {
  last: UpstreamAttempt | null = null;
  private lastGuards: Record<string, BreakerState> = {};
  // Called as each try of the current line starts (the gateways observe every try).
  private onTry: ((upstream: string) => void) | null = null;
  // gRPC lines go over HTTP/2 (as gRPC clients call) when the driver says so: both
  // simulators take h2c with prior knowledge (sim/envoy/h2c-listener.ts, sim/kong/h2.ts).
  grpcOverH2 = false;

  constructor(readonly gateway: "kong" | "envoy", readonly facts: PolicyFacts, readonly ups: ScriptedUpstreams, public gw: GatewayHandle | null = null,
    public retry: RetryModel = gateway === "kong" ? { gateway, retries: 0 } : { gateway, policy: null }) {}

  record = (a: UpstreamAttempt): void => { this.last = a; this.onTry?.(a.upstream); };
  // The gateway's access log (Kong's log phase, Envoy's access loggers): the request
  // headers as the plugins left them, for requests answered before any upstream.
  private logged = 0;
  private lastLogged: Record<string, string | string[]> | null = null;
  accessLog = (a: { requestHeaders: Record<string, string | string[]> }): void => { this.logged++; this.lastLogged = a.requestHeaders; };

  async metricsText(): Promise<string> {
    return (await this.gw?.metricsText?.()) ?? "";
  }

  async decisionLines(): Promise<string[]> {
    return (await this.gw?.decisionLines?.()) ?? [];
  }

  async run(r: TraceRequest): Promise<SimResult> {
    const gw = this.gw!;
    this.last = null;
    await gw.setNow(r.t);
    gw.beforeRequest?.(r);
    // the upstream answers latencyMs after it was called (after any fault delay); a retry's
    // try after the earlier tries' time (and Envoy's backoff, which moves the gateway's
    // now); a stream's end after its latency: the clock adds up (Envoy's is its own)
    let headSeen!: () => void;
    const seen = new Promise<void>((ok) => (headSeen = ok));
    let reached = -Infinity;
    const advance = (ms: number) => { reached = Math.max(gw.now?.() ?? r.t, reached) + ms; return gw.setNow(reached); };
    this.ups.script = { upstream: r.upstream, upstreams: r.upstreams, advance, headSeen: seen };
    this.ups.tryIndex.clear();
    // Each try, as the gateway starts it (before it picks the target): an upstream whose
    // answer to this try is a refused connection points at a closed port, else at its server.
    const tries = new Map<string, number>();
    const refusing = new Set<string>();
    this.onTry = (n) => {
      const k = tries.get(n) ?? 0;
      tries.set(n, k + 1);
      this.ups.tryIndex.set(n, k);
      const refuse = tryAnswer(answerOf(r, n), k).error === "connect";
      if (refuse) refusing.add(n);
      else refusing.delete(n);
      gw.pointUpstream(n, refuse ? { host: "127.0.0.1", port: this.ups.closedPort } : this.ups.addrs.get(n)!);
    };
    // The trace says which tries time out, and their latency is virtual (scripted-upstream.ts):
    // so the gateway's real-time timeout is short only on such lines and long on the others,
    // where a slow answer on a loaded machine must never be taken for a timeout.
    const timesOut = this.facts.upstreams.some((n) => { const u = answerOf(r, n); return (u.tries ?? [u]).some((x) => x.error === "timeout"); });
    gw.setUpstreamTimeout(timesOut ? SIM_TIMEOUT_MS : SIM_ANSWER_WAIT_MS);
    const loggedBefore = this.logged;
    let reply;
    try {
      const headers = normalizedHeaders(r);
      const ct = headers["content-type"];
      const h2 = this.grpcOverH2 && cliCore().isGrpc(Array.isArray(ct) ? ct[0] : ct);
      const sending = (h2 ? sendH2 : send)(gw.port, sentMethod(r), r.path, headers, headSeen);
      if (gw.pump) {
        let fin = false;
        void sending.then(() => { fin = true; }, () => { fin = true; });
        await gw.pump(() => fin);
      }
      reply = await sending;
    } finally {
      this.onTry = null;
      for (const n of refusing) gw.pointUpstream(n, this.ups.addrs.get(n)!);
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
        ...(this.facts.cache ? { cache: null } : {}),
      };
    }
    // The fault's report first, then the guards': on Kong the last report empties the log.
    const fault = this.facts.faults && gw.faultReport ? await gw.faultReport(!this.facts.guards && !this.facts.breaker, reply.status) : undefined;
    const guards = this.facts.guards && gw.guardReport ? await gw.guardReport(!this.facts.breaker) : undefined;
    const report = this.facts.breaker && gw.breakerReport ? await gw.breakerReport() : null;
    const a = this.last as UpstreamAttempt | null;
    const vh = this.facts.variantHeader;
    // Answered from the cache: the client's answer says so (x-tandem-fallback: cache, Age).
    const hit = this.facts.cache && reply.headers[CACHE_HEADER] === CACHE_HEADER_VALUE ? { age: Number(reply.headers.age) } : null;
    // No upstream call (a fallback, a rejection, an abort): the variant the request
    // carried when the gateway answered, from its access log line.
    const logged = a === null && vh ? await this.loggedHeaders(loggedBefore) : null;
    const v = vh ? (a ? a.headers[vh] : logged?.[vh]) : undefined;
    return {
      variant: typeof v === "string" ? v : null,
      upstream: a && a.upstream !== DEFAULT_UPSTREAM ? a.upstream : null,
      action: fault?.kind === "abort" ? "abort" : hit ? "fallback" : report?.action ?? "forward",
      status: reply.status,
      breaker: report?.state ?? null,
      setCookie: findSetCookie(reply.headers, this.facts.cookie),
      ...(this.facts.tags ? { tags: headerText(a?.headers[TAGS_HEADER]) } : {}),
      ...(this.facts.guards ? { guards: (this.lastGuards = guards ?? {}) } : {}),
      ...(refused ? { refused } : {}),
      ...(this.facts.cache ? { cache: hit } : {}),
      ...(this.facts.faults ? this.faultFields(r, fault ?? null, a) : {}),
    };
  }

  // The access log line of the request just answered: Kong writes it from its log phase,
  // after the response went out, so it may arrive a moment after the reply.
  private async loggedHeaders(before: number): Promise<Record<string, string | string[]> | null> {
    const deadline = Date.now() + ACCESS_LOG_WAIT_MS;
    while (this.logged === before && Date.now() < deadline) await new Promise((ok) => setTimeout(ok, 2));
    return this.logged > before ? this.lastLogged : null;
  }

  // `fault` and how long the client waited: the delay, plus the upstream's latency when
  // the request went upstream (a refused connection or a reset takes none).
  private faultFields(r: TraceRequest, fault: FaultField | null, a: UpstreamAttempt | null): Pick<SimResult, "fault" | "latencyMs"> {
    const res = a ? resolveTries(answerOf(r, a.upstream), this.retry, sentMethod(r)) : null;
    const u: TraceUpstream | null = res ? res.answer : null;
    const up = (res?.priorMs ?? 0) + (u === null || u.error === "connect" || u.error === "reset" ? 0 : u.latencyMs ?? 0);
    return { fault, latencyMs: (fault?.ms ?? 0) + (fault?.kind === "abort" ? 0 : up) };
  }

  async close(): Promise<void> {
    await this.gw?.close();
    await this.ups.close();
  }
}
