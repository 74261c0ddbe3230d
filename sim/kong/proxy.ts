// The proxy_pass part of Kong: the upstream request nginx builds from Kong's
// variables (templates/nginx_kong.lua `location /`, runloop/handler.lua
// access.before/after) and one connection attempt with nginx's failure
// classes. Retries (proxy_next_upstream "error timeout", up to the Service's
// `retries`) are driven by the gateway, one attempt per balancer try; connections come
// from the worker's keep-alive pool (upstream-pool.ts).

import http from 'node:http';
import type { Duplex } from 'node:stream';
import { HeaderList } from './headers';
import { SERVER_HEADER, upstreamUriFor } from './serialize';
import type { KongRequestState } from './request-state';
import type { UpstreamPool } from './upstream-pool';

/** Request headers proxy_set_header replaces, or nginx never forwards. */
const NOT_FORWARDED = new Set([
  'host', 'connection', 'keep-alive', 'te', 'upgrade', 'transfer-encoding', 'content-length', 'expect', 'via',
  'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port', 'x-forwarded-path',
  'x-forwarded-prefix', 'x-real-ip', 'x-kong-request-id',
]);

/** Upstream response headers nginx does not pass (hop-by-hop, X-Accel-*). */
const NOT_PASSED = new Set(['connection', 'keep-alive', 'transfer-encoding', 'x-pad', 'proxy-connection']);

/**
 * access.before: X-Forwarded-* and Via are computed from the client's headers
 * before any plugin runs (trusted_ips = NONE: Kong uses its own values).
 */
export function computeForwarded(req: KongRequestState): Record<string, string> {
  // Keep-Alive and WebSocket Protocol Upgrade Headers: an Upgrade header whose value is
  // "websocket" (any case) sets $upstream_upgrade / $upstream_connection, which
  // templates/nginx_kong.lua sends as Upgrade / Connection (proxy_set_header); any other
  // value goes upstream as a plain request (Connection: keep-alive, no Upgrade).
  req.upstreamUpgrade = req.headers.first('upgrade')?.toLowerCase() === 'websocket' ? 'websocket' : '';
  req.upstreamTe = upstreamTe(req.headers.first('te'));
  const xff = req.headers.first('x-forwarded-for');
  const via = req.headers.first('via');
  return {
    'X-Forwarded-For': xff ? `${xff}, ${req.remoteAddr}` : req.remoteAddr,
    'X-Forwarded-Proto': 'http',
    'X-Forwarded-Host': req.host,
    'X-Forwarded-Port': String(req.serverPort),
    'X-Forwarded-Path': req.rawPath,
    // handler.lua access.after: protocol_version .. " " .. SERVER_HEADER (Lua prints 2.0 as "2")
    Via: via ? `${via}, ${req.httpVersion} ${SERVER_HEADER}` : `${req.httpVersion} ${SERVER_HEADER}`,
  };
}

/** handler.lua access.after: "trailers" when TE is exactly that or lists it (csv items), else ''. */
export function upstreamTe(te: string | undefined): string {
  if (te === undefined) return '';
  return te === 'trailers' || te.split(',').some((t) => t.trim() === 'trailers') ? 'trailers' : '';
}

export function upstreamRequestHeaders(req: KongRequestState, target: { host: string; port: number }, body: Buffer): string[] {
  // balancer.set_host_header: hostname[:port] unless a plugin set $upstream_host
  const host = req.upstreamHost ?? (target.port === 80 ? target.host : `${target.host}:${target.port}`);
  const f = req.forwarded;
  const out = new HeaderList([
    // proxy_set_header TE $upstream_te (first in nginx_kong.lua); an empty value is not sent
    ...(req.upstreamTe ? [['TE', req.upstreamTe] as [string, string]] : []),
    ['Via', f.Via],
    ['Host', host],
    // proxy_set_header Upgrade before Connection; an empty value is not sent
    ...(req.upstreamUpgrade ? [['Upgrade', req.upstreamUpgrade] as [string, string]] : []),
    ['Connection', req.upstreamUpgrade ? 'keep-alive, Upgrade' : 'keep-alive'],
    ['X-Forwarded-For', f['X-Forwarded-For']],
    ['X-Forwarded-Proto', f['X-Forwarded-Proto']],
    ['X-Forwarded-Host', f['X-Forwarded-Host']],
    ['X-Forwarded-Port', f['X-Forwarded-Port']],
    ['X-Forwarded-Path', f['X-Forwarded-Path']],
    ['X-Real-IP', req.remoteAddr],
    ['X-Kong-Request-Id', req.id],
  ]);
  // access.after clears the headers the client listed in Connection
  const conn = req.headers.first('connection') ?? '';
  const hopByHop = ['keep-alive', 'close', 'upgrade'].includes(conn)
    ? new Set<string>()
    : new Set(conn.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean));
  for (const [k, v] of req.headers.entries) {
    const lk = k.toLowerCase();
    if (NOT_FORWARDED.has(lk) || hopByHop.has(lk)) continue;
    out.add(k, v);
  }
  const hadBody = req.headers.has('content-length') || req.headers.has('transfer-encoding');
  if (body.length > 0 || hadBody) out.add('Content-Length', String(body.length));
  return out.raw();
}

