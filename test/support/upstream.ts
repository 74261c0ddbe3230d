// A loopback HTTP upstream for the harness tests: listening on an ephemeral port of
// 127.0.0.1; close() ends its open connections (keep-alive ones from a gateway's pool
// too) and waits for the server to close.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TestUpstream {
  server: http.Server;
  port: number;
  close(): Promise<void>;
}

export async function listenUpstream(handler: http.RequestListener): Promise<TestUpstream> {
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}
