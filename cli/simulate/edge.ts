// What each gateway refuses before any plugin or filter sees the request: its edge.
// The rules are the simulators' own (product code in sim/), applied to the request head
// `tandem simulate` sends (cli/simulate/http-client.ts: the trace's headers in order,
// then Node's `Connection: close`):
//   kong   nginx's header buffers (1k + 4 x 8k; a line above 8k): 400 "Request header or
//          cookie too large" (414 for the request line); a URI whose '..' climbs above
//          the root or holds %00: 400 (sim/kong/edge.ts)
//   envoy  a head above max_request_headers_kb (60) or more than 100 header fields: 431;
//          a path Istio's BASE normalization rejects (%00, '#'): 400
//          (sim/envoy/header-limits.ts, path-normalization.ts); an upgrade of a type
//          Istio's HCM does not allow (anything but websocket): 403 upgrade_failed
//          (sim/envoy/upgrade.ts)
import { nginxRefusal } from "../../sim/kong/edge";
import { envoyHeaderRefusal } from "../../sim/envoy/header-limits";
import { normalizePath } from "../../sim/envoy/path-normalization";
import { upgradeAllowed, upgradeOf } from "../../sim/envoy/upgrade";
import { wireHeaders } from "./http-client";
import { normalizedHeaders, sentMethod, type TraceRequest } from "./trace";

export interface Refusals { kong?: number; envoy?: number }

// The path Istio's ingress gateway runs with (meshConfig.pathNormalization default).
export const ISTIO_PATH_NORMALIZATION = "BASE" as const;
// The upgrade types Istio's HCM allows (pilot buildHTTPConnectionManager), as tandem
// render's envoy.yaml writes them.
export const ENVOY_UPGRADES = ["websocket"] as const;

// Methods Node's client sends without a body header; for the others an empty body goes
// as `Content-Length: 0` (node:http ClientRequest useChunkedEncodingByDefault).
const NO_BODY_HEADER = new Set(["GET", "HEAD", "DELETE", "OPTIONS", "TRACE", "CONNECT"]);

export function wireHead(r: TraceRequest): { requestLine: string; headers: Array<[string, string]> } {
  const method = sentMethod(r);
  const headers: Array<[string, string]> = [];
  for (const [k, v] of Object.entries(wireHeaders(normalizedHeaders(r)))) {
    for (const c of Array.isArray(v) ? v : [v]) headers.push([k, c]);
  }
  // Node's client adds Connection: close unless the trace sets Connection (an upgrade)
  if (!headers.some(([k]) => k.toLowerCase() === "connection")) headers.push(["Connection", "close"]);
  if (!NO_BODY_HEADER.has(method)) headers.push(["Content-Length", "0"]);
  return { requestLine: `${method} ${r.path} HTTP/1.1`, headers };
}

// The gateways that would refuse the request, with the status the client gets; null: none.
export function edgeRefusals(r: TraceRequest): Refusals | null {
  const head = wireHead(r);
  const out: Refusals = {};
  const k = nginxRefusal(head, r.path);
  if (k) out.kong = k.status === 494 ? 400 : k.status;     // kong/error_handlers.lua: 494 -> 400
  const e = envoyHeaderRefusal(head);
  const upgrade = upgradeOf(head.headers);
  if (e) out.envoy = e.status;
  else if (normalizePath(r.path, ISTIO_PATH_NORMALIZATION) === null) out.envoy = 400;
  else if (upgrade !== null && !upgradeAllowed(upgrade, ENVOY_UPGRADES)) out.envoy = 403;
  return out.kong === undefined && out.envoy === undefined ? null : out;
}
