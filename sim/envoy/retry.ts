// The router's retries: a route's `retry_policy` and one request's retry state, as Envoy's
// router decides them (the loop itself is in http-stream.ts `forward`).
//   source/common/router/retry_state_impl.cc  RetryStateImpl::parseRetryOn / parseRetryGrpcOn
//     (the route's retry_on takes both kinds of names: config_impl.cc RetryPolicyImpl),
//     RetryStateImpl::shouldRetry (No / NoRetryLimitExceeded / Yes, retries_remaining_),
//     wouldRetryFromHeaders (5xx, gateway-error 502-504, retriable-4xx 409,
//     retriable-status-codes, the gRPC names on a grpc-status in the response headers),
//     wouldRetryFromReset (reset / 5xx / gateway-error: any reset; connect-failure: a
//     connection failure only; refused-stream: an HTTP/2 REFUSED_STREAM, which HTTP/1
//     never gives)
//   source/common/router/router.cc  Filter::maybeRetryReset (a per-try timeout is a local
//     reset: retried like one, TimeoutRetry::Yes), Filter::onUpstreamHeaders (a retried
//     response is dropped, its stream reset; NoRetryLimitExceeded sets URX and the response
//     passes), Filter::onUpstreamReset (URX, then the 503 whose body says "retried and the
//     latest reset reason" after a retry), Filter::onPerTryTimeoutCommon
//   source/common/common/backoff_strategy.cc  JitteredExponentialBackOffStrategy::nextBackOffMs:
//     random() % interval, the interval starting at base_interval (default 25 ms,
//     upstream.base_retry_backoff_ms) and doubling up to max_interval (default 10 x base)
// Not modelled: retry budgets and the cluster's max_retries circuit breaker (NoOverflow),
// x-envoy-retry-on / x-envoy-max-retries request headers, host predicates (one host per
// cluster here), hedging, rate-limited backoff (x-envoy-ratelimited, Retry-After).
import { randomInt } from 'node:crypto';

export interface RetryPolicySpec {
  /** retry_on: Envoy's comma-separated names (HTTP and gRPC). */
  retryOn: string;
  /** num_retries (Envoy's default 1). */
  numRetries?: number;
  /** per_try_timeout (none: each try may take what is left of the route timeout). */
  perTryTimeoutMs?: number;
  /** retriable_status_codes (for retriable-status-codes). */
  retriableStatusCodes?: number[];
  /** retry_back_off.base_interval / max_interval. */
  baseIntervalMs?: number;
  maxIntervalMs?: number;
}

/** How a try failed before a response head (StreamResetReason, as the router sees it). */
// remote-reset / refused-stream: an HTTP/2 upstream's RST_STREAM (./upstream-h2.ts)
export type ResetKind = 'connect-failure' | 'connection-termination' | 'local-reset' | 'remote-reset' | 'refused-stream';

export type RetryStatus = 'yes' | 'no' | 'limit-exceeded';

const BIT = {
  '5xx': 1 << 0, 'gateway-error': 1 << 1, 'connect-failure': 1 << 2, 'retriable-4xx': 1 << 3,
  'refused-stream': 1 << 4, 'retriable-status-codes': 1 << 5, reset: 1 << 6,
  cancelled: 1 << 10, 'deadline-exceeded': 1 << 11, 'resource-exhausted': 1 << 12, unavailable: 1 << 13, internal: 1 << 14,
} as const;
// gRPC status codes of the gRPC names (grpc/status.h).
const GRPC_CODE: Array<[number, number]> = [[BIT.cancelled, 1], [BIT['deadline-exceeded'], 4], [BIT['resource-exhausted'], 8], [BIT.unavailable, 14], [BIT.internal, 13]];

/** parseRetryOn | parseRetryGrpcOn: unknown names are ignored (the route's config takes them). */
export function parseRetryOn(s: string): number {
  let on = 0;
  for (const name of s.split(',')) on |= (BIT as Record<string, number>)[name.trim()] ?? 0;
  return on;
}

/** A draw for the jittered backoff: a value in [0, intervalMs). Default: Envoy's, uniformly random. */
export type BackoffDraw = (intervalMs: number) => number;
export const randomBackoff: BackoffDraw = (intervalMs) => randomInt(intervalMs);

export class RetryState {
  private readonly on: number;
  private remaining: number;
  private interval: number;
  private readonly maxInterval: number;
  private readonly codes: number[];
  /** Tries made so far beyond the first (is_retry_ once > 0). */
  retries = 0;

  constructor(private readonly policy: RetryPolicySpec, private readonly draw: BackoffDraw = randomBackoff) {
    this.on = parseRetryOn(policy.retryOn);
    this.remaining = policy.numRetries ?? 1;
    const base = Math.max(1, policy.baseIntervalMs ?? 25);
    this.interval = base;
    this.maxInterval = policy.maxIntervalMs ?? base * 10;
    this.codes = policy.retriableStatusCodes ?? [];
  }

  get perTryTimeoutMs(): number | undefined {
    return this.policy.perTryTimeoutMs;
  }

  /** RetryStateImpl::shouldRetryHeaders on a response head (`grpcStatus` from its headers, null when none). */
  shouldRetryHeaders(status: number, grpcStatus: number | null): RetryStatus {
    return this.shouldRetry(this.wouldRetryFromHeaders(status, grpcStatus));
  }

  /** RetryStateImpl::shouldRetryReset. */
  shouldRetryReset(kind: ResetKind): RetryStatus {
    return this.shouldRetry(this.wouldRetryFromReset(kind));
  }

  /** JitteredExponentialBackOffStrategy::nextBackOffMs: the wait before the retry just granted. */
  nextBackoffMs(): number {
    const interval = this.interval;
    this.interval = this.interval < this.maxInterval / 2 ? this.interval * 2 : this.maxInterval;
    return Math.min(interval - 1, Math.max(0, Math.floor(this.draw(interval))));
  }

  private shouldRetry(would: boolean): RetryStatus {
    if (!would) return 'no';
    if (this.remaining === 0) return 'limit-exceeded';
    this.remaining--;
    this.retries++;
    return 'yes';
  }

  private wouldRetryFromHeaders(status: number, grpcStatus: number | null): boolean {
    const on = this.on;
    if (on & BIT['5xx'] && status >= 500 && status < 600) return true;
    if (on & BIT['gateway-error'] && status >= 502 && status <= 504) return true;
    if (on & BIT['retriable-4xx'] && status === 409) return true;
    if (on & BIT['retriable-status-codes'] && this.codes.includes(status)) return true;
    if (grpcStatus !== null) for (const [bit, code] of GRPC_CODE) if (on & bit && grpcStatus === code) return true;
    return false;
  }

  private wouldRetryFromReset(kind: ResetKind): boolean {
    const on = this.on;
    if (on & (BIT.reset | BIT['5xx'] | BIT['gateway-error'])) return true;
    if (kind === 'refused-stream' && (on & BIT['refused-stream']) !== 0) return true;
    return kind === 'connect-failure' && (on & BIT['connect-failure']) !== 0;
  }
}
