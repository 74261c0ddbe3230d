// kong.log.serialize() for the http subsystem (kong/pdk/log.lua), computed when
// Kong's log phase starts, as plugin_servers/plugin.lua saves it for the log
// timer. Values are Lua values: cjson turns the empty `tries` table of a
// request that never reached the balancer into `{}`, like in Kong.

import { decodeArgs } from './headers';
import type { KongRequestState } from './request-state';

export const KONG_VERSION = '3.9.3';
export const SERVER_HEADER = `kong/${KONG_VERSION}`;

export interface SerializeEnv {
  route: Record<string, unknown>;
  service: Record<string, unknown>;
  workspaceId: string;
  /** ms, the clock the harness runs on (virtual or real) */
  now: number;
}

export function upstreamUriFor(req: KongRequestState): string {
  let uri = req.upstreamUri ?? req.rawPath;
  // access.after / serialize: keep "?" and the args when the request had them
  if (req.args !== '' || req.requestUri.endsWith('?')) uri += '?' + req.args;
  return uri;
}

export function buildSerialize(env: SerializeEnv, req: KongRequestState): Record<string, unknown> {
  const t = req.timings;
  const requestHeaders = req.headers.table(100) as Record<string, unknown>;
  if (requestHeaders['authorization'] !== undefined) requestHeaders['authorization'] = 'REDACTED';
  if (requestHeaders['proxy-authorization'] !== undefined) requestHeaders['proxy-authorization'] = 'REDACTED';

  const root: Record<string, unknown> = {
    request: {
      id: req.id,
      uri: req.requestUri,
      url: `http://${req.host}:${req.serverPort}${req.requestUri}`,
      querystring: decodeArgs(req.args),
      method: req.method,
      headers: requestHeaders,
      size: requestLength(req),
    },
    upstream_uri: upstreamUriFor(req),
    upstream_status: req.upstreamStatus,
    response: {
      status: req.status,
      headers: req.sentHeaders.table(100),
      size: req.bytesSent,
    },
    latencies: {
      kong: t.proxyLatency ?? t.responseLatency ?? 0,
      proxy: t.waitingTime ?? -1,
      request: env.now - t.processingStart, // $request_time * 1000
      receive: t.receiveTime ?? 0,
    },
    tries: req.balancer.tries.map((x) => ({ ...x })),
    route: structuredClone(env.route),
    service: structuredClone(env.service),
    client_ip: req.remoteAddr,
    started_at: t.processingStart,
    source: req.unexpected || req.exited ? 'kong' : req.proxied ? 'upstream' : 'kong',
    workspace: env.workspaceId,
    workspace_name: 'default',
  };
  for (const item of req.serializeValues) applySerializeValue(root, item);
  return root;
}

/** $request_length: request line, header lines and body. */
function requestLength(req: KongRequestState): number {
  let n = Buffer.byteLength(`${req.method} ${req.requestUri} HTTP/1.1\r\n`);
  for (const [k, v] of req.headers.entries) n += Buffer.byteLength(`${k}: ${v}\r\n`);
  return n + 2 + (req.body?.length ?? 0);
}

/** log.lua edit_result */
function applySerializeValue(root: Record<string, unknown>, item: { key: string; value: unknown; mode: string }) {
  const parts = item.key.split('.');
  let node: Record<string, unknown> | undefined = root;
  for (const sub of parts.slice(0, -1)) {
    if (node[sub] === undefined) {
      if (item.mode === 'replace') return;
      node[sub] = {};
    } else if (typeof node[sub] !== 'object' || node[sub] === null) {
      throw new Error(`The key '${item.key}' could not be used as a serialize value. Subkey '${sub}' is not a table.`);
    }
    node = node[sub] as Record<string, unknown>;
  }
  const last = parts[parts.length - 1];
  const existing = node[last];
  if (item.mode === 'set' || (item.mode === 'add' && existing === undefined) || (item.mode === 'replace' && existing !== undefined)) {
    if (item.value === undefined) delete node[last];
    else node[last] = item.value;
  }
}
