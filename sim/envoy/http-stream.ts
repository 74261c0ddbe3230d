// One downstream HTTP/1.1 request through the gateway, following Envoy's
// ConnectionManagerImpl/FilterManager/Router order:
//  1. HCM request mutations (x-request-id, :scheme, x-forwarded-proto, hop-by-hop removal) and
//     the initial route lookup (refreshCachedRoute);
//  2. decode: each Wasm filter's on_request_headers in configuration order, then the body
//     (buffered whole: one on_request_body with end_of_stream); a filter that stops pauses the
//     stream until proxy_continue_stream or the stream idle timeout (408 "stream timeout", SI);
//  3. a local reply (send_local_response, a fail-closed VM, or the router's own errors) is encoded
//     back through the filters' response callbacks in reverse order (sendLocalReplyViaFilterChain);
//     one sent while a response (the upstream's or a local reply) is encoded and its headers
//     have not reached the codec replaces it, straight to the codec, and the rest of the
//     chain is skipped (FilterManager::sendLocalReply → sendDirectLocalReply,
//     encoder_filter_chain_aborted_); once they have (non_100_response_headers_encoded_),
//     the stream is reset;
//  4. router: the route is re-selected if a filter changed request headers (route cache cleared),
//     the cluster is called (errors → 503 UF/UC, 504 UT, 404 NR), tried again as the route's
//     retry_policy says (./retry.ts: only the last try's answer goes on to the filters);
//  5. encode: on_response_headers in reverse filter order, then the body (buffered only when a
//     filter exports proxy_on_response_body, else streamed through);
//  6. on_log for every filter, then on_done/on_delete.
// Exactly one response per request; close_stream or a late upstream failure resets the
// connection instead (what Envoy does once the response has started).

import http from 'node:http';
import http2 from 'node:http2';
import type { Duplex } from 'node:stream';
import { ResponseFlag } from './abi-status.js';
import { BodyBuffer, FilterContext, type PluginConfig, type RootContext, type StreamCallbacks } from './context.js';
import { decodeData, decodeHeaders, destroy, encodeData, encodeHeaders, encodeTrailers, log, type FilterResult } from './filter-lifecycle.js';
import { HeaderMap } from './header-map.js';
import { RouterReply, isGrpcContentType, prepareLocalReply, type LocalReply } from './local-reply.js';
import type { Pair } from './pairs.js';
import { matchRoute, type RouteSpec } from './routes.js';
import { StreamInfo, allocConnectionId } from './stream-info.js';
import { mutateRequestId, type RequestIdOptions } from './request-id.js';
import { sendUpstream, type UpstreamCall, type UpstreamOutcome } from './upstream.js';
import { H2Response, lateResetOf, type H2Pool } from './upstream-h2.js';
import { RetryState, type BackoffDraw } from './retry.js';
import { DEFAULT_BUFFER_LIMIT, ResponseBodyBuffer } from './response-body.js';
import type { LogEntry, WasmVm } from './vm.js';
import { UPGRADE_FAILED, upgradeAllowed, upgradeOf } from './upgrade.js';

export interface PluginHandle {
  vm: WasmVm;
  root: RootContext;
  plugin: PluginConfig;
}

/**
 * A cluster: its one host, and the protocol it speaks upstream
 * (envoy.extensions.upstreams.http.v3.HttpProtocolOptions, source/common/upstream/upstream_impl.cc
 * createProtocolOptionsConfig / ClusterInfoImpl::upstreamHttpProtocol):
 * - `http2`: `explicit_http_config.http2_protocol_options` (or the cluster's deprecated
 *   `http2_protocol_options`): every request upstream over HTTP/2 — gRPC clusters;
 * - `useDownstreamProtocol`: `use_downstream_protocol_config`: HTTP/2 upstream for a request
 *   that came over HTTP/2, HTTP/1.1 for one over HTTP/1.x (what Istio writes for a port
 *   whose protocol it sniffs);
 * - neither: HTTP/1.1 (Envoy's default).
 */
export interface ClusterSpec {
  host: string;
  port: number;
  http2?: boolean;
  useDownstreamProtocol?: boolean;
  /**
   * The cluster's http_protocol_options.enable_trailers (HttpProtocolOptions
   * explicit_http_config / use_downstream_protocol_config; Envoy's default false): without it
   * the HTTP/1 codec ignores an HTTP/1.1 upstream's trailer fields (http1/codec_impl.cc
   * onHeaderField after the headers are done), so no on_response_trailers, no trailers map.
   * HTTP/2 always carries trailers.
   */
  enableTrailers?: boolean;
}

/** What a stream needs from the gateway. */
export interface StreamEnv {
  routes: readonly RouteSpec[];
  clusters: Map<string, ClusterSpec>;
  /** The HTTP/2 connections to http2 clusters' hosts (./upstream-h2.ts). */
  h2Pool: H2Pool;
  clock(): number;
  upstreamTimeoutMs: number;
  streamIdleTimeoutMs: number;
  agent: http.Agent;
  releaseRoot(root: RootContext, vm: WasmVm): void;
  harnessLog(e: LogEntry): void;
  /** Observes each try the router sends upstream (cluster name, final headers), before its host is picked. */
  onUpstreamRequest?: (a: { upstream: string; headers: Record<string, string | string[]> }) => void;
  /** The access log's view of a finished stream: the request headers as the filters left them. */
  onAccessLog?: (a: { requestHeaders: Record<string, string> }) => void;
  /** HCM settings for x-request-id (request-id.ts). */
  requestId: RequestIdOptions;
  /** per_connection_buffer_limit_bytes: the stream's buffer limit (response-body.ts); default 1 MiB. */
  bufferLimitBytes?: number;
  /** The retry backoff's jitter draw (retry.ts; default Envoy's uniform random one). */
  retryBackoff?: BackoffDraw;
  /** Waits a retry backoff (Envoy's retry timer); default a real timer. */
  retrySleep?: (ms: number) => Promise<void>;
  /** HCM upgrade_configs: the upgrade types allowed (./upgrade.ts); default none. */
  upgradeConfigs?: readonly string[];
  /** The HCM's http_protocol_options.enable_trailers: trailers written to HTTP/1.1 clients (default false). */
  enableTrailers?: boolean;
}

