// WebSocket pieces the harness tests share: an upstream that answers handshakes with a
// 101 and echoes every byte, a client handshake that tells an upgrade from a plain
// answer, and an echo round trip over an open tunnel.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';

/**
 * An upstream that accepts WebSocket handshakes with a 101 (after `beforeHead`), echoes
 * every byte it receives, remembers every request's headers, and answers a plain request
 * 200 "plain".
 */
export async function wsUpstream(beforeHead: () => Promise<void> = async () => {}) {
  const seen: http.IncomingHttpHeaders[] = [];
  const sockets: Duplex[] = [];
  const server = http.createServer((req, res) => {
    seen.push(req.headers);
    req.resume();
    res.writeHead(200, { 'content-type': 'text/plain' }).end('plain');
  });
  server.on('upgrade', async (req: http.IncomingMessage, socket: Duplex) => {
    seen.push(req.headers);
    sockets.push(socket);
    await beforeHead();
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n');
    socket.on('data', (d) => socket.write(d));
    socket.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    sockets,
    close: () => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.closeAllConnections(); server.close(() => r()); }),
  };
}

export type Reply = { kind: 'upgrade'; status: number; headers: http.IncomingHttpHeaders; socket: Duplex } | { kind: 'response'; status: number; headers: http.IncomingHttpHeaders; body: string };

/** A GET /chat with these headers: the 101 and its socket, or the plain answer and its body. */
export function handshake(port: number, headers: Record<string, string>): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/chat', agent: false, headers });
    req.on('upgrade', (res, socket) => resolve({ kind: 'upgrade', status: res.statusCode ?? 0, headers: res.headers, socket }));
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ kind: 'response', status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Writes `text` into the tunnel and resolves with what came back, once as long. */
export function echoOf(socket: Duplex, text: string): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    const on = (d: Buffer) => {
      got += d.toString('utf8');
      if (got.length >= text.length) { socket.off('data', on); resolve(got); }
    };
    socket.on('data', on);
    socket.write(text);
  });
}
