// Direct, in-process driving of ONE filter on one HTTP stream, without sockets — for unit
// tests and for benchmarks (host overhead is a header-map build, the Wasm calls and the
// result array). Semantics are the gateway's (filter-lifecycle.ts):
// - a local reply sent from on_request_headers is encoded back through this filter's
//   on_response_headers/on_response_body (Envoy's sendLocalReplyViaFilterChain), and
//   `localReply` holds what the client would receive;
// - a local reply sent while encoding the response (the upstream's, or the filter's own local
//   reply) replaces it without further filter callbacks (FilterManager::sendLocalReply →
//   sendDirectLocalReply: the headers have not reached the codec yet);
// - done() runs on_log (final maps), then on_done and on_delete.

import { BodyBuffer, FilterContext, type RootContext, type StreamCallbacks } from './context.js';
import { decodeData, decodeHeaders, destroy, encodeData, encodeHeaders, log } from './filter-lifecycle.js';
import { HeaderMap } from './header-map.js';
import { prepareLocalReply, type LocalReply } from './local-reply.js';
import type { Pair } from './pairs.js';
import { StreamInfo, allocConnectionId, parseAddress } from './stream-info.js';
import { DEFAULT_BUFFER_LIMIT, ResponseBodyBuffer } from './response-body.js';
import type { WasmHost } from './host.js';

export interface LocalReplyResult {
  status: number;
  body: string;
  headers: Pair[];
  details: string;
}

export interface HeadersResult {
  action: 'continue' | 'stop';
  headers: Pair[];
  localReply?: LocalReplyResult;
}

export interface BodyResult {
  action: 'continue' | 'stop';
  body: Buffer;
  localReply?: LocalReplyResult;
}

export interface Stream {
  /** Pairs as a client sent them, or a map the codec built (HeaderMap.encoded; cloned per stream). */
  requestHeaders(pairs: Pair[] | HeaderMap, endOfStream: boolean): HeadersResult;
  requestBody(body: string | Uint8Array, endOfStream: boolean): BodyResult;
  responseHeaders(pairs: Pair[] | HeaderMap, endOfStream: boolean): HeadersResult;
  responseBody(body: string | Uint8Array, endOfStream: boolean): BodyResult;
  /** on_log, on_done, on_delete */
  done(): void;
  readonly info: StreamInfo;
  /** Times a filter's request-header mutation cleared the route cache. */
  readonly routeCacheClears: number;
  /** proxy_continue_stream seen for the request / response. */
  readonly resumed: { request: boolean; response: boolean };
  /** proxy_close_stream / reset: Envoy would reset the downstream stream. */
  readonly reset: boolean;
}

/** Applies newStream(props): known stream-info facts by property path, anything else as filter state. */
export function applyProps(info: StreamInfo, props: Record<string, string> | undefined): void {
  if (!props) return;
  for (const [k, v] of Object.entries(props)) {
    switch (k) {
      case 'source.address':
        info.downstreamRemote = parseAddress(v);
        break;
      case 'destination.address':
        info.downstreamLocal = parseAddress(v);
        break;
      case 'upstream.address':
        info.upstreamHost = parseAddress(v);
        break;
      case 'connection.id':
      case 'connection_id':
        info.connectionId = Number(v);
        break;
      case 'request.protocol':
        info.protocol = v;
        break;
      case 'request.time':
        info.startTimeMs = Number(v);
        break;
      case 'response.code':
        info.responseCode = Number(v);
        break;
      case 'response.code_details':
        info.responseCodeDetails = v;
        break;
      case 'response.flags':
        info.responseFlags = Number(v);
        break;
      case 'xds.cluster_name':
        info.clusterName = v;
        break;
      case 'xds.route_name':
        info.routeName = v;
        info.hasRoute = true;
        break;
      case 'connection.requested_server_name':
        info.requestedServerName = v;
        break;
      default:
        info.filterState.set(`wasm.${k}`, Buffer.from(v, 'utf8'));
    }
  }
}

function toBuffer(b: string | Uint8Array): Buffer {
  return typeof b === 'string' ? Buffer.from(b, 'latin1') : Buffer.from(b);
}