/**
 * An upgrade request's downstream connection (Node hands it over raw): `open` once the
 * stream tunnels (after a 101); `head`, bytes the client sent after the request head.
 */
export interface DownstreamTunnel {
  socket: Duplex;
  head: Buffer;
  open: boolean;
}

const realSleep = (ms: number) => new Promise<void>((ok) => setTimeout(ok, ms));

/** A response head's grpc-status (Grpc::Common::getGrpcStatus on the headers), null when none. */
function grpcStatusOfHead(res: http.IncomingMessage): number | null {
  const v = res.headers['grpc-status'];
  const t = Array.isArray(v) ? v[0] : v;
  return t !== undefined && /^\d+$/.test(t) ? Number(t) : null;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

// Headers an HTTP/2 response cannot carry (RFC 9113 8.2.2): Envoy's HCM strips the
// hop-by-hop ones from responses (ConnectionManagerUtility::mutateResponseHeaders) and its
// HTTP/2 codec writes none, so a local reply's `connection: close` never reaches an h2 client.
const H2_CONNECTION_SPECIFIC = new Set([...HOP_BY_HOP]);

/**
 * The upstream response's trailers as a map, null when it had none. They travel as
 * HTTP/1.1 chunked trailer fields between the harness and test upstreams (Envoy's
 * HTTP/2 codec carries them as a trailing HEADERS frame; a filter sees the same map).
 */
function trailerMap(res: http.IncomingMessage, cluster: ClusterSpec | null): HeaderMap | null {
  // An HTTP/1.1 response's trailer fields: parsed only with the cluster's enable_trailers
  if (!(res instanceof H2Response) && !cluster?.enableTrailers) return null;
  const raw = res.rawTrailers;
  if (raw.length === 0) return null;
  const m = new HeaderMap('response');
  for (let i = 0; i < raw.length; i += 2) m.add(raw[i].toLowerCase(), raw[i + 1]);
  return m;
}

function readAll(s: NodeJS.ReadableStream): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    s.on('data', (c: Buffer) => parts.push(c));
    s.on('end', () => resolve(Buffer.concat(parts)));
    s.on('error', () => resolve(null));
    s.on('aborted', () => resolve(null));
  });
}

export class HttpStream implements StreamCallbacks {
  readonly info: StreamInfo;
  private readonly ctxs: Array<FilterContext | null> = [];
  private readonly handles: Array<PluginHandle | null>;
  private readonly requestMap: HeaderMap;
  private responseMap: HeaderMap | null = null;
  private responseTrailers: HeaderMap | null = null;
  private local: LocalReply | null = null;
  private localIsDirect = false;
  private encoding = false;
  // FilterManager state non_100_response_headers_encoded_: the response headers passed every
  // filter and went to the codec (the harness writes them later, with the body).
  private headersEncoded = false;
  private resumed = { request: false, response: false };
  private waiter: (() => void) | null = null;
  private idleTimer: NodeJS.Timeout | undefined;
  private cachedRoute: RouteSpec | null | undefined;
  private upstream: UpstreamCall | null = null;
  private downstreamStarted = false;
  private aborted = false;
  private finalized = false;
  private readonly isGrpc: boolean;
  private readonly isHead: boolean;
  // Utility::isUpgrade: the request's Upgrade value, null for a plain request (./upgrade.ts).
  private readonly upgrade: string | null;
  // The upstream side of an open tunnel; upstreamEnded: it closed first (not the client).
  private tunnelUp: Duplex | null = null;
  private upstreamEnded = false;
  // FilterManager::buffered_response_data_ and the filter holding it (StopSingleIteration
  // after a data stop; -1 none); bodyEnded: the last frame was encoded.
  private readonly bodyBuffer: ResponseBodyBuffer;
  private bodyStoppedAt = -1;
  private bodyEnded = false;
  // The downstream codec is HTTP/2 (h2c with prior knowledge; proxy.ts sniffs the preface).
  private readonly h2: boolean;
  /** The cluster of the current try: its protocol options decide what its codec reads. */
  private upstreamCluster: ClusterSpec | null = null;

