// The client side of HTTP/2 under Kong: nginx's plain listener with `http2 on` (a proxy_listen
// entry with the `http2` flag, templates/nginx_kong.lua), HTTP/1.1 and h2c on one port
// (./h2c-listener.ts), and what an h2 request looks like to Kong's phases.
// Not modelled: TLS/ALPN (Kong's default 8443 listener), flow control and SETTINGS as nginx
// sets them, GOAWAY, RFC 8441 extended CONNECT (nginx has none: WebSockets stay HTTP/1.1),
// HTTP/2's own header limits (http2 max_field_size/large_client_header_buffers apply to the
// HPACK-decoded fields; edge.ts's HTTP/1 buffers do not apply to h2). None of them changes
// what a plugin is handed: the request's headers, the response head, the log phase's view.

import http from 'node:http';
import http2 from 'node:http2';
import net, { type AddressInfo, type Socket } from 'node:net';
import { HeaderList } from './headers';
import { dispatchNginx } from './h2c-listener';

/**
 * An h2 request's headers as nginx keeps them (ngx_http_v2.c): the pseudo-headers are not
 * headers, but :authority is pushed as a `host` header where it came
 * (ngx_http_v2_parse_authority); names are lowercase on the wire.
 */
export function headersFromH2(rawHeaders: string[]): HeaderList {
  const pairs: Array<[string, string]> = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const k = rawHeaders[i];
    if (k === ':authority') pairs.push(['host', rawHeaders[i + 1]]);
    else if (k[0] !== ':') pairs.push([k, rawHeaders[i + 1]]);
  }
  return new HeaderList(pairs);
}

export type RequestHandler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/**
 * The proxy port with HTTP/2 on: one TCP listener; each connection goes to the HTTP/1
 * server or to an HTTP/2 server (Node's compatibility request/response, the same handler).
 */
export class H2Listener {
  private readonly tcp: net.Server;
  private readonly h2server: http2.Http2Server;
  private readonly sockets = new Set<Socket>();

  constructor(h1: http.Server, onRequest: RequestHandler, onConnection: (s: Socket) => void) {
    this.h2server = http2.createServer({ maxHeaderListPairs: 1 << 16 });
    this.h2server.on('session', (session) => session.on('error', () => session.destroy()));
    this.h2server.on('request', (req, res) => onRequest(req as unknown as http.IncomingMessage, res as unknown as http.ServerResponse));
    this.tcp = net.createServer((socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      onConnection(socket);
      dispatchNginx(socket, (s) => this.h2server.emit('connection', s), (s) => h1.emit('connection', s));
    });
  }

  listen(port: number, backlog: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.tcp.once('error', reject);
      this.tcp.listen({ port, host: '127.0.0.1', backlog }, () => {
        this.tcp.off('error', reject);
        resolve((this.tcp.address() as AddressInfo).port);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.tcp.close(() => resolve());
      for (const s of this.sockets) s.destroy();
    });
  }
}
