// Envoy's O(1) "inline" request headers (envoy/http/header_map.h INLINE_REQ_HEADERS and
// INLINE_REQ_RESP_HEADERS, plus "referer", which the CEL context registers as a custom
// inline header). A repeated inline header reaches Envoy's filters as ONE entry: its
// codec merges the copies (HeaderMapImpl::insertByKey -> appendToHeader,
// source/common/http/header_map_impl.cc): an empty copy is dropped and non-empty copies
// are joined with ",". Any other header keeps one entry per copy, and
// proxy_get_header_map_value returns the first (extensions/common/wasm/context.cc
// Context::getHeaderMapValue). Kong hands a plugin every copy (ngx.req.get_headers), so
// the Node-side adapters (./answer-needs.ts) apply the same two rules, and the Envoy
// simulator (sim/envoy/header-map.ts) builds its maps from this list: one fact, one
// definition, on both gateways.

export const ENVOY_INLINE_REQ_RESP_HEADERS: readonly string[] = [
  'connection',
  'content-type',
  'x-envoy-decorator-operation',
  'keep-alive',
  'proxy-connection',
  'proxy-status',
  'x-request-id',
  'transfer-encoding',
  'upgrade',
  'via',
  'content-length',
  'x-envoy-attempt-count',
];
export const ENVOY_INLINE_REQUEST_HEADERS: ReadonlySet<string> = new Set([
  ...ENVOY_INLINE_REQ_RESP_HEADERS,
  ':authority',
  ':method',
  ':path',
  ':protocol',
  ':scheme',
  'x-client-trace-id',
  'x-envoy-downstream-service-cluster',
  'x-envoy-downstream-service-node',
  'x-envoy-external-address',
  'x-envoy-force-trace',
  'x-envoy-hedge-on-per-try-timeout',
  'x-envoy-internal',
  'x-envoy-ip-tags',
  'x-envoy-retry-on',
  'x-envoy-retry-grpc-on',
  'x-envoy-retriable-status-codes',
  'x-envoy-retriable-header-names',
  'x-envoy-original-path',
  'x-envoy-original-url',
  'x-envoy-upstream-alt-stat-name',
  'x-envoy-upstream-rq-timeout-alt-response',
  'expect',
  'x-forwarded-client-cert',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'grpc-timeout',
  'te',
  'user-agent',
  'x-envoy-expected-rq-timeout-ms',
  'x-envoy-max-retries',
  'x-envoy-upstream-rq-timeout-ms',
  'x-envoy-upstream-rq-per-try-timeout-ms',
  'x-envoy-upstream-stream-duration-ms',
  'referer',
]);

// Envoy's appendToHeader over the copies in arrival order: empty copies dropped, the rest
// joined with "," ("" when every copy is empty).
export function mergeInlineCopies(copies: readonly string[]): string {
  let out = "";
  for (const c of copies) if (c.length > 0) out = out.length === 0 ? c : `${out},${c}`;
  return out;
}
