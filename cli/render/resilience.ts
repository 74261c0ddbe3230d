// spec.retries / spec.timeoutMs / spec.connectionPool / spec.outlierDetection, rendered into
// each gateway's own settings (the core validated them: wasm/core/config/resilience.ts), and
// a warning for each part a gateway cannot express.
//   Istio  VirtualService route `retries` / `timeout`; DestinationRule `trafficPolicy`
//          connectionPool and outlierDetection.
//   Envoy  route `retry_policy` / `timeout`; cluster `circuit_breakers`,
//          `max_requests_per_connection` (HttpProtocolOptions) and `outlier_detection`.
//   Kong   Service `retries` and connect/read/write timeouts (KIC: the konghq.com/retries,
//          -connect-timeout, -read-timeout, -write-timeout Service annotations); Upstream
//          passive health checks (KIC: a KongUpstreamPolicy).
import type { PolicyDoc } from "../policy-file";
import { planOf } from "../policy-plan";
import type { ResiliencePlan } from "../../core-js/tandem-core";

export type Resilience = ResiliencePlan;
export type Retries = NonNullable<ResiliencePlan["retries"]>;
export type Pool = NonNullable<ResiliencePlan["pool"]>;
export type Outlier = NonNullable<ResiliencePlan["outlier"]>;

// The sections with their defaults, as the core's plan gives them (wasm/core/plan-deploy.ts).
export function resilienceOf(p: PolicyDoc): Resilience {
  return planOf(p).resilience;
}

// A protobuf Duration as Istio and Envoy read it in YAML: seconds with up to 3 decimals.
export function seconds(ms: number): string {
  return `${ms / 1000}s`;
}

const defined = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

export function istioRoute(r: Resilience): Record<string, unknown> {
  return defined({
    timeout: r.timeoutMs === undefined ? undefined : seconds(r.timeoutMs),
    retries: r.retries === undefined ? undefined : defined({
      attempts: r.retries.attempts,
      perTryTimeout: r.retries.perTryTimeoutMs === undefined ? undefined : seconds(r.retries.perTryTimeoutMs),
      retryOn: r.retries.retryOn.join(","),
    }),
  });
}

export function istioTrafficPolicy(r: Resilience): Record<string, unknown> | null {
  if (!r.pool && !r.outlier) return null;
  const p = r.pool;
  return defined({
    connectionPool: p === undefined ? undefined : defined({
      tcp: p.maxConnections === undefined ? undefined : { maxConnections: p.maxConnections },
      http: p.maxPendingRequests === undefined && p.maxRequests === undefined && p.maxRequestsPerConnection === undefined ? undefined : defined({
        http1MaxPendingRequests: p.maxPendingRequests, http2MaxRequests: p.maxRequests, maxRequestsPerConnection: p.maxRequestsPerConnection,
      }),
    }),
    outlierDetection: r.outlier === undefined ? undefined : {
      consecutive5xxErrors: r.outlier.consecutiveErrors, interval: seconds(r.outlier.intervalMs),
      baseEjectionTime: seconds(r.outlier.baseEjectionTimeMs), maxEjectionPercent: r.outlier.maxEjectionPercent,
    },
  });
}

// Route fields (Envoy's own default route timeout is 15 s; timeoutMs replaces it).
export function envoyRoute(r: Resilience): Record<string, unknown> {
  return defined({
    timeout: r.timeoutMs === undefined ? undefined : seconds(r.timeoutMs),
    retry_policy: r.retries === undefined ? undefined : defined({
      retry_on: r.retries.retryOn.join(","), num_retries: r.retries.attempts,
      per_try_timeout: r.retries.perTryTimeoutMs === undefined ? undefined : seconds(r.retries.perTryTimeoutMs),
    }),
  });
}