function replyResult(r: LocalReply): LocalReplyResult {
  const pairs = r.headers.pairs();
  const status = Number(r.headers.get(':status') ?? r.status);
  return { status, body: r.body, headers: pairs.filter(([k]) => k[0] !== ':'), details: r.details };
}

export class DirectStream implements Stream, StreamCallbacks {
  readonly info: StreamInfo;
  readonly ctx: FilterContext | null;
  routeCacheClears = 0;
  resumed = { request: false, response: false };
  reset = false;
  private local: LocalReply | null = null;
  private localFromResponse = false;
  private requestMap: HeaderMap | null = null;
  private responseMap: HeaderMap | null = null;
  private encoding = false;
  private finished = false;
  private readonly root: RootContext;
  // The stream's buffered response body (response-body.ts) and whether the filter holds it.
  private readonly bodyBuffer: ResponseBodyBuffer;
  private bodyStopped = false;

  constructor(
    private readonly host: WasmHost,
    props?: Record<string, string>,
  ) {
    this.info = new StreamInfo(host.clock());
    this.info.connectionId = allocConnectionId();
    applyProps(this.info, props);
    const vm = host.vm;
    const root = host.root;
    this.root = root;
    this.bodyBuffer = new ResponseBodyBuffer(DEFAULT_BUFFER_LIMIT, () =>
      this.sendLocalReply(null, 500, 'Internal Server Error', [], null, 'response_payload_too_large'),
    );
    root.activeStreams++;
    if (vm.failed) {
      // PluginConfig::createContext: failure_policy FAIL_OPEN skips the filter; else a Wasm-less
      // Context that answers 503.
      this.ctx = host.plugin.failurePolicy === 'FAIL_OPEN' ? null : new FilterContext(vm, 0, root, this, true);
    } else {
      this.ctx = new FilterContext(vm, vm.allocContextId(), root, this);
      vm.contexts.set(this.ctx.id, this.ctx);
    }
  }

  // ---- StreamCallbacks (what the filter can do to the stream) ----
  sendLocalReply(_from: FilterContext | null, code: number, body: string, headers: Pair[], grpc: number | null, details: string): void {
    if (this.finished) return;
    // While a reply is encoded through the filter, a new one replaces it (sendDirectLocalReply);
    // otherwise the first reply wins and later ones find the stream answered.
    if (this.local && !this.encoding) return;
    this.local = prepareLocalReply(code, body, headers, details, { grpcStatus: grpc });
    this.localFromResponse = this.encoding;
    this.info.responseCode = this.local.status;
    this.info.responseCodeDetails = details;
  }
  continueDecoding(): void {
    this.resumed.request = true;
  }
  continueEncoding(): void {
    this.resumed.response = true;
  }
  resetStream(): void {
    this.reset = true;
  }
  clearRouteCache(): void {
    this.routeCacheClears++;
  }

  /** Read through a method: callbacks set it during Wasm calls, which TS narrowing cannot see. */
  private pendingReply(): LocalReply | null {
    return this.local;
  }

  private finishLocalReplyThroughFilter(): LocalReplyResult {
    const r = this.local!;
    if (this.ctx && !this.localFromResponse) {
      // sendLocalReplyViaFilterChain: the reply passes through the encoder side of the filter.
      this.encoding = true;
      const bodyless = r.body.length === 0;
      encodeHeaders(this.ctx, r.headers, bodyless);
      const replaced = this.pendingReply();
      if (replaced !== r) {
        // sendDirectLocalReply: the filter's reply replaced this one, straight to the codec.
        this.encoding = false;
        this.localFromResponse = true;
        this.responseMap = replaced!.headers;
        this.info.responseCode = Number(replaced!.headers.get(':status') ?? replaced!.status);
        return replyResult(replaced!);
      }
      if (!bodyless) {
        const b = new BodyBuffer(Buffer.from(r.body, 'latin1'), true);
        encodeData(this.ctx, b, true, this.bodyBuffer);
        r.body = b.data.toString('latin1');
      }
      this.encoding = false;
    }
    this.responseMap = r.headers;
    this.info.responseCode = Number(r.headers.get(':status') ?? r.status);
    return replyResult(r);
  }