  constructor(
    private readonly env: StreamEnv,
    handles: Array<PluginHandle | null>,
    private readonly req: http.IncomingMessage,
    private readonly res: http.ServerResponse,
    private readonly tunnel: DownstreamTunnel | null = null,
  ) {
    this.h2 = req.httpVersionMajor === 2;
    const raw: Array<[string, string]> = [];
    for (let i = 0; i < req.rawHeaders.length; i += 2) raw.push([req.rawHeaders[i], req.rawHeaders[i + 1]]);
    this.upgrade = tunnel !== null ? upgradeOf(raw) : null;
    // The chain as this stream found it: a later push or filter change must not change which
    // root contexts it releases (Envoy's stream keeps its filters).
    this.handles = handles.slice();
    this.info = new StreamInfo(env.clock());
    // HTTP/2: the connection's socket (one per connection, as Envoy's connection id)
    const sock = req.socket;
    this.info.connectionId = ((sock as unknown as { __envoyConnId?: number }).__envoyConnId ??= allocConnectionId());
    this.info.downstreamRemote = { ip: sock.remoteAddress ?? '127.0.0.1', port: sock.remotePort ?? 0 };
    this.info.downstreamLocal = { ip: sock.localAddress ?? '127.0.0.1', port: sock.localPort ?? 0 };
    // Http::Utility::getProtocolString: "HTTP/1.1", "HTTP/2"
    this.info.protocol = this.h2 ? 'HTTP/2' : `HTTP/${req.httpVersion}`;
    this.requestMap = this.buildRequestHeaders();
    this.isGrpc = isGrpcContentType(this.requestMap.get('content-type'));
    this.isHead = this.requestMap.get(':method') === 'HEAD';
    // ActiveStreamEncoderFilter::responseDataTooLarge (not streaming): a 500 local reply.
    this.bodyBuffer = new ResponseBodyBuffer(env.bufferLimitBytes ?? DEFAULT_BUFFER_LIMIT, () =>
      this.sendLocalReply(null, 500, 'Internal Server Error', [], null, 'response_payload_too_large'),
    );
    res.on('close', () => {
      if (!res.writableFinished && !this.aborted && !this.upstreamEnded) {
        // The client went away mid-stream (Envoy: downstream reset, flag DC).
        this.info.setResponseFlag(ResponseFlag.DownstreamConnectionTermination);
        this.aborted = true;
        this.upstream?.abort();
        this.wake();
      }
      this.finalize();
    });
    for (const h of this.handles) {
      if (!h) {
        this.ctxs.push(null);
        continue;
      }
      h.root.activeStreams++;
      if (h.vm.failed) {
        // PluginConfig::createContext: failure_policy FAIL_OPEN → filter not added; else a
        // Wasm-less Context that answers 503 (FAIL_RELOAD's reload is not modelled).
        this.ctxs.push(h.plugin.failurePolicy === 'FAIL_OPEN' ? null : new FilterContext(h.vm, 0, h.root, this, true));
      } else {
        const ctx = new FilterContext(h.vm, h.vm.allocContextId(), h.root, this);
        h.vm.contexts.set(ctx.id, ctx);
        this.ctxs.push(ctx);
      }
    }
  }

