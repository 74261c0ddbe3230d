// Per-request state: what nginx variables, ngx.ctx and Kong's runloop hold for
// one request, as far as the PDK can observe it.

import { randomBytes, randomInt } from 'node:crypto';
import { HeaderList, type HeaderTable } from './headers';
import type { LoadedPlugin } from './plugin-registry';

/**
 * $kong_request_id (lua-kong-nginx-module 0.13, src/ngx_http_lua_kong_vars.c, the one
 * Kong 3.9 bundles): four `(uint32_t) ngx_random()` draws, each hex-dumped from memory
 * (little-endian) with ngx_hex_dump: 32 lowercase hex digits, and since random() is
 * below 2^31, every fourth byte is below 0x80. Cached for the request (the variable is
 * indexed: Kong's template uses it in log_format and proxy_set_header), so
 * X-Kong-Request-Id, kong.log.serialize().request.id and get_var agree.
 */
export function kongRequestId(): string {
  const b = Buffer.alloc(16);
  for (let i = 0; i < 4; i++) b.writeUInt32LE(randomInt(0, 0x80000000), i * 4);
  return b.toString('hex');
}

export type Phase = 'rewrite' | 'access' | 'balancer' | 'response' | 'header_filter' | 'body_filter' | 'log';

/** A Lua error raised inside Kong while serving a PDK call (error(...) in the PDK). */
export class LuaError extends Error {}

/** A PDK function Kong has but this harness does not model: fail loudly. */
export class HarnessUnsupported extends LuaError {}

export interface ExitResponse {
  status: number;
  body?: unknown; // Lua value: string, table (JSON-encoded) or nil
  headers?: Record<string, unknown>;
  /** kong.response.error already rendered its body and content type */
  rendered?: boolean;
}

/** One balancer try, as kong.log.serialize reports it in `tries`. */
export interface BalancerTry {
  balancer_start: number;
  balancer_start_ns: number;
  ip?: string;
  port?: number;
  balancer_latency?: number;
  balancer_latency_ns?: number;
  state?: string;
  code?: number;
}

export interface Timings {
  processingStart: number;
  rewriteStart?: number;
  rewriteEnd?: number;
  accessStart?: number;
  accessEnd?: number;
  balancerStart?: number;
  balancerEnd?: number;
  responseStart?: number; // buffered proxying: response phase start
  headerFilterStart?: number;
  bodyFilterEnd?: number;
  logStart?: number;
  proxyLatency?: number; // KONG_PROXY_LATENCY
  responseLatency?: number; // KONG_RESPONSE_LATENCY
  waitingTime?: number; // KONG_WAITING_TIME
  receiveTime?: number; // KONG_RECEIVE_TIME
}

/** What the log timer closes over (plugin_servers/plugin.lua build_phases). */
export interface SavedLogData {
  serialize: Record<string, unknown>;
  /** cjson text of `serialize`, made by the first kong.log.serialize (it never changes after the log phase starts) */
  serializeJson?: string;
  ngxCtx: Record<string, unknown>;
  ctxShared: Record<string, unknown>;
  requestHeaders: HeaderTable;
  responseHeaders: HeaderTable;
  responseStatus: number;
  reqStartTime: number; // seconds, ms resolution
}

export class KongRequestState {
  phase: Phase = 'rewrite';
  readonly remoteAddr: string;
  readonly remotePort: number;
  readonly serverPort: number;
  /** the nginx worker serving the request (the one that accepted its connection) */
  worker = 0;
  /** the matched route's entity (kong.router.get_route, serialize().route) */
  route: Record<string, unknown> = {};
  /** the matched route's Service (kong.router.get_service, serialize().service) */
  service?: Record<string, unknown>;
  /** the plugins that run for the matched route, in Kong's order */
  plugins: LoadedPlugin[] = [];
  /** plugin whose handler is running (namespaced kong.log, kong.plugin.get_id) */
  plugin?: { name: string; id: string };

  method: string;
  /** ngx.req.http_version(): 1.1 (1.0 for an HTTP/1.0 client), 2 over HTTP/2 */
  httpVersion = 1.1;
  /** $request_uri as received: never changes */
  readonly requestUri: string;
  /** $args: changed by kong.service.request.set_query / set_raw_query */
  args: string;
  readonly headers: HeaderList;
  body?: Buffer;
  bodyPromise: Promise<Buffer>;

