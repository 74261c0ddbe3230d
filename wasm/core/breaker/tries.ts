// One outcome per client request, whatever the gateway retried: the definition the
// circuit breaker, the canary guards and the latency histograms share on both gateways
// (docs/policy.md "Outcomes under gateway retries").
//
//   status, error  the last try's: the answer the client got. Earlier tries count for
//                  nothing: a retry that succeeded hides the failure from the breaker as
//                  it hides it from the client. Envoy's filters only ever see the last
//                  try (the router retries below them), so no definition that counts
//                  earlier tries could be measured there; Kong's log phase sees every
//                  try's status ("502, 200") and passes only the last.
//   latency        from the first try's start to the last try's first response byte (or
//                  its failure): every try, every backoff in between. It is the wait the
//                  retries cost the client, the figure a slow-call rule and a p95 are
//                  about. Envoy's filter measures it as one span (its request start to
//                  the first response byte it sees); Kong reports each try's start
//                  (serialize() tries[i].balancer_start) and only the last try's time
//                  (balancer_latency + latencies.proxy), from which this rebuilds the span.
//
// An adapter passes the facts (ms on its clock; f64 so sub-ms host clocks keep their
// precision); the core decides what they add up to.
export function requestLatencyMs(firstTryStartMs: f64, lastTryStartMs: f64, lastTryMs: f64): f64 {
  // A clock that stepped back between tries (or a missing figure, NaN) adds nothing.
  const between = lastTryStartMs - firstTryStartMs;
  const gap = between > 0 ? between : 0;
  const own = lastTryMs > 0 ? lastTryMs : 0;
  return gap + own;
}
