// The router's upstream request to a cluster that speaks HTTP/2 (a cluster with
// `http2_protocol_options`, or `typed_extension_protocol_options` HttpProtocolOptions
// `explicit_http_config.http2_protocol_options`: what gRPC clusters have; Istio writes it for
// ports named grpc*/http2*). Cleartext h2 with prior knowledge, one connection per host
// (Envoy's HTTP/2 connection pool multiplexes streams on one connection:
// source/common/http/http2/conn_pool.cc), a stream per try.
// What differs from HTTP/1 (./upstream.ts), read in source/common/http/http2/codec_impl.cc
// and source/common/router/router.cc:
// - the response head is a HEADERS frame; END_STREAM on it is a headers-only (gRPC
//   trailers-only) response: the filters' on_response_headers get end_of_stream=true and no
//   body or trailers follow (ConnectionImpl::onFrameReceived → decodeHeaders(.., true));
// - trailers are a trailing HEADERS frame (decodeTrailers);
// - RST_STREAM before the response head is reset reason "remote reset"
//   (StreamResetReason::RemoteReset), or "remote refused stream reset" for REFUSED_STREAM
//   (RemoteRefusedStreamReset), flag UR (router.cc streamResetReasonToResponseFlag;
//   http/utility.cc resetReasonToString);
//   after it, the same reason (onUpstreamReset maps it with streamResetReasonToResponseFlag
//   whether or not the response started: UR, details upstream_reset_after_response_started
//   {remote_reset}), while the connection going mid-response is "connection termination",
//   UC (H2Response.lateReset, read by http-stream.ts lateUpstreamReset);
// - a refused connection is the same "remote connection failure" / UF as for HTTP/1.
// The response is handed on as an http.IncomingMessage look-alike (statusCode, headers,
// rawHeaders, rawTrailers, a readable body), so the stream code is the same for both.

import http2 from 'node:http2';
import { PassThrough } from 'node:stream';
import type http from 'node:http';
import { ResponseFlag } from './abi-status.js';
import type { UpstreamCall, UpstreamOutcome, UpstreamRequest } from './upstream.js';
import { CallTimer } from '../common/call-timer.js';

const STRERROR: Record<string, string> = {
  ECONNREFUSED: 'Connection refused',
  EHOSTUNREACH: 'No route to host',
  ENETUNREACH: 'Network is unreachable',
  ETIMEDOUT: 'Connection timed out',
};

// Connection-specific headers HTTP/2 forbids (RFC 9113 8.2.2); Envoy's HTTP/2 codec never
// sends them (the HCM removed the hop-by-hop ones; `host` became :authority). te is kept
// only as "trailers".
const H2_FORBIDDEN = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host']);

/** An HTTP/2 response as the stream code reads an HTTP/1 one. */
export class H2Response extends PassThrough {
  statusCode = 0;
  headers: http.IncomingHttpHeaders = {};
  rawHeaders: string[] = [];
  trailers: Record<string, string> = {};
  rawTrailers: string[] = [];
  /** END_STREAM on the response HEADERS frame: headers only (gRPC trailers-only). */
  endStream = false;
  /** Why the response was cut after its head (set before 'aborted'). */
  lateReset: LateReset | undefined;
}

/** An upstream reset after the response head: the reason as resetReasonToString writes it, and its flag. */
export interface LateReset {
  reason: string;
  flag: number;
}

/** One HTTP/2 connection per upstream host, as Envoy's HTTP/2 pool keeps (reconnects when gone). */
export class H2Pool {
  private readonly sessions = new Map<string, http2.ClientHttp2Session>();

  session(host: string, port: number): http2.ClientHttp2Session {
    const key = `${host}:${port}`;
    const s = this.sessions.get(key);
    if (s && !s.closed && !s.destroyed) return s;
    const n = http2.connect(`http://${key}`);
    // errors reach the streams on it; an unhandled session error must not crash the harness
    n.on('error', () => {});
    n.on('close', () => { if (this.sessions.get(key) === n) this.sessions.delete(key); });
    this.sessions.set(key, n);
    return n;
  }

  close(): void {
    for (const s of this.sessions.values()) s.destroy();
    this.sessions.clear();
  }
}

