// One try of `location @grpc` (templates/nginx_kong.lua: grpc_pass grpc://kong_upstream):
// nginx's grpc module speaks cleartext HTTP/2 to the peer (ngx_http_grpc_module.c), with the
// headers of ngx_http_grpc_headers and Kong's grpc_set_header list: TE $upstream_te ("trailers"
// when the client's TE names trailers: runloop/handler.lua access.after), Via, X-Forwarded-*,
// X-Real-IP, X-Kong-Request-Id, the client's other headers; Host, Connection, Keep-Alive,
// Transfer-Encoding, Upgrade and Expect are not sent, and :authority is the target's
// host[:port] (balancer set_host_header → resty.kong.grpc set_authority). Failure classes as
// for proxy_pass (./proxy.ts attempt): refused, or the stream reset before the response head
// ("upstream rejected request with error N"), 502; connect or read timeout, 504.
// A fresh connection per try (nginx's keepalive pool for grpc_pass is not modelled); the response
// is read by the HTTP/2 plumbing the Envoy simulator uses too (../common/h2-stream.ts).

import http2 from 'node:http2';
import type http from 'node:http';
import { h2RequestHeaders, readH2Response } from '../common/h2-stream';
import { upstreamRequestHeaders, type AttemptOptions, type AttemptResult } from './proxy';
import { upstreamUriFor } from './serialize';

export function attemptGrpc(o: AttemptOptions): Promise<AttemptResult> {
  return new Promise((resolve) => {
    let settled = false;
    let connected = false;
    let sent = false;
    const session = http2.connect(`http://${o.target.host}:${o.target.port}`);
    let readTimer: NodeJS.Timeout | undefined;
    const finish = (r: AttemptResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(connectTimer);
      resolve(r);
    };
    const fail = (code: 502 | 504, reason: string) => {
      finish({ kind: 'failed', code, sent, reason, cached: false });
      session.destroy();
    };
    // the session ends with the response (or the failure)
    session.on('error', (e: NodeJS.ErrnoException) => { if (!settled) fail(502, e.code ?? e.message); });
    const connectTimer = setTimeout(() => fail(504, 'upstream timed out (connect)'), o.connectTimeoutMs);
    session.once('connect', () => {
      connected = true;
      clearTimeout(connectTimer);
    });
    const raw = upstreamRequestHeaders(o.req, o.target, o.body);
    const flat: http.OutgoingHttpHeaders = {};
    let authority = `${o.target.host}:${o.target.port}`;
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const k = raw[i].toLowerCase();
      if (k === 'host') { authority = raw[i + 1]; continue; }
      if (k === 'te') continue; // set below, once
      const prev = flat[k];
      flat[k] = prev === undefined ? raw[i + 1] : Array.isArray(prev) ? [...prev, raw[i + 1]] : [String(prev), raw[i + 1]];
    }
    if (o.req.upstreamTe) flat.te = o.req.upstreamTe; // grpc_set_header TE $upstream_te
    const headers = h2RequestHeaders(o.req.method, upstreamUriFor(o.req), authority, flat);
    const s = session.request(headers, { endStream: o.body.length === 0 });
    s.on('error', () => {}); // the close below classifies it
    // grpc_read_timeout / grpc_send_timeout: idle time between two operations
    const armRead = () => {
      clearTimeout(readTimer);
      readTimer = setTimeout(() => {
        if (!settled) fail(504, 'upstream timed out (read)');
        else s.close(http2.constants.NGHTTP2_CANCEL);
      }, o.readTimeoutMs);
    };
    armRead();
    s.on('data', armRead);
    const res = readH2Response(s, session, (r) => {
      finish({ kind: 'response', res: r as unknown as http.IncomingMessage });
    }, (code) => {
      clearTimeout(readTimer);
      if (!settled && connected) fail(502, `upstream rejected request with error ${code}`);
    });
    const done = () => {
      clearTimeout(readTimer);
      session.close();
    };
    res.on('end', done);
    res.on('aborted', done);
    s.on('finish', () => {
      sent = true;
      o.onSent?.();
    });
    if (o.body.length > 0) s.end(o.body);
  });
}
