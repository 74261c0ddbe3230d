// A gateway's HTTP/2 request to an upstream (Envoy's router to an h2 cluster, nginx's
// grpc_pass under Kong): the request HEADERS built from HTTP/1-style headers, and the
// response read back as an http.IncomingMessage look-alike (statusCode, headers, rawHeaders,
// rawTrailers, a readable body) so each gateway's response code is the same for HTTP/1 and
// HTTP/2. How a failure is named (reset reasons, flags, nginx's 502/504) stays with each
// gateway (sim/envoy/upstream-h2.ts, sim/kong/grpc-upstream.ts).

import http2 from 'node:http2';
import { PassThrough } from 'node:stream';
import type http from 'node:http';

// Connection-specific headers HTTP/2 forbids (RFC 9113 8.2.2): neither Envoy's HTTP/2 codec
// nor nginx's grpc module sends them (host becomes :authority). te only as "trailers".
const H2_FORBIDDEN = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host']);

/** How an HTTP/2 response was cut after its head. */
export type H2Cut = 'stream-reset' | 'connection-lost';

/** An HTTP/2 response as the gateways' code reads an HTTP/1 one. */
export class H2Response extends PassThrough {
  statusCode = 0;
  headers: http.IncomingHttpHeaders = {};
  rawHeaders: string[] = [];
  trailers: Record<string, string> = {};
  rawTrailers: string[] = [];
  /** END_STREAM on the response HEADERS frame: headers only (gRPC trailers-only). */
  endStream = false;
  /** Why the response was cut after its head (set before 'aborted'). */
  cut: H2Cut | undefined;
}

/** The request HEADERS: pseudo-headers first, then the headers HTTP/2 allows. */
export function h2RequestHeaders(method: string, path: string, authority: string, headers: http.OutgoingHttpHeaders): http2.OutgoingHttpHeaders {
  const out: http2.OutgoingHttpHeaders = { ':method': method, ':path': path, ':scheme': 'http', ':authority': authority };
  for (const [k, v] of Object.entries(headers)) {
    const lk = k.toLowerCase();
    if (v === undefined || H2_FORBIDDEN.has(lk)) continue;
    if (lk === 'te' && String(v).toLowerCase() !== 'trailers') continue;
    out[lk] = v;
  }
  return out;
}

/**
 * Reads a client stream's response into an H2Response: `onHead` once the HEADERS arrived;
 * `onClosedBeforeHead` with the RST_STREAM code when the stream closed without them. After
 * the head, the body and trailers flow into the response, which ends at END_STREAM or is
 * cut ('aborted', `cut` says how: an RST_STREAM, or the connection gone).
 */
export function readH2Response(
  s: http2.ClientHttp2Stream,
  session: http2.ClientHttp2Session,
  onHead: (res: H2Response) => void,
  onClosedBeforeHead: (rstCode: number) => void,
): H2Response {
  const res = new H2Response();
  let head = false;
  s.on('response', (h, flags) => {
    head = true;
    res.statusCode = Number(h[':status']);
    res.endStream = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0;
    for (const [k, v] of Object.entries(h)) {
      if (k[0] === ':') continue;
      for (const one of Array.isArray(v) ? v : [v]) res.rawHeaders.push(k, String(one));
      res.headers[k] = v as string | string[];
    }
    onHead(res);
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
    const code = s.rstCode ?? http2.constants.NGHTTP2_NO_ERROR;
    if (!head) return onClosedBeforeHead(code);
    if (res.writableEnded) return;
    if (code === http2.constants.NGHTTP2_NO_ERROR && !session.destroyed) return void res.end();
    res.cut = session.destroyed || session.closed ? 'connection-lost' : 'stream-reset';
    res.emit('aborted');
  });
  return res;
}
