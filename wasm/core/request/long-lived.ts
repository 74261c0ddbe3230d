// Long-lived requests: the ones whose response is a stream that lasts (a WebSocket, an
// event stream), decided here for every adapter from two request headers.
//
//   upgrade  any non-empty value: the client asks to switch protocols (RFC 9110 7.8;
//            WebSocket's handshake, RFC 6455 4.1). nginx proxies the upgrade as a tunnel
//            when the upstream answers 101 (ngx_http_upstream.c
//            ngx_http_upstream_upgrade); Envoy with its upgrade_configs.
//   accept   lists text/event-stream (case-insensitive): what EventSource sends
//            (WHATWG HTML "server-sent events", fetch with Accept: text/event-stream).
//
// Why it matters: Kong runs nothing for a plugin server between `access` and `log`
// without buffering the response (kong/runloop/plugin_servers/plugin.lua build_phases:
// `log` runs in a timer after the request ended), so a half-open or guard probe that
// opens a stream would hold its permit until the stream closes. Such requests are not
// admitted as probes there (../breaker/machine.ts allow, docs/policy.md "Streams").
// A gRPC stream looks like a unary call at access (same headers, same path shape) and
// is not told apart.
import { Bytes, lower } from "../text/bytes";

const EVENT_STREAM = "text/event-stream";

export function isLongLived(upgrade: Bytes, accept: Bytes): bool {
  if (upgrade.len > 0) return true;
  return containsLower(accept, EVENT_STREAM);
}

// Whether `b` contains `needle` (lowercase ASCII), ignoring ASCII case.
function containsLower(b: Bytes, needle: string): bool {
  const n = needle.length;
  const end = b.len - n;
  for (let i = 0; i <= end; i++) {
    let j = 0;
    while (j < n && lower(<u32>load<u8>(b.ptr + i + j)) == <u32>needle.charCodeAt(j)) j++;
    if (j == n) return true;
  }
  return false;
}
