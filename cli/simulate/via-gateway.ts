// `--via kong` and `--via envoy` share this driver: real HTTP through a harness
// gateway on loopback to scripted upstreams, on the gateway's virtual clock. The
// result is read from what actually happened: the request the gateway sent upstream
// (variant header, chosen upstream) and the response the client got.
import { cliCore } from "../core";
import type { PolicyDoc } from "../policy-file";
import { findSetCookie, send } from "./http-client";
import type { SimResult } from "./result";
import { DEFAULT_UPSTREAM, ScriptedUpstreams, upstreamNames } from "./scripted-upstream";
import { normalizedHeaders, type TraceRequest } from "./trace";

export interface UpstreamAttempt { upstream: string; headers: Record<string, string | string[] | undefined> }

export interface GatewayHandle {
  port: number;
  setNow(ms: number): Promise<void>;
  pointUpstream(name: string, addr: { host: string; port: number }): void;
  settle(): Promise<void>;         // wait until the request's after-response work is done
  close(): Promise<void>;
}

export interface PolicyFacts { variantHeader: string | null; cookie: string | null; upstreams: string[] }

export function policyFacts(policy: PolicyDoc): PolicyFacts {
  const ex = policy.spec.experiment as { variants?: Array<{ upstream?: string }> } | undefined;
  if (!ex) return { variantHeader: null, cookie: null, upstreams: [DEFAULT_UPSTREAM] };
  const plan = cliCore().configureExperiment(JSON.stringify(ex));
  cliCore().release(plan);
  return { variantHeader: plan.variantHeader, cookie: plan.cookie, upstreams: upstreamNames(ex.variants) };
}

export class GatewayDriver {
  last: UpstreamAttempt | null = null;

  constructor(readonly facts: PolicyFacts, readonly ups: ScriptedUpstreams, public gw: GatewayHandle | null = null) {}

  record = (a: UpstreamAttempt): void => { this.last = a; };

  async run(r: TraceRequest): Promise<SimResult> {
    const gw = this.gw!;
    this.last = null;
    await gw.setNow(r.t);
    this.ups.script = { upstream: r.upstream, advance: (ms) => gw.setNow(r.t + ms) };
    const refuse = r.upstream.error === "connect";
    if (refuse) for (const n of this.facts.upstreams) gw.pointUpstream(n, { host: "127.0.0.1", port: this.ups.closedPort });
    let reply;
    try {
      reply = await send(gw.port, r.method, r.path, normalizedHeaders(r));
    } finally {
      if (refuse) for (const n of this.facts.upstreams) gw.pointUpstream(n, this.ups.addrs.get(n)!);
    }
    await gw.settle();
    const a = this.last as UpstreamAttempt | null;
    const vh = this.facts.variantHeader;
    const v = a && vh ? a.headers[vh] : undefined;
    return {
      variant: typeof v === "string" ? v : null,
      upstream: a && a.upstream !== DEFAULT_UPSTREAM ? a.upstream : null,
      action: "forward",
      status: reply.status,
      breaker: null,
      setCookie: findSetCookie(reply.headers, this.facts.cookie),
    };
  }

  async close(): Promise<void> {
    await this.gw?.close();
    await this.ups.close();
  }
}
