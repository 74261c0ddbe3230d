// nginx's codec choice on a plain listener with HTTP/2 on (Kong: a `proxy_listen` entry with
// the `http2` flag; templates/nginx_kong.lua then writes `http2 on;` in the proxy server).
// nginx 1.25 (ngx_http_request.c ngx_http_wait_request_handler) compares what was read with
// NGX_HTTP_V2_PREFACE ("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"): the whole preface starts HTTP/2
// (ngx_http_v2_init), a prefix of it waits for more bytes, anything else is an HTTP/1.x
// request. So HTTP/1.1 keeps working on an http2 port (since 1.25.1, the `http2` directive);
// `Upgrade: h2c` is not honoured. Without the flag every connection is HTTP/1.x.

import type { Socket } from 'node:net';
import { dispatchByPreface, H2_PREFACE, type PrefaceVerdict } from '../common/h2c-preface.js';

export function nginxPrefaceVerdict(soFar: Buffer): PrefaceVerdict {
  const n = Math.min(soFar.length, H2_PREFACE.length);
  if (soFar.subarray(0, n).toString('latin1') !== H2_PREFACE.slice(0, n)) return 'h1';
  return n === H2_PREFACE.length ? 'h2' : 'more';
}

export function dispatchNginx(socket: Socket, onH2: (s: Socket) => void, onH1: (s: Socket) => void): void {
  dispatchByPreface(socket, nginxPrefaceVerdict, onH2, onH1);
}
