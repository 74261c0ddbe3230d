// Gateway retries in `tandem simulate`: which tries a gateway makes for a trace answer with
// `tries` (trace.ts), and what the request then ends with. The gateway paths retry for real
// (sim/kong: nginx proxy_next_upstream; sim/envoy: the router's retry loop); `--via core`
// replays the same decisions here so the three paths agree.
//   kong   the Service's `retries` = spec.retries.attempts (none: 0 here, as `--via kong`
//          runs); a refused connection, a reset before the response head and a timeout are
//          retried (nginx `proxy_next_upstream error timeout`), a reset or timeout after the
//          request was sent not for POST, PATCH, LOCK (ngx_http_upstream_next); no backoff
//   envoy  the route's retry_policy `tandem render` writes from spec.retries (none: one
//          try), decided by sim/envoy/retry.ts as the harness's router does; each retry
//          waits Envoy's jittered backoff, drawn here (and on `--via envoy`) as the middle
//          of its range, so that a replay is repeatable
import type { PolicyDoc } from "../policy-file";
import { envoyRoute, resilienceOf } from "../render/resilience";
import { RetryState, type BackoffDraw, type RetryPolicySpec } from "../../sim/envoy/retry";
import type { TraceUpstream } from "./trace";

export type RetryModel =
  | { gateway: "kong"; retries: number }
  | { gateway: "envoy"; policy: RetryPolicySpec | null };

// Envoy's backoff jitter in a replay: the middle of [0, interval).
export const SIM_BACKOFF: BackoffDraw = (intervalMs) => Math.floor(intervalMs / 2);

// The route retry_policy `tandem render` writes for Envoy, as the harness's RouteSpec takes it.
export function envoyRetryPolicy(policy: PolicyDoc): RetryPolicySpec | null {
  const rp = envoyRoute(resilienceOf(policy)).retry_policy as { retry_on: string; num_retries: number; per_try_timeout?: string } | undefined;
  if (!rp) return null;
  const perTry = resilienceOf(policy).retries?.perTryTimeoutMs;
  return { retryOn: rp.retry_on, numRetries: rp.num_retries, ...(perTry !== undefined ? { perTryTimeoutMs: perTry } : {}) };
}

// Kong's Service retries for the policy (`tandem render` writes spec.retries.attempts).
export function kongRetries(policy: PolicyDoc): number {
  return resilienceOf(policy).retries?.attempts ?? 0;
}

export function retryModel(policy: PolicyDoc, gateway: "kong" | "envoy"): RetryModel {
  return gateway === "kong" ? { gateway, retries: kongRetries(policy) } : { gateway, policy: envoyRetryPolicy(policy) };
}

// The answer an upstream gives its k-th try (from 0): a trace answer's `tries` in order,
// the last one repeating; an answer without `tries` is every try's.
export function tryAnswer(u: TraceUpstream, k: number): TraceUpstream {
  const t = u.tries;
  return t === undefined || t.length === 0 ? u : t[Math.min(k, t.length - 1)];
}

// The time a try takes before the next one can start, or before its failure is known:
// a refused connection and a reset take none (virtual time), a timeout its latencyMs.
function tryMs(u: TraceUpstream): number {
  return u.error === "connect" || u.error === "reset" ? 0 : u.latencyMs ?? 0;
}

const NOT_RETRIED_AFTER_SEND = new Set(["POST", "PATCH", "LOCK"]);

// What the request ends with: the last try's answer, `priorMs` the time the tries before
// it and the backoffs took (the request's latency is priorMs + the last try's own), `tries`
// how many were made.
export interface Resolved { answer: TraceUpstream; priorMs: number; tries: number }

export function resolveTries(u: TraceUpstream, model: RetryModel, method: string): Resolved {
  let prior = 0;
  if (model.gateway === "kong") {
    for (let k = 0; ; k++) {
      const a = tryAnswer(u, k);
      const sent = a.error === "reset" || a.error === "timeout";
      const retriable = a.error !== undefined && (!sent || !NOT_RETRIED_AFTER_SEND.has(method));
      if (!retriable || k >= model.retries) return { answer: a, priorMs: prior, tries: k + 1 };
      prior += tryMs(a);
    }
  }
  if (model.policy === null) return { answer: tryAnswer(u, 0), priorMs: 0, tries: 1 };
  const st = new RetryState(model.policy, SIM_BACKOFF);
  for (let k = 0; ; k++) {
    const a = tryAnswer(u, k);
    const verdict = a.error === "connect" ? st.shouldRetryReset("connect-failure")
      : a.error === "reset" ? st.shouldRetryReset("connection-termination")
      // a timeout is retried only as a per-try timeout (the route's own timer never is)
      : a.error === "timeout" ? (model.policy.perTryTimeoutMs !== undefined ? st.shouldRetryReset("local-reset") : "no")
      : st.shouldRetryHeaders(a.status ?? 0, a.grpcStatus !== undefined && !a.trailers ? a.grpcStatus : null);
    if (verdict !== "yes") return { answer: a, priorMs: prior, tries: k + 1 };
    prior += tryMs(a) + st.nextBackoffMs();
  }
}