export function sendUpstreamH2(r: UpstreamRequest, pool: H2Pool): UpstreamCall {
  let stream: http2.ClientHttp2Stream | null = null;
  let t!: CallTimer<UpstreamOutcome>;
  const call: UpstreamCall = {
    outcome: undefined as unknown as Promise<UpstreamOutcome>,
    abort: () => {
      t.stop();
      // Envoy resets the upstream stream (RST_STREAM), the connection stays
      if (stream && !stream.destroyed) stream.close(http2.constants.NGHTTP2_CANCEL);
    },
    complete: () => t.stop(),
  };
  call.outcome = new Promise<UpstreamOutcome>((resolve) => {
    t = new CallTimer(resolve);
    const settle = (o: UpstreamOutcome) => t.settle(o, o.kind === 'response');
    const session = pool.session(r.host, r.port);
    let connected = !session.connecting;
    if (!connected) session.once('connect', () => (connected = true));
    const headers: http2.OutgoingHttpHeaders = {
      ':method': r.method,
      ':path': r.path,
      ':scheme': 'http',
      ':authority': String(r.headers.host ?? `${r.host}:${r.port}`),
    };
    for (const [k, v] of Object.entries(r.headers)) {
      if (v === undefined || H2_FORBIDDEN.has(k)) continue;
      if (k === 'te' && String(v).toLowerCase() !== 'trailers') continue;
      headers[k] = v;
    }
    // A stream pending on a connection that failed is cancelled with the connect error as its cause.
    const connectFailure = (err: NodeJS.ErrnoException) => {
      const cause = (err.code ?? '') in STRERROR ? err : ((err.cause as NodeJS.ErrnoException | undefined) ?? err);
      settle({
        kind: 'reset',
        reason: 'remote connection failure',
        transportFailure: `delayed connect error: ${STRERROR[cause.code ?? ''] ?? cause.message}`,
        flag: ResponseFlag.UpstreamConnectionFailure,
      });
    };
    const onSessionError = (err: NodeJS.ErrnoException) => { if (!connected) connectFailure(err); };
    session.once('error', onSessionError);
    let s: http2.ClientHttp2Stream;
    try {
      s = session.request(headers, { endStream: r.body === null || r.body.length === 0 });
    } catch (e) {
      connectFailure(e as NodeJS.ErrnoException);
      return;
    }
    stream = s;
    const res = new H2Response();
    s.on('response', (h, flags) => {
      session.removeListener('error', onSessionError);
      res.statusCode = Number(h[':status']);
      res.endStream = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0;
      for (const [k, v] of Object.entries(h)) {
        if (k[0] === ':') continue;
        for (const one of Array.isArray(v) ? v : [v]) {
          res.rawHeaders.push(k, String(one));
        }
        res.headers[k] = v as string | string[];
      }
      const sock = session.socket;
      settle({ kind: 'response', res: res as unknown as http.IncomingMessage,
        localAddress: sock?.localAddress ? { ip: sock.localAddress, port: sock.localPort ?? 0 } : undefined });
    });
    s.on('trailers', (t) => {
      for (const [k, v] of Object.entries(t)) {
        for (const one of Array.isArray(v) ? v : [v]) res.rawTrailers.push(k, String(one));
        res.trailers[k] = Array.isArray(v) ? v.join(', ') : String(v);
      }
    });
    s.on('data', (c: Buffer) => res.write(c));
    // Node's stream ends its readable side for a reset too: whether the response completed
    // is known at 'close' only (END_STREAM: rstCode NO_ERROR on a live connection).
    s.on('close', () => {
      session.removeListener('error', onSessionError);
      const code = s.rstCode ?? http2.constants.NGHTTP2_NO_ERROR;
      if (!t.settled) {
        if (!connected) return; // the session's error settles it
        // RST_STREAM (or the connection going) before the response head: the codec's
        // onStreamClose makes REFUSED_STREAM RemoteRefusedStreamReset ("remote refused stream
        // reset", what retry_on refused-stream retries), any other code RemoteReset; both UR.
        const refused = code === http2.constants.NGHTTP2_REFUSED_STREAM;
        settle({ kind: 'reset', reason: refused ? 'remote refused stream reset' : 'remote reset', transportFailure: '',
          flag: ResponseFlag.UpstreamRemoteReset, refusedStream: refused });
        return;
      }
      if (res.writableEnded) return;
      if (code === http2.constants.NGHTTP2_NO_ERROR && !session.destroyed) return void res.end();
      // After the response head: an RST_STREAM is RemoteReset ("remote reset", UR); the
      // connection going (ConnectionImpl::onUnderlyingConnectionClosed resets every stream
      // with ConnectionTermination) is "connection termination", UC.
      res.lateReset = session.destroyed || session.closed
        ? { reason: 'connection termination', flag: ResponseFlag.UpstreamConnectionTermination }
        : { reason: 'remote reset', flag: ResponseFlag.UpstreamRemoteReset };
      res.emit('aborted');
    });
    s.on('error', (err: NodeJS.ErrnoException) => {
      if (!connected) connectFailure(err);
    });
    t.arm(r.timeoutMs, (late) => {
      if (!late) settle({ kind: 'timeout' });
      s.close(http2.constants.NGHTTP2_CANCEL);
      if (late) call.onLateTimeout?.();
    });
    if (r.body !== null && r.body.length > 0) s.end(r.body);
  });
  return call;
}
