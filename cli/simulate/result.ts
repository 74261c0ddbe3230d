// One output line of `tandem simulate`, keys in this order.
export type Action = "forward" | "fallback" | "reject" | "abort" | "delay";
export type BreakerState = "closed" | "open" | "half_open";

export interface SimResult {
  variant: string | null;
  upstream: string | null;
  action: Action;
  status: number;
  breaker: BreakerState | null;
  setCookie: string | null;
}

export function formatResult(r: SimResult): string {
  return JSON.stringify({
    variant: r.variant, upstream: r.upstream, action: r.action,
    status: r.status, breaker: r.breaker, setCookie: r.setCookie,
  });
}

// What a gateway answers itself when the upstream failed and no tandem policy
// (fallback) answered instead. Kong (nginx): 502 on connect failure or reset, 504 on
// timeout; Envoy: 503 on connect failure or reset, 504 on timeout. These are the
// only statuses that differ between the paths.
export const KONG_ERROR_STATUS = { connect: 502, reset: 502, timeout: 504 } as const;
export const ENVOY_ERROR_STATUS = { connect: 503, reset: 503, timeout: 504 } as const;
