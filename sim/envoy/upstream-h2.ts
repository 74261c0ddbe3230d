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
//   UC (lateResetOf, read by http-stream.ts lateUpstreamReset);
// - a refused connection is the same "remote connection failure" / UF as for HTTP/1.
// The request HEADERS and the response read back as an http.IncomingMessage look-alike are
// ../common/h2-stream.ts (shared with Kong's grpc_pass), so the stream code is the same for both.

import http2 from 'node:http2';
import type http from 'node:http';
import { H2Response, h2RequestHeaders, readH2Response } from '../common/h2-stream.js';
import { ResponseFlag } from './abi-status.js';
import type { UpstreamCall, UpstreamOutcome, UpstreamRequest } from './upstream.js';
import { CallTimer } from '../common/call-timer.js';

const STRERROR: Record<string, string> = {
  ECONNREFUSED: 'Connection refused',
  EHOSTUNREACH: 'No route to host',
  ENETUNREACH: 'Network is unreachable',
  ETIMEDOUT: 'Connection timed out',
};

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

export { H2Response };

/** An upstream reset after the response head, as router.cc onUpstreamReset names it: the reason (resetReasonToString) and its flag. */
export function lateResetOf(res: H2Response): { reason: string; flag: number } {
  return res.cut === 'stream-reset'
    ? { reason: 'remote reset', flag: ResponseFlag.UpstreamRemoteReset }
    : { reason: 'connection termination', flag: ResponseFlag.UpstreamConnectionTermination };
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
    const headers = h2RequestHeaders(r.method, r.path, String(r.headers.host ?? `${r.host}:${r.port}`), r.headers);
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
    readH2Response(s, session, (res) => {
      session.removeListener('error', onSessionError);
      const sock = session.socket;
      settle({ kind: 'response', res: res as unknown as http.IncomingMessage,
        localAddress: sock?.localAddress ? { ip: sock.localAddress, port: sock.localPort ?? 0 } : undefined });
    }, (code) => {
      session.removeListener('error', onSessionError);
      if (t.settled || !connected) return; // settled by a timeout; the session's error settles a failed connect
      // RST_STREAM (or the connection going) before the response head: the codec's
      // onStreamClose makes REFUSED_STREAM RemoteRefusedStreamReset ("remote refused stream
      // reset", what retry_on refused-stream retries), any other code RemoteReset; both UR.
      const refused = code === http2.constants.NGHTTP2_REFUSED_STREAM;
      settle({ kind: 'reset', reason: refused ? 'remote refused stream reset' : 'remote reset', transportFailure: '',
        flag: ResponseFlag.UpstreamRemoteReset, refusedStream: refused });
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
