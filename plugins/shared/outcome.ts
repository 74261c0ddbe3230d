// The outcome of a proxied call (circuit breaker and canary guards) from Kong's own
// figures, as `kong.log.serialize()` reports them in the log phase (kong/pdk/log.lua; no `response` phase, which would
// make Kong buffer every response):
//   status   the upstream's status: the last of `upstream_status` ("502, 200" after a
//            retry); 0 (ignored) when no upstream was tried (a later plugin exited, the
//            name did not resolve) or none answered
//   error    when Kong answered itself after the last try failed: `source` "kong"
//            (Kong.handle_error) with nginx's 502 or 504 as the last upstream status
//            (a failed last try also shows as `tries[n].state` where recorded; Kong
//            records it only when it retries). 504 = timeout; 502 = a refused
//            connection or a reset before the response header, which nginx does not
//            tell apart -> connectOrReset (a failure when failure.errors lists either)
//   latency  the request's, by the core's definition under retries (wasm/core/breaker/tries.ts,
//            docs/policy.md "Outcomes under gateway retries"): from the first try's
//            start (tries[1].balancer_start) to the last try's first response byte,
//            which Kong gives as that try's balancer_start + balancer_latency +
//            latencies.proxy (KONG_WAITING_TIME: the last try's balancer end -> response
//            head; for a timeout, the time until nginx gave up); ms; 0 when not proxied
//   grpcStatus  the `grpc-status` of the upstream's response headers: a trailers-only
//            gRPC reply (what gRPC servers send for an error before any message) carries
//            it there. A grpc-status in real trailers (after messages) never reaches a
//            plugin server: serialize() is taken from ngx.resp.get_headers(), which holds
//            no trailers, and the log handler runs in a timer where the request (and
//            $upstream_trailer_grpc_status) is gone. No extra RPC either way.
import { BreakerError, type CallOutcome, type TandemCore } from "../../core-js/tandem-core";

export interface KongOutcome extends CallOutcome { status: number; error: number; latencyMs: number; grpcStatus: number | null }

// A fault with scope: upstream (plugins/fault-injection) stands in for the upstream: it
// carries itself to the log phase (kong.log.set_serialize_value) as `tandem.fault`.
// An abort is the outcome (its status, latency: the delay); a delay adds to the
// upstream's latency. Gateway-scope faults carry nothing: their delay is the plugin's
// wait, which latencies.proxy never includes, and their abort reached no upstream.
export const FAULT_CARRY_FIELD = "tandem.fault";
export interface FaultCarry { scope: "upstream"; delayMs: number; abortStatus: number }

interface Try { state?: string; code?: number; balancer_start?: number; balancer_latency?: number }

type LatencyCore = Pick<TandemCore, "requestLatencyMs">;

export function outcomeOf(s: Record<string, unknown>, core: LatencyCore): KongOutcome {
  const o = upstreamOutcomeOf(s, core);
  const f = (s.tandem as { fault?: FaultCarry } | undefined)?.fault;
  if (!f || f.scope !== "upstream") return o;
  if (f.abortStatus > 0) return { status: f.abortStatus, error: BreakerError.none, latencyMs: f.delayMs, grpcStatus: null };
  return { ...o, latencyMs: o.latencyMs + f.delayMs };
}

const ms = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : 0);

function upstreamOutcomeOf(s: Record<string, unknown>, core: LatencyCore): KongOutcome {
  const tries = Array.isArray(s.tries) ? (s.tries as Try[]) : [];
  const proxy = ms((s.latencies as { proxy?: unknown } | undefined)?.proxy);
  const first = tries[0];
  const lastTry = tries[tries.length - 1];
  const latencyMs = lastTry === undefined ? proxy
    : core.requestLatencyMs(ms(first.balancer_start), ms(lastTry.balancer_start), ms(lastTry.balancer_latency) + proxy);
  const codes = typeof s.upstream_status === "string" ? s.upstream_status.split(/[,:]/) : [];
  const code = codes.length > 0 ? Number.parseInt(codes[codes.length - 1].trim(), 10) : NaN;
  if (tries.length === 0 || !Number.isInteger(code) || code <= 0) return { status: 0, error: BreakerError.none, latencyMs, grpcStatus: null };
  const last = tries[tries.length - 1];
  const kongAnswered = s.source === "kong" || last?.state === "failed";
  if (kongAnswered && (code === 502 || code === 504)) {
    return { status: 0, error: code === 504 ? BreakerError.timeout : BreakerError.connectOrReset, latencyMs, grpcStatus: null };
  }
  return { status: code, error: BreakerError.none, latencyMs, grpcStatus: kongAnswered ? null : grpcStatusOf(s) };
}

// The response's grpc-status header (first copy), digits only; null when absent.
function grpcStatusOf(s: Record<string, unknown>): number | null {
  const h = (s.response as { headers?: Record<string, unknown> } | undefined)?.headers;
  let v = h?.["grpc-status"];
  if (Array.isArray(v)) v = v[0];
  if (typeof v !== "string" || !/^\s*\d{1,3}\s*$/.test(v)) return null;
  return Number.parseInt(v.trim(), 10);
}