export function envoyCluster(r: Resilience): Record<string, unknown> {
  const p = r.pool;
  return defined({
    circuit_breakers: p === undefined || (p.maxConnections === undefined && p.maxPendingRequests === undefined && p.maxRequests === undefined) ? undefined
      : { thresholds: [defined({ max_connections: p.maxConnections, max_pending_requests: p.maxPendingRequests, max_requests: p.maxRequests })] },
    // Upstream requests in the client's protocol (use_downstream_protocol_config, what Istio
    // writes for a port whose protocol it sniffs): a gRPC call (HTTP/2) goes on over h2, as
    // gRPC servers need, HTTP/1.1 stays HTTP/1.1. Envoy's default, HTTP/1.1 for everything,
    // would break every gRPC backend (sim/envoy/http-stream.ts ClusterSpec models both).
    // No enable_trailers in http_protocol_options (nor on the listener): gRPC's trailers
    // travel over h2, gRPC-Web's status in a body frame; HTTP/1.1 trailers have no reader.
    typed_extension_protocol_options: {
      "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": defined({
        "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
        common_http_protocol_options: p?.maxRequestsPerConnection === undefined ? undefined : { max_requests_per_connection: p.maxRequestsPerConnection },
        use_downstream_protocol_config: { http_protocol_options: {}, http2_protocol_options: {} },
      }),
    },
    outlier_detection: r.outlier === undefined ? undefined : {
      consecutive_5xx: r.outlier.consecutiveErrors, interval: seconds(r.outlier.intervalMs),
      base_ejection_time: seconds(r.outlier.baseEjectionTimeMs), max_ejection_percent: r.outlier.maxEjectionPercent,
    },
  });
}

// Kong's timeouts are per try (nginx proxy_connect/read/send_timeout): the per-try timeout
// when set, else the overall one.
function kongTimeout(r: Resilience): number | undefined {
  return r.retries?.perTryTimeoutMs ?? r.timeoutMs;
}

export function kongService(r: Resilience): Record<string, unknown> {
  const t = kongTimeout(r);
  return defined({ retries: r.retries?.attempts, connect_timeout: t, read_timeout: t, write_timeout: t });
}

export function kicServiceAnnotations(r: Resilience): Record<string, string> {
  const t = kongTimeout(r);
  return defined<Record<string, string | undefined>>({
    "konghq.com/retries": r.retries === undefined ? undefined : String(r.retries.attempts),
    "konghq.com/connect-timeout": t === undefined ? undefined : String(t),
    "konghq.com/read-timeout": t === undefined ? undefined : String(t),
    "konghq.com/write-timeout": t === undefined ? undefined : String(t),
  }) as Record<string, string>;
}

// Passive health checks: a target is unhealthy after consecutiveErrors failures of a kind.
export function kongHealthchecks(r: Resilience, kic: boolean): Record<string, unknown> | null {
  if (!r.outlier) return null;
  const n = r.outlier.consecutiveErrors;
  const statuses = [500, 502, 503, 504];
  return kic
    ? { passive: { type: "http", unhealthy: { httpFailures: n, tcpFailures: n, timeouts: n, httpStatuses: statuses } } }
    : { passive: { type: "http", unhealthy: { http_failures: n, tcp_failures: n, timeouts: n, http_statuses: statuses } } };
}

export function kongWarnings(r: Resilience): string[] {
  const w: string[] = [];
  const on = r.retries?.retryOn.filter((x) => x !== "connect-failure") ?? [];
  if (on.length > 0) w.push(`kong: retries.retryOn ${on.join(", ")} cannot be expressed: Kong retries connection failures and timeouts only (nginx proxy_next_upstream error timeout)`);
  if (r.timeoutMs !== undefined && r.retries?.perTryTimeoutMs !== undefined) w.push("kong: timeoutMs cannot be expressed: Kong's timeouts are per try (connect/read/write), set from retries.perTryTimeoutMs");
  else if (r.timeoutMs !== undefined) w.push("kong: timeoutMs is rendered as the per-try connect/read/write timeouts: Kong has no overall request timeout");
  if (r.pool) w.push("kong: connectionPool cannot be expressed: Kong has no per-upstream connection or request limits");
  if (r.outlier) w.push("kong: outlierDetection.intervalMs, baseEjectionTimeMs and maxEjectionPercent cannot be expressed: a target Kong's passive health check marks unhealthy stays out until an active health check or the Admin API brings it back");
  return w;
}
