// One output line of `tandem simulate`, keys in this order:
//   variant   the variant header of the request that went upstream (null: none went)
//   upstream  the upstream it went to (null: the gateway's default, or none went)
//   action    forward   the request went upstream as the policy decided (a breaker in
//                       dry_run, forced_closed or closed admitting it included)
//             fallback  the breaker's fallback answered it (status = the fallback's)
//                       or rerouted it (variant / upstream = the reroute target)
//             reject    the breaker rejected it and no fallback applied: the gateway
//                       answered 503 (Retry-After when known)
//   status    the status the client got
//   breaker   the state of the request's breaker key after the request (after its
//             outcome was recorded): closed | open | half_open; null without a breaker,
//             and on a CORS preflight, which the breaker lets pass untouched
//   setCookie tandem's Set-Cookie, if one was issued
//             refused   the gateway refused the request before any plugin ran (its
//                       header limits or path rules, cli/simulate/edge.ts): status is
//                       its answer, nothing went upstream
//   tags      only for policies with spec.experiments: the x-tandem-experiments header
//             the request went upstream with (null: none, or none went)
//   guards    only for policies with canary guards: each guarded variant's guard state
//             after the request (after its outcome was recorded), by variant name
//   refused   only on requests a gateway refuses at its edge, on every path: gateway ->
//             the status it answers ({"kong": 400, "envoy": 431}); `--via core` decides
//             them unless the gateway it models is among them
//   cache     only for policies with a cache fallback: {"age": N} when the client's answer
//             came from the cache (x-tandem-fallback: cache; N its Age), else null
//   fault     only for policies with spec.faults: the fault injected ({"kind":"delay",
//             "ms":2000}, {"kind":"abort","status":503}, an abort after a delay has
//             both), null: none; `latencyMs` then says how long the client waited (the
//             delay, plus the upstream's latency when the request went upstream)
import type { FaultField } from "../../plugins/fault-injection/trace";

export type Action = "forward" | "fallback" | "reject" | "abort" | "delay" | "refused";
export type BreakerState = "closed" | "open" | "half_open";

export interface SimResult {
  variant: string | null;
  upstream: string | null;
  action: Action;
  status: number;
  breaker: BreakerState | null;
  setCookie: string | null;
  tags?: string | null;
  guards?: Record<string, BreakerState>;
  refused?: { kong?: number; envoy?: number };
  cache?: { age: number } | null;
  fault?: FaultField | null;
  latencyMs?: number;
}

export function formatResult(r: SimResult): string {
  return JSON.stringify({
    variant: r.variant, upstream: r.upstream, action: r.action,
    status: r.status, breaker: r.breaker, setCookie: r.setCookie,
    ...(r.tags !== undefined ? { tags: r.tags } : {}),
    ...(r.guards !== undefined ? { guards: r.guards } : {}),
    ...(r.refused !== undefined ? { refused: r.refused } : {}),
    ...(r.cache !== undefined ? { cache: r.cache } : {}),
    ...(r.fault !== undefined ? { fault: r.fault, latencyMs: r.latencyMs } : {}),
  });
}

// What a gateway answers itself when the upstream failed and no tandem policy
// (fallback) answered instead. Kong (nginx): 502 on connect failure or reset, 504 on
// timeout; Envoy: 503 on connect failure or reset, 504 on timeout. These are the
// only statuses that differ between the paths.
export const KONG_ERROR_STATUS = { connect: 502, reset: 502, timeout: 504 } as const;
export const ENVOY_ERROR_STATUS = { connect: 503, reset: 503, timeout: 504 } as const;

// What `--via core` models of the gateway (the default: Kong). Beyond the statuses
// above, the gateways differ where they cannot do the same:
//   errorKind                the transport error the breaker records: nginx reports a
//                            refused connection and a reset alike (BreakerError.connectOrReset)
//   upstreamFailureFallback  `fallback.on: [upstreamFailure]` answers a failed upstream
//                            call: Envoy can (the filter sees the response first); Kong
//                            cannot without a `response` phase, which buffers everything
//   edgeRequestId            the gateway replaces the client's x-request-id (a new user's
//                            entropy) with its own: an Istio ingress gateway does
//                            (sim/envoy/request-id.ts; trace.ts envoyRequestId), Kong
//                            passes the client's on
//   seesGrpcTrailers         a grpc-status in real trailers reaches the outcome: Envoy's
//                            on_log has the trailers; Kong's log phase has only the
//                            response headers (plugins/shared/outcome.ts)
//   servesCache              the cache fallback stores and serves entries: Envoy's filter
//                            does (wasm/filter/cache-fallback.ts), Kong with the opt-in
//                            `fallback-cache` plugin tandem render enables beside the
//                            breaker (plugins/fallback-cache/handler.ts). On Kong only a
//                            rejection is answered from it (upstreamFailureFallback: the
//                            breaker has no response phase)
//   probesAtHeaders          a half-open or guard probe is decided at its response headers:
//                            Envoy's filters do, so any request may probe; Kong learns an
//                            outcome in `log`, when the request ended, so a long-lived
//                            request (Upgrade, Accept: text/event-stream) never probes
//                            (wasm/core/request/long-lived.ts; docs/policy.md "Streams")
//   grpcErrorStatus          the status the gateway answers a gRPC request whose upstream
//                            failed: Envoy 200 (a trailers-only grpc-status 14 reply,
//                            Utility::prepareLocalReply); Kong keeps 502/504 (null)
export interface GatewayProfile {
  gateway: "kong" | "envoy";
  errorStatus: { connect: number; reset: number; timeout: number };
  errorKind: { connect: number; reset: number; timeout: number };
  upstreamFailureFallback: boolean;
  edgeRequestId: boolean;
  seesGrpcTrailers: boolean;
  grpcErrorStatus: number | null;
  servesCache: boolean;
  probesAtHeaders: boolean;
}

export const KONG_PROFILE: GatewayProfile = {
  gateway: "kong", errorStatus: KONG_ERROR_STATUS, errorKind: { connect: 4, reset: 4, timeout: 3 }, upstreamFailureFallback: false, edgeRequestId: false,
  seesGrpcTrailers: false, grpcErrorStatus: null, servesCache: true, probesAtHeaders: false,
};
export const ENVOY_PROFILE: GatewayProfile = {
  gateway: "envoy", errorStatus: ENVOY_ERROR_STATUS, errorKind: { connect: 1, reset: 2, timeout: 3 }, upstreamFailureFallback: true, edgeRequestId: true,
  seesGrpcTrailers: true, grpcErrorStatus: 200, servesCache: true, probesAtHeaders: true,
};