  // upstream request, changed by kong.service.request.*
  upstreamUri?: string;
  upstreamScheme = 'http';
  upstreamHost?: string; // $upstream_host when a plugin forced it (Host header / set_target)
  upstreamBody?: Buffer;
  /** set in access.before from the original headers: plugins cannot change them */
  forwarded: Record<string, string> = {};
  /** $upstream_te: "trailers" when the client's TE names trailers (handler.lua access.after), else '' */
  upstreamTe = '';
  /** $upstream_upgrade: "websocket" when the client asked for one (runloop/handler.lua access.before), else '' */
  upstreamUpgrade = '';
  /** the connection became a tunnel after the upstream's 101 (ngx_http_upstream_upgrade) */
  upgraded = false;
  /** an upgrade request's raw client connection (gateway.ts) */
  tunnel: { socket: import('node:stream').Duplex; head: Buffer; open: boolean } | null = null;

  balancer: {
    host: string; // upstream name or target host
    port?: number;
    retries: number;
    connectTimeout: number;
    sendTimeout: number;
    readTimeout: number;
    tries: BalancerTry[];
  };

  // downstream response
  status = 0;
  readonly responseHeaders = new HeaderList();
  /** headers as sent to the client (ngx.resp.get_headers in log) */
  sentHeaders = new HeaderList();
  upstreamStatus = '';
  bytesSent = 0;
  exit?: ExitResponse;
  exited = false; // ctx.KONG_EXITED
  proxied = false; // ctx.KONG_PROXIED
  unexpected = false; // ctx.KONG_UNEXPECTED
  /** buffered proxying (a plugin has a `response` phase) */
  buffered?: { status: number; headers: HeaderList; body: Buffer };

  readonly ctxShared: Record<string, unknown> = {};
  readonly ngxCtx: Record<string, unknown> = {};
  readonly serializeValues: { key: string; value: unknown; mode: string }[] = [];
  timings: Timings;
  saved?: SavedLogData;
  /** round trips per phase (HandleEvent + Step*) */
  readonly rpcs: Record<string, number> = { rewrite: 0, access: 0, response: 0, log: 0 };
  /** PDK methods called in access, in order (which round trips rpcs.access counted) */
  readonly accessCalls: string[] = [];

  constructor(
    readonly id: string,
    readonly seq: number,
    init: {
      method: string;
      requestUri: string;
      headers: HeaderList;
      remoteAddr: string;
      remotePort: number;
      serverPort: number;
      startMs: number;
      bodyPromise: Promise<Buffer>;
      defaultHost: string;
      retries: number;
      timeoutMs: number;
    },
  ) {
    this.remoteAddr = init.remoteAddr;
    this.remotePort = init.remotePort;
    this.serverPort = init.serverPort;
    this.method = init.method;
    this.requestUri = init.requestUri;
    const q = init.requestUri.indexOf('?', 1);
    this.args = q < 0 ? '' : init.requestUri.slice(q + 1);
    this.headers = init.headers;
    this.bodyPromise = init.bodyPromise.then((b) => (this.body = b));
    this.timings = { processingStart: init.startMs };
    this.balancer = {
      host: init.defaultHost,
      retries: init.retries,
      connectTimeout: init.timeoutMs,
      sendTimeout: init.timeoutMs,
      readTimeout: init.timeoutMs,
      tries: [],
    };
  }

  private ngxRequestId?: string;
  /** nginx's own $request_id (ngx_http_variables.c): 16 random bytes as hex, another value than $kong_request_id. */
  get nginxRequestId(): string {
    return (this.ngxRequestId ??= randomBytes(16).toString('hex'));
  }

  /** $host: Host header without port, lowercased (nginx), else server_name "kong". */
  get host(): string {
    const h = this.headers.first('host');
    if (!h) return 'kong';
    const v = h.startsWith('[') ? h.slice(0, h.indexOf(']') + 1) : h.split(':')[0];
    return v.toLowerCase();
  }

  /**
   * What one log handler's timer sees (gateway.ts startLogPhase; plugin.lua build_phases
   * closes over `saved`): this request's fields, with its own `saved`, `phase` and the
   * `plugin` its handler sets. A copy: the tables (rpcs, serializeValues, ctxShared,
   * headers, timings) are the same objects, and the request's other fields no longer
   * change once its log phase starts. Not Object.create(this): V8 gives an object that
   * becomes a prototype a hidden class of its own, so each request, and each view, had a
   * distinct one, and every property read of the request state in the harness (the PDK
   * answers, the phases) met more classes than an inline cache holds (issue 15: one less
   * reason for the Kong harness's megamorphic loads and re-optimizations).
   */
  logView(saved: SavedLogData): KongRequestState {
    return Object.assign(Object.create(KongRequestState.prototype) as KongRequestState, this, { saved, phase: 'log' as Phase });
  }

  get rawPath(): string {
    const q = this.requestUri.indexOf('?', 1);
    return q < 0 ? this.requestUri : this.requestUri.slice(0, q);
  }
}