  requestHeaders(pairs: Pair[] | HeaderMap, endOfStream: boolean): HeadersResult {
    const map = pairs instanceof HeaderMap ? pairs.clone() : HeaderMap.fromPairs(pairs, 'request');
    this.requestMap = map;
    if (!this.ctx || this.local) return { action: 'continue', headers: map.pairs() };
    const r = decodeHeaders(this.ctx, map, endOfStream);
    if (this.pendingReply()) return { action: 'stop', headers: map.pairs(), localReply: this.finishLocalReplyThroughFilter() };
    return { action: r === 'continue' || this.resumed.request ? 'continue' : 'stop', headers: map.pairs() };
  }

  requestBody(body: string | Uint8Array, endOfStream: boolean): BodyResult {
    const buf = new BodyBuffer(toBuffer(body), true);
    this.info.bytesReceived += buf.size;
    if (endOfStream) this.info.requestCompleteMs = this.host.clock() - this.info.startTimeMs;
    if (!this.ctx || this.local) return { action: 'continue', body: buf.data };
    const r = decodeData(this.ctx, buf, endOfStream);
    if (this.pendingReply()) return { action: 'stop', body: buf.data, localReply: this.finishLocalReplyThroughFilter() };
    return { action: r === 'continue' || this.resumed.request ? 'continue' : 'stop', body: buf.data };
  }

  responseHeaders(pairs: Pair[] | HeaderMap, endOfStream: boolean): HeadersResult {
    const map = pairs instanceof HeaderMap ? pairs.clone() : HeaderMap.fromPairs(pairs, 'response');
    this.responseMap = map;
    const status = map.get(':status');
    if (status !== undefined && this.info.responseCode === undefined) this.info.responseCode = Number(status);
    if (!this.ctx || this.local) return { action: 'continue', headers: map.pairs() };
    this.encoding = true;
    const r = encodeHeaders(this.ctx, map, endOfStream);
    this.encoding = false;
    const reply = this.pendingReply();
    if (reply) {
      // sendDirectLocalReply: replaces the response, no more filter callbacks.
      this.responseMap = reply.headers;
      return { action: 'stop', headers: map.pairs(), localReply: replyResult(reply) };
    }
    return { action: r === 'continue' || this.resumed.response ? 'continue' : 'stop', headers: map.pairs() };
  }

  /**
   * One data frame of the response (FilterManager::encodeData with this one filter): a frame
   * the filter stops on is buffered (Buffer / Watermark) and `body` is empty; a later
   * Continue releases the whole buffer as `body` (commonHandleAfterDataCallback).
   */
  responseBody(body: string | Uint8Array, endOfStream: boolean): BodyResult {
    const buf = new BodyBuffer(toBuffer(body), true);
    if (!this.ctx || this.local) return { action: 'continue', body: buf.data };
    this.encoding = true;
    const r = encodeData(this.ctx, buf, endOfStream, this.bodyBuffer);
    this.encoding = false;
    let out = buf.data;
    if (r === 'continue' && this.bodyStopped) {
      this.bodyStopped = false;
      this.bodyBuffer.move(buf);
      out = this.bodyBuffer.buf!.data;
      this.bodyBuffer.drain();
    } else if (r !== 'continue') {
      this.bodyStopped = true;
      if (r !== 'nobuffer') {
        this.bodyBuffer.streaming = r === 'watermark';
        this.bodyBuffer.move(buf);
      }
      out = Buffer.alloc(0);
    }
    this.info.bytesSent += out.length;
    const reply = this.pendingReply();
    if (reply) {
      this.responseMap = reply.headers;
      return { action: 'stop', body: out, localReply: replyResult(reply) };
    }
    return { action: r === 'continue' || this.resumed.response ? 'continue' : 'stop', body: out };
  }

  done(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.info.requestCompleteMs === undefined) this.info.requestCompleteMs = this.host.clock() - this.info.startTimeMs;
    if (this.ctx) {
      log(this.ctx, this.requestMap, this.responseMap, null);
      destroy(this.ctx);
    }
    this.host.releaseStream(this.root);
  }
}