// `upgraded`: a 101 to a request that went with Upgrade; the connection is now a tunnel
// (its socket, and bytes that came after the 101's head).
// `cached`: the try went on a kept-alive connection (nginx's pc->cached).
export type AttemptResult =
  | { kind: 'response'; res: http.IncomingMessage; upgraded?: { socket: Duplex; head: Buffer } }
  | { kind: 'failed'; code: 502 | 504; sent: boolean; reason: string; cached: boolean };

export interface AttemptOptions {
  target: { host: string; port: number };
  req: KongRequestState;
  body: Buffer;
  connectTimeoutMs: number;
  readTimeoutMs: number;
  /** the worker's keep-alive pool (./upstream-pool.ts) */
  pool: UpstreamPool;
  /** called when the request has been handed to the connected socket */
  onSent?: () => void;
}

/**
 * One try against one peer, on a connection from the worker's keep-alive pool or a new
 * one. Failure classes as nginx reports them: connect refused / reset before the
 * response header -> 502 ("error"), connect or read timeout -> 504 ("timeout").
 */
export function attempt(o: AttemptOptions): Promise<AttemptResult> {
  return new Promise((resolve) => {
    let settled = false;
    let connected = false;
    let sent = false;
    const finish = (r: AttemptResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(connectTimer);
      resolve(r);
    };
    const up = http.request({
      host: o.target.host,
      port: o.target.port,
      method: o.req.method,
      path: upstreamUriFor(o.req),
      headers: upstreamRequestHeaders(o.req, o.target, o.body) as unknown as http.OutgoingHttpHeaders,
      setHost: false,
      agent: o.pool,
    });
    const connectTimer = setTimeout(() => {
      finish({ kind: 'failed', code: 504, sent: false, reason: 'upstream timed out (connect)', cached: false });
      up.destroy();
    }, o.connectTimeoutMs);
    up.on('socket', (sock) => {
      o.pool.countRequest(sock);
      // proxy_read_timeout / proxy_send_timeout: idle time between two I/O operations,
      // for this request only (a kept-alive connection goes back with the idle timer)
      const onIdle = () => {
        if (!settled) finish({ kind: 'failed', code: 504, sent, reason: 'upstream timed out (read)', cached: up.reusedSocket });
        up.destroy(new Error('read timeout'));
      };
      const onConnect = () => {
        connected = true;
        clearTimeout(connectTimer);
        sock.setTimeout(o.readTimeoutMs);
        sock.on('timeout', onIdle);
        sock.once('free', () => sock.removeListener('timeout', onIdle)); // back in the pool
      };
      if (sock.connecting) sock.once('connect', onConnect);
      else onConnect();
    });
    up.on('finish', () => {
      sent = true;
      o.onSent?.();
    });
    up.on('response', (res) => {
      finish({ kind: 'response', res });
    });
    // nginx ngx_http_proxy_module.c ngx_http_proxy_process_header: a 101 to a request that
    // had an Upgrade header switches the upstream connection to a tunnel (u->upgrade).
    up.on('upgrade', (res, socket, head) => {
      finish({ kind: 'response', res, upgraded: { socket, head } });
    });
    up.on('error', (e: NodeJS.ErrnoException) => {
      finish({ kind: 'failed', code: 502, sent: connected, reason: e.code ?? e.message, cached: up.reusedSocket });
    });
    up.end(o.body);
  });
}

/** Response headers for the client: plugin-set ones first, then the upstream's. */
export function passUpstreamHeaders(pluginSet: HeaderList, res: http.IncomingMessage): HeaderList {
  const out = pluginSet.clone();
  const raw = res.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const lk = raw[i].toLowerCase();
    if (NOT_PASSED.has(lk) || lk.startsWith('x-accel-')) continue;
    // content-type / content-length have dedicated slots in headers_out: the
    // upstream's value replaces a plugin's; other names are appended.
    if (lk === 'content-type' || lk === 'content-length') out.set(raw[i], raw[i + 1]);
    else out.add(raw[i], raw[i + 1]);
  }
  return out;
}

export const IDEMPOTENT = (method: string) => !['POST', 'LOCK', 'PATCH'].includes(method);