  /** HTTP/1 codec + ConnectionManagerUtility::mutateRequestHeaders. */
  private buildRequestHeaders(): HeaderMap {
    const m = new HeaderMap('request');
    const raw = this.req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) {
      const k = raw[i].toLowerCase();
      if (k === 'host') m.add(':authority', raw[i + 1]);
      else m.add(k, raw[i + 1]);
    }
    m.setInline(':path', this.req.url ?? '/');
    m.setInline(':method', this.req.method ?? 'GET');
    if (!m.has(':scheme')) m.setInline(':scheme', 'http');
    // An upgrade keeps Connection and Upgrade, forwarded verbatim (mutateRequestHeaders).
    for (const h of ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']) {
      if (this.upgrade !== null && (h === 'connection' || h === 'upgrade')) continue;
      m.remove(h);
    }
    if (!m.has('x-forwarded-proto')) m.add('x-forwarded-proto', 'http');
    mutateRequestId(m, this.env.requestId);
    return m;
  }

  // ---- StreamCallbacks ----
  /**
   * DownstreamFilterManager::sendLocalReply (source/common/http/filter_manager.cc):
   * - no response yet: the reply goes through the filter chain (sendLocalReplyViaFilterChain);
   * - a response (the upstream's, or a local reply such as the router's 503/504) is being
   *   encoded and its headers have not reached the codec: this reply replaces it and goes
   *   straight to the codec (sendDirectLocalReply), no filter sees it;
   * - the headers reached the codec: Envoy can only reset the stream.
   * A second reply while one is pending but not yet encoding (two send_local_response in
   * one callback) is dropped: Envoy has finished the first by then.
   */
  sendLocalReply(_from: FilterContext | null, code: number, body: string, headers: Pair[], grpc: number | null, details: string): void {
    if (this.finalized) return;
    if (this.downstreamStarted || this.headersEncoded) {
      // streamInfo().setResponseCodeDetails(details) comes first, then the reset.
      this.info.responseCodeDetails = details;
      this.resetDownstream();
      return;
    }
    if (this.local && !this.encoding) return;
    this.setLocal(prepareLocalReply(code, body, headers, details, { grpcStatus: grpc, isGrpc: this.isGrpc }));
  }
  continueDecoding(): void {
    this.resumed.request = true;
    this.wake();
  }
  continueEncoding(): void {
    this.resumed.response = true;
    // A filter holding the buffered body continues (commonContinue → doData): the buffer goes
    // on from the next filter, after the VM call that asked for it.
    if (this.bodyStoppedAt >= 0) {
      const at = this.bodyStoppedAt;
      setImmediate(() => {
        if (this.bodyStoppedAt !== at || this.aborted || this.local || this.finalized) return;
        this.bodyStoppedAt = -1;
        if (this.idleTimer) clearTimeout(this.idleTimer);
        this.encodeFrame(at - 1, this.bodyBuffer.buf ?? new BodyBuffer(Buffer.alloc(0), true), this.bodyEnded);
      });
    }
    this.wake();
  }
  isReset(): boolean {
    return this.aborted;
  }
  resetStream(): void {
    this.resetDownstream();
  }
  clearRouteCache(): void {
    this.cachedRoute = undefined;
  }

  private setLocal(r: LocalReply): void {
    this.local = r;
    this.localIsDirect = this.encoding;
    this.info.responseCode = r.status;
    this.info.responseCodeDetails = r.details;
    this.wake();
  }

  private resetDownstream(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.upstream?.abort();
    // HTTP/1 can only close the connection; HTTP/2 resets the stream alone (RST_STREAM with
    // NO_ERROR: http2/codec_impl.cc StreamImpl::resetStream, reasonToReset's default).
    if (this.h2) (this.req as unknown as http2.Http2ServerRequest).stream.close(http2.constants.NGHTTP2_NO_ERROR);
    else this.req.socket.destroy();
    this.wake();
  }

  private wake(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  /** Paused by a filter: wait for continue, a local reply, a reset or the stream idle timeout. */
  private waitResume(kind: 'request' | 'response'): Promise<void> {
    return new Promise((resolve) => {
      if (this.resumed[kind] || this.local || this.aborted) return resolve();
      this.waiter = resolve;
      this.idleTimer = setTimeout(() => {
        this.info.setResponseFlag(ResponseFlag.StreamIdleTimeout);
        const r = RouterReply.streamIdleTimeout();
        this.setLocal(prepareLocalReply(r.status, r.body, [], r.details, { isGrpc: this.isGrpc }));
      }, this.env.streamIdleTimeoutMs);
    });
  }

  /** Route cache (HCM refreshCachedRoute sets route and cluster info on the stream). */
  private route(): RouteSpec | null {
    if (this.cachedRoute === undefined) {
      const r = matchRoute(this.env.routes, this.requestMap) ?? null;
      this.cachedRoute = r;
      this.info.hasRoute = r !== null;
      this.info.routeName = r?.name ?? '';
      this.info.clusterName = r && this.env.clusters.has(r.cluster) ? r.cluster : undefined;
    }
    return this.cachedRoute;
  }

  async run(): Promise<void> {
    try {
      await this.decode();
    } catch (e) {
      this.env.harnessLog({ level: 'critical', message: `harness error: ${(e as Error).stack ?? e}`, vm: -1 });
      if (!this.downstreamStarted && !this.aborted) {
        this.writeResponse(prepareLocalReply(500, `harness error: ${(e as Error).message}`, [], 'harness_error').headers, Buffer.from(`harness error: ${(e as Error).message}`));
      } else {
        this.resetDownstream();
      }
    }
  }

  private hasBody(): boolean {
    // HTTP/2: a request without a body ends its stream on the HEADERS frame (END_STREAM).
    if (this.h2) return !(this.req as unknown as http2.Http2ServerRequest).stream.endAfterHeaders;
    const cl = this.req.headers['content-length'];
    if (cl !== undefined) return cl !== '0';
    return this.req.headers['transfer-encoding'] !== undefined;
  }

  /** Runs a decode-side callback on every filter in order; false when the stream must not go on. */
  private async decodeChain(call: (ctx: FilterContext) => FilterResult): Promise<boolean> {
    for (const ctx of this.ctxs) {
      if (!ctx) continue;
      this.resumed.request = false;
      const r = call(ctx);
      if (this.aborted || this.local) break;
      if (r === 'stop' && !this.resumed.request) {
        await this.waitResume('request');
        if (this.aborted || this.local) break;
      }
    }
    if (this.aborted) return false;
    if (this.local) {
      await this.replyViaFilterChain();
      return false;
    }
    return true;
  }

  private async decode(): Promise<void> {
    const bodyExpected = this.hasBody();
    const routed = this.route();
    // ActiveStream::decodeHeaders: an upgrade the HCM and the route do not allow is a 403
    // before any filter's decodeHeaders, and the connection closes (./upgrade.ts).
    if (this.upgrade !== null && routed !== null && !upgradeAllowed(this.upgrade, this.env.upgradeConfigs ?? [], routed.upgradeConfigs)) {
      this.req.resume();
      this.setLocal(prepareLocalReply(403, '', [['connection', 'close']], UPGRADE_FAILED, { isGrpc: this.isGrpc }));
      await this.replyViaFilterChain();
      return;
    }
    if (!(await this.decodeChain((ctx) => decodeHeaders(ctx, this.requestMap, !bodyExpected)))) return;

    let body: Buffer | null = null;
    if (bodyExpected) {
      body = await readAll(this.req);
      if (body === null || this.aborted) return;
      this.info.bytesReceived = body.length;
      if (this.ctxs.some((c) => c && c.vm.fns.proxy_on_request_body)) {
        const buf = new BodyBuffer(body, true);
        if (!(await this.decodeChain((ctx) => decodeData(ctx, buf, true)))) return;
        body = buf.data;
      }
    } else {
      this.req.resume();
    }

    const route = this.route();
    if (!route) {
      this.info.setResponseFlag(ResponseFlag.NoRouteFound);
      return this.routerReply(RouterReply.noRoute());
    }
    const cluster = this.env.clusters.get(route.cluster);
    if (!cluster) {
      this.info.setResponseFlag(ResponseFlag.NoClusterFound);
      return this.routerReply(RouterReply.noCluster());
    }
    await this.forward(route, cluster, body);
  }

  private async routerReply(r: { status: number; body: string; details: string }): Promise<void> {
    this.setLocal(prepareLocalReply(r.status, r.body, [], r.details, { isGrpc: this.isGrpc }));
    await this.replyViaFilterChain();
  }

  private outgoingHeaders(): http.OutgoingHttpHeaders {
    const out: Record<string, string | string[]> = {};
    const m = this.requestMap;
    for (let i = 0; i < m.keys.length; i++) {
      const k = m.keys[i];
      if (k[0] === ':') continue;
      const prev = out[k];
      out[k] = prev === undefined ? m.values[i] : Array.isArray(prev) ? [...prev, m.values[i]] : [prev, m.values[i]];
    }
    out.host = m.get(':authority') ?? '';
    if (this.env.upstreamTimeoutMs > 0 && out['x-envoy-expected-rq-timeout-ms'] === undefined) {
      out['x-envoy-expected-rq-timeout-ms'] = String(this.env.upstreamTimeoutMs);
    }
    return out;
  }

  private async forward(route: RouteSpec, cluster: ClusterSpec, body: Buffer | null): Promise<void> {
    const clusterName = route.cluster;
    this.info.upstreamHost = { ip: cluster.host, port: cluster.port };
    const started = this.env.clock();
    const headers = this.outgoingHeaders();
    if (body) {
      delete headers['content-length'];
      headers['content-length'] = String(body.length);
    }
    // The router's retry loop (router.cc Filter::onUpstreamHeaders / onUpstreamReset /
    // onPerTryTimeoutCommon, the decisions in ./retry.ts). The route timeout covers every
    // try and backoff (Envoy's global timer starts once); a per_try_timeout shorter than
    // what is left bounds each try, and its expiry is a local reset the policy may retry.
    // A retried try's answer never reaches the filters: they see only the last one.
    const retry = route.retryPolicy ? new RetryState(route.retryPolicy, this.env.retryBackoff) : null;
    const routeMs = this.env.upstreamTimeoutMs;
    const routeStart = Date.now();   // the harness's timers are real-time
    let call: UpstreamCall;
    let o: UpstreamOutcome;
    let perTryTimedOut = false;
    for (;;) {
      const left = routeMs > 0 ? Math.max(1, routeMs - (Date.now() - routeStart)) : 0;
      const perTry = retry?.perTryTimeoutMs;
      const perTryBounds = perTry !== undefined && (left === 0 || perTry < left);
      // Each try picks its host again (Filter::doRetry: a new UpstreamRequest, the
      // cluster's load balancer): observed, then resolved.
      this.env.onUpstreamRequest?.({ upstream: clusterName, headers: { ...(headers as Record<string, string | string[]>) } });
      const host = this.env.clusters.get(clusterName) ?? cluster;
      this.info.upstreamHost = { ip: host.host, port: host.port };
      this.upstreamCluster = host;
      call = sendUpstream({
        h2: host.http2 || (host.useDownstreamProtocol && this.h2) ? this.env.h2Pool : undefined,
        host: host.host,
        port: host.port,
        method: this.requestMap.get(':method') ?? 'GET',
        path: this.requestMap.get(':path') ?? '/',
        headers,
        body,
        // An upgrade never starts the router's response timers: they start at the
        // downstream request's end (router.cc Filter::onRequestComplete), which a tunnel
        // reaches only when it closes.
        timeoutMs: this.upgrade !== null ? 0 : perTryBounds ? perTry : left,
        agent: this.env.agent,
      });
      this.upstream = call;
      o = await call.outcome;
      if (this.aborted) return;
      perTryTimedOut = o.kind === 'timeout' && perTryBounds;
      if (retry === null) break;
      // Filter::onResponseTimeout (the route's own timer) never retries.
      const verdict = o.kind === 'timeout' ? (perTryTimedOut ? retry.shouldRetryReset('local-reset') : 'no')
        : o.kind === 'reset' ? retry.shouldRetryReset(o.flag === ResponseFlag.UpstreamConnectionFailure ? 'connect-failure'
          : o.flag === ResponseFlag.UpstreamRemoteReset ? (o.refusedStream ? 'refused-stream' : 'remote-reset') : 'connection-termination')
        : retry.shouldRetryHeaders(o.res.statusCode ?? 0, grpcStatusOfHead(o.res));
      if (verdict === 'limit-exceeded') this.info.setResponseFlag(ResponseFlag.UpstreamRetryLimitExceeded);
      if (verdict !== 'yes') break;
      if (o.kind === 'response') {
        // the retried response's stream is reset; nothing of it goes downstream
        o.res.resume();
        call.abort();
      }
      await (this.env.retrySleep ?? realSleep)(retry.nextBackoffMs());
      if (this.aborted) return;
    }
    const retried = retry !== null && retry.retries > 0;
    if (o.kind === 'timeout') {
      this.info.setResponseFlag(ResponseFlag.UpstreamRequestTimeout);
      return this.routerReply(perTryTimedOut ? RouterReply.perTryTimeout() : RouterReply.timeout());
    }
    if (o.kind === 'reset') {
      this.info.setResponseFlag(o.flag);
      this.info.upstreamTransportFailureReason = o.transportFailure;
      return this.routerReply(RouterReply.upstreamReset(o.reason, o.transportFailure, retried));
    }
    const res = o.res;
    this.info.upstreamLocal = o.localAddress;
    call.onLateTimeout = () => {
      this.info.setResponseFlag(ResponseFlag.UpstreamRequestTimeout);
      this.resetDownstream();
    };
    const up = o.upgraded ?? null;
    const map = new HeaderMap('response');
    map.add(':status', String(res.statusCode ?? 502));
    const raw = res.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) {
      const k = raw[i].toLowerCase();
      // an upgrade's 101 keeps Connection and Upgrade (mutateResponseHeaders)
      if (!HOP_BY_HOP.has(k) || (up !== null && (k === 'connection' || k === 'upgrade'))) map.add(k, raw[i + 1]);
    }
    map.setInline('x-envoy-upstream-service-time', String(Math.max(0, Math.round(this.env.clock() - started))));
    this.info.responseCode = res.statusCode;
    const status = res.statusCode ?? 0;
    // An HTTP/2 HEADERS frame with END_STREAM (gRPC's trailers-only reply) is headers only.
    const endStream =
      up === null && (this.isHead || status === 204 || status === 304 || res.headers['content-length'] === '0' || (res as unknown as H2Response).endStream === true);

    // encode headers
    this.encoding = true;
    const ok = await this.encodeChain((ctx) => encodeHeaders(ctx, map, endStream));
    if (!ok) {
      call.abort();
      up?.socket.destroy();
      res.resume();
      return;
    }
    this.headersEncoded = true;
    this.responseMap = map;
    if (up !== null) return this.startTunnel(up, call);
    const wantsBody = !endStream && this.ctxs.some((c) => c && c.inVmContextCreated && !c.vm.failed && c.vm.fns.proxy_on_response_body);
    if (wantsBody) return this.encodeBodyFrames(res, call);
    this.encoding = false;
    this.writeHead(map);
    res.on('data', (c: Buffer) => (this.info.bytesSent += c.length));
    res.on('aborted', () => this.lateUpstreamReset(res));
    res.on('error', () => this.lateUpstreamReset(res));
    res.on('end', () => {
      call.complete();
      const trailers = trailerMap(res, this.upstreamCluster);
      if (trailers === null) return this.res.end();
      // The upstream's trailers go through every filter's on_response_trailers, in
      // reverse order, then to the client (FilterManager::encodeTrailers).
      void this.encodeChain((ctx) => encodeTrailers(ctx, trailers)).then((ok) => {
        this.encoding = false;
        if (!ok || this.aborted) return;
        this.sendTrailers(trailers);
        this.res.end();
      });
    });
    res.pipe(this.res, { end: false });
  }

  /**
   * The upstream body frame by frame through the filters' on_response_body (Envoy's HTTP/1
   * codec: ClientConnectionImpl::onBody gives each dispatched chunk as decodeData(data, false),
   * onMessageCompleteBase ends with an empty decodeData(buffer, true), or decodeTrailers when
   * the response has trailers; the router passes each frame to FilterManager::encodeData).
   * The headers went to the codec already (every filter let them pass), so the client sees
   * them at once; frames a filter buffers reach the client when it continues.
   */
  private encodeBodyFrames(res: http.IncomingMessage, call: UpstreamCall): void {
    this.writeHead(this.responseMap!);
    // The codec's write buffer goes to the socket when the connection's write event runs,
    // after the current event (Network::ConnectionImpl::write schedules it, onWriteReady):
    // a body that came in the same read as the head leaves in the same write, and a head
    // whose body is late still leaves at once. setImmediate is that turn here (the body's
    // frames, and its end, are handled on this turn when they are already read). One
    // socket write a response instead of two, each waking the client (test/sim/envoy-body, "writes";
    // issue 15: the harness with the playground's filters, 0.33-0.43 -> 0.26-0.36 ms of CPU
    // a request, its client 0.22-0.26 -> 0.14-0.22).
    setImmediate(() => {
      if (!this.res.headersSent && !this.res.writableEnded && !this.aborted) this.res.flushHeaders();
    });
    let ended = false;
    res.on('data', (c: Buffer) => {
      if (this.aborted || this.local || this.finalized) return;
      this.encodeFrame(this.ctxs.length - 1, new BodyBuffer(c, true), false);
    });
    res.on('aborted', () => this.lateUpstreamReset(res));
    res.on('error', () => this.lateUpstreamReset(res));
    res.on('end', () => {
      if (ended) return;
      ended = true;
      call.complete();
      if (this.aborted || this.local || this.finalized) return;
      const trailers = trailerMap(res, this.upstreamCluster);
      if (trailers === null) {
        this.encodeFrame(this.ctxs.length - 1, new BodyBuffer(Buffer.alloc(0), true), true);
        this.armBodyIdleTimer();
        return;
      }
      void this.encodeBodyTrailers(this.ctxs.length - 1, trailers);
    });
  }

  /**
   * FilterManager::encodeData from filter `from` (a new frame starts at the first encoder
   * filter: commonEncodePrefix), then ActiveStreamFilterBase::commonHandleAfterDataCallback:
   * Continue from the filter holding the buffered body (StopSingleIteration) hands the whole
   * buffer on as the frame (commonContinue → doData); a stop leaves the frame buffered
   * (Buffer / Watermark) or with the filter (NoBuffer) and ends this frame's iteration.
   */
  private encodeFrame(from: number, data: BodyBuffer, eos: boolean): void {
    this.encoding = true;
    for (let i = from; i >= 0; i--) {
      const ctx = this.ctxs[i];
      if (!ctx) continue;
      const r = encodeData(ctx, data, eos, this.bodyBuffer);
      if (this.aborted || this.local) return;
      if (r === 'continue') {
        if (this.bodyStoppedAt === i) {
          this.bodyStoppedAt = -1;
          this.bodyBuffer.move(data);
          const all = this.bodyBuffer.buf!;
          return this.encodeFrame(i - 1, all, eos);
        }
        continue;
      }
      this.bodyStoppedAt = i;
      if (r !== 'nobuffer') {
        this.bodyBuffer.streaming = r === 'watermark';
        this.bodyBuffer.move(data);
      }
      return;
    }
    this.encoding = false;
    // ConnectionManagerImpl::ActiveStream::encodeData → the codec.
    if (data.size > 0 && !this.isHead) {
      this.info.bytesSent += data.size;
      this.writeDown(data.data);
    }
    if (data === this.bodyBuffer.buf) this.bodyBuffer.drain();
    if (eos) this.endDown();
  }

  /** The codec's downstream side: the HTTP response, or an open tunnel's raw connection. */
  private writeDown(b: Buffer): void {
    if (this.tunnel?.open) this.tunnel.socket.write(b);
    else this.res.write(b);
  }
  private endDown(): void {
    if (this.tunnel?.open) this.tunnel.socket.end();
    else this.res.end();
  }

  /**
   * The 101 went through every filter: Envoy's HTTP/1 codec writes its head and the
   * stream becomes a tunnel whose bytes are the stream's body in both directions
   * (FilterManager::encodeData / decodeData per chunk read, as for any body): upstream
   * bytes go through the filters' on_response_body (./response-body.ts buffering
   * included), client bytes through on_request_body. The stream ends, and on_log runs,
   * when the tunnel closes:
   * - the client closing (FIN or reset) is a remote close of a connection the HCM does not
   *   half-close: ConnectionManagerImpl::onEvent resets the stream with
   *   DownstreamConnectionTermination (DC) and the upstream connection goes;
   * - the upstream closing: the harness ends the response (an empty last frame with
   *   end_of_stream) and closes the client's connection after it. Whether Envoy reports
   *   that as the stream's end or as a reset after the response started (UC) was not read;
   *   either way the filters saw the 101 as the response.
   * Not modelled: a filter stopping a tunnel's request data (on_request_body answering
   * anything but Continue: logged, and the stream reset), watermarks, the HCM's
   * stream_idle_timeout on an idle tunnel (Istio sets it to 0: none).
   */
  private startTunnel(up: { socket: Duplex; head: Buffer }, call: UpstreamCall): void {
    const t = this.tunnel;
    if (t === null || this.aborted) {
      up.socket.destroy();
      return this.resetDownstream();
    }
    call.complete();
    t.open = true;
    this.tunnelUp = up.socket;
    this.downstreamStarted = true;
    const map = this.responseMap!;
    const status = Number(map.get(':status'));
    const head = [`HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? 'Unknown'}`];
    for (let i = 0; i < map.keys.length; i++) {
      const k = map.keys[i];
      if (k[0] === ':' || k === 'server') continue;
      head.push(`${k}: ${map.values[i]}`);
    }
    head.push('server: envoy'); // server_header_transformation: OVERWRITE (default)
    t.socket.write(head.join('\r\n') + '\r\n\r\n');
    const last = this.ctxs.length - 1;
    const fromUpstream = (c: Buffer) => {
      if (this.aborted || this.finalized || c.length === 0) return;
      this.encodeFrame(last, new BodyBuffer(c, true), false);
    };
    const filtersReadRequest = this.ctxs.some((c) => c && c.inVmContextCreated && !c.vm.failed && c.vm.fns.proxy_on_request_body);
    const fromClient = (c: Buffer) => {
      if (this.aborted || this.finalized || c.length === 0) return;
      const buf = new BodyBuffer(c, true);
      if (filtersReadRequest) {
        for (const ctx of this.ctxs) {
          if (!ctx) continue;
          if (decodeData(ctx, buf, false) !== 'continue') {
            this.env.harnessLog({ level: 'critical', message: 'harness: a filter stopped an upgraded stream\'s request data; not modelled, the stream is reset', vm: -1 });
            return this.resetDownstream();
          }
          if (this.aborted || this.local) return;
        }
      }
      this.info.bytesReceived += buf.size;
      up.socket.write(buf.data);
    };
    fromUpstream(up.head);
    up.socket.on('data', fromUpstream);
    up.socket.on('end', () => {
      if (this.aborted || this.finalized) return;
      this.upstreamEnded = true;
      this.encodeFrame(last, new BodyBuffer(Buffer.alloc(0), true), true);
    });
    up.socket.on('error', () => this.lateUpstreamReset());
    up.socket.on('close', () => { if (!this.upstreamEnded) this.lateUpstreamReset(); });
    fromClient(t.head);
    t.socket.on('data', fromClient);
    // no half-close downstream: the client's FIN closes the connection (DC, above)
    t.socket.on('end', () => t.socket.destroy());
  }

  /**
   * Trailers after a framed body (FilterManager::encodeTrailers): the filter holding buffered
   * data that continues on the trailers releases it first (commonHandleAfterTrailersCallback
   * → commonContinue: doData, then doTrailers).
   */
  private async encodeBodyTrailers(from: number, trailers: HeaderMap): Promise<void> {
    this.encoding = true;
    for (let i = from; i >= 0; i--) {
      const ctx = this.ctxs[i];
      if (!ctx) continue;
      this.resumed.response = false;
      const r = encodeTrailers(ctx, trailers);
      if (this.aborted || this.local) return;
      if (r === 'stop' && !this.resumed.response) {
        await this.waitResume('response');
        if (this.aborted || this.local) return;
      }
      if (this.bodyStoppedAt === i) {
        this.bodyStoppedAt = -1;
        const buf = this.bodyBuffer.buf;
        if (buf && buf.size > 0) this.encodeFrame(i - 1, buf, false);
        if (this.aborted || this.local || this.bodyStoppedAt >= 0) return;
      }
    }
    this.encoding = false;
    this.sendTrailers(trailers);
    this.res.end();
  }

  /** A body still held after the last frame waits for proxy_continue_stream or the stream idle timeout (reset: the headers are out). */
  private armBodyIdleTimer(): void {
    if (this.bodyStoppedAt < 0 || this.aborted || this.local) return;
    this.bodyEnded = true;
    this.idleTimer = setTimeout(() => {
      this.info.setResponseFlag(ResponseFlag.StreamIdleTimeout);
      this.resetDownstream();
    }, this.env.streamIdleTimeoutMs);
  }

  /**
   * The trailers as the codec writes them: a trailing HEADERS frame on HTTP/2; on HTTP/1.1
   * chunked trailer fields with the listener's enable_trailers, else nothing
   * (http1/codec_impl.cc encodeTrailersBase: endEncode). The filters saw them either way.
   */
  private sendTrailers(trailers: HeaderMap): void {
    this.responseTrailers = trailers;
    if (!this.h2 && !this.env.enableTrailers) return;
    const out: Record<string, string> = {};
    for (let i = 0; i < trailers.keys.length; i++) out[trailers.keys[i]] = trailers.values[i];
    this.res.addTrailers(out);
  }

  private lateUpstreamReset(res?: http.IncomingMessage): void {
    if (this.aborted || this.finalized) return;
    // router.cc onUpstreamReset: the flag from the reset reason (streamResetReasonToResponseFlag),
    // details LateUpstreamReset{reason}. HTTP/1 can only lose its connection (UC); HTTP/2
    // says which (./upstream-h2.ts).
    const r = res instanceof H2Response ? lateResetOf(res) : { reason: 'connection termination', flag: ResponseFlag.UpstreamConnectionTermination };
    this.info.setResponseFlag(r.flag);
    this.info.responseCodeDetails = `upstream_reset_after_response_started{${r.reason.replace(/ /g, '_')}}`;
    this.resetDownstream();
  }

  /** Runs an encode-side callback on every filter in reverse order; false if the response was replaced/reset. */
  private async encodeChain(call: (ctx: FilterContext) => FilterResult): Promise<boolean> {
    this.encoding = true;
    for (let i = this.ctxs.length - 1; i >= 0; i--) {
      const ctx = this.ctxs[i];
      if (!ctx) continue;
      this.resumed.response = false;
      const r = call(ctx);
      if (this.aborted || this.local) break;
      if (r === 'stop' && !this.resumed.response) {
        await this.waitResume('response');
        if (this.aborted || this.local) break;
      }
    }
    if (this.aborted) return false;
    if (this.local) {
      // sendDirectLocalReply: straight to the codec, no more filter callbacks.
      this.encoding = false;
      this.responseMap = this.local.headers;
      this.writeResponse(this.local.headers, Buffer.from(this.isHead ? '' : this.local.body, 'latin1'));
      return false;
    }
    return true;
  }

  /**
   * sendLocalReplyViaFilterChain: the local reply is encoded through every filter in reverse
   * order. Filters whose context was never created (they came after the replying filter) are
   * skipped by encodeHeaders; replies sent meanwhile are ignored (one is under way), and a
   * filter returning Stop here does not hold the reply.
   */
  private async replyViaFilterChain(): Promise<void> {
    const reply = this.local!;
    if (this.localIsDirect) return this.writeDirect(reply);
    const bodyless = reply.body.length === 0 || this.isHead;
    this.encoding = true;
    let ok = this.encodeReplyChain(reply, (ctx) => encodeHeaders(ctx, reply.headers, bodyless));
    // Every filter let the headers pass: Envoy hands them to the codec now.
    if (ok) this.headersEncoded = true;
    let body: Buffer = Buffer.from(reply.body, 'latin1');
    if (ok && !bodyless && this.ctxs.some((c) => c && c.inVmContextCreated && c.vm.fns.proxy_on_response_body)) {
      const buf = new BodyBuffer(body, true);
      ok = this.encodeReplyChain(reply, (ctx) => (encodeData(ctx, buf, true, this.bodyBuffer) === 'continue' ? 'continue' : 'stop'));
      body = buf.data;
      if (reply.headers.has('content-length')) reply.headers.setInline('content-length', String(body.length));
    }
    this.encoding = false;
    // A filter's reply replaced this one while its headers were encoded (sendDirectLocalReply).
    if (this.local !== reply && !this.aborted) return this.writeDirect(this.local!);
    if (!ok) return;
    this.responseMap = reply.headers;
    this.writeResponse(reply.headers, this.isHead ? Buffer.alloc(0) : body);
  }

  /** sendDirectLocalReply: the reply straight to the codec, no filter callbacks. */
  private writeDirect(reply: LocalReply): void {
    this.responseMap = reply.headers;
    this.writeResponse(reply.headers, Buffer.from(this.isHead ? '' : reply.body, 'latin1'));
  }

  /** One callback per filter in reverse order; false once the stream was reset or `reply` replaced. */
  private encodeReplyChain(reply: LocalReply, call: (ctx: FilterContext) => FilterResult): boolean {
    for (let i = this.ctxs.length - 1; i >= 0; i--) {
      const ctx = this.ctxs[i];
      if (!ctx) continue;
      call(ctx);
      // encoder_filter_chain_aborted_: a reply sent here ends this chain.
      if (this.aborted || this.local !== reply) return false;
    }
    return true;
  }

  private writeHead(map: HeaderMap): void {
    if (this.downstreamStarted || this.aborted) return;
    this.downstreamStarted = true;
    const res = this.res;
    const status = Number(map.get(':status'));
    res.statusCode = Number.isInteger(status) && status >= 100 && status <= 999 ? status : 502;
    const grouped = new Map<string, string[]>();
    for (let i = 0; i < map.keys.length; i++) {
      const k = map.keys[i];
      if (k[0] === ':') continue;
      const g = grouped.get(k);
      if (g) g.push(map.values[i]);
      else grouped.set(k, [map.values[i]]);
    }
    for (const [k, v] of grouped) {
      if (this.h2 && H2_CONNECTION_SPECIFIC.has(k)) continue;
      try {
        res.setHeader(k, v.length === 1 ? v[0] : v);
      } catch {
        // Node refuses header names/values Envoy would pass through; drop them.
      }
    }
    res.setHeader('server', 'envoy'); // server_header_transformation: OVERWRITE (default)
  }

  private writeResponse(map: HeaderMap, body: Buffer, trailers: HeaderMap | null = null): void {
    if (this.downstreamStarted || this.aborted) return;
    this.writeHead(map);
    this.info.bytesSent = body.length;
    if (trailers !== null) {
      // Trailers need a chunked body on HTTP/1.1: no content-length then.
      this.res.removeHeader('content-length');
      this.res.write(body);
      this.sendTrailers(trailers);
      this.res.end();
      return;
    }
    // No body: HTTP/2 ends the stream on the HEADERS frame (a gRPC local reply is
    // trailers-only), where an empty write would send an empty DATA frame after them.
    if (body.length === 0) this.res.end();
    else this.res.end(body);
  }

  /** End of stream: on_log for every filter, then on_done/on_delete (Envoy's deferred stream destroy). */
  private finalize(): void {
    if (this.finalized) return;
    this.finalized = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.upstream?.abort();
    this.tunnelUp?.destroy();
    this.info.requestCompleteMs = this.env.clock() - this.info.startTimeMs;
    for (const ctx of this.ctxs) if (ctx) log(ctx, this.requestMap, this.responseMap, this.responseTrailers);
    // Access loggers run as the stream is destroyed, after the filters' on_log
    // (filter_manager.cc FilterManager::log): %REQ(...)% reads the request header map
    // as the filters left it (what a rejected request's variant header shows).
    if (this.env.onAccessLog) {
      const requestHeaders: Record<string, string> = {};
      for (const k of this.requestMap.uniqueKeys()) requestHeaders[k] = this.requestMap.get(k)!;
      this.env.onAccessLog({ requestHeaders });
    }
    for (const ctx of this.ctxs) if (ctx) destroy(ctx);
    for (const h of this.handles) if (h) this.env.releaseRoot(h.root, h.vm);
  }
}
