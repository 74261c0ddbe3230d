// What Envoy's HTTP connection manager does to a request before any filter sees it, as
// the Envoy harness models it (sim/envoy/request-id.ts, path-normalization.ts,
// header-limits.ts): x-request-id at the edge, :path normalization, header limits.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startEnvoy, type EnvoyGateway, type EnvoyOptions } from '../../sim/envoy/index.js';

interface Seen { url: string; headers: http.IncomingHttpHeaders }

let upstream: http.Server;
let port = 0;
const seen: Seen[] = [];

beforeAll(async () => {
  upstream = http.createServer((req, res) => {
    seen.push({ url: req.url ?? '', headers: req.headers });
    res.end('ok');
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
  port = (upstream.address() as AddressInfo).port;
});

afterAll(async () => {
  upstream.closeAllConnections();
  await new Promise<void>((r) => upstream.close(() => r()));
});

async function gateway(o: Partial<EnvoyOptions> = {}): Promise<EnvoyGateway> {
  return startEnvoy({ filters: [], clusters: { up: { host: '127.0.0.1', port } }, routes: [{ cluster: 'up' }], ...o });
}

// A raw HTTP/1.1 request (paths and header lines exactly as written).
function raw(gwPort: number, target: string, headers: Array<[string, string]> = []): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: gwPort, path: target, agent: false, headers: [['host', 'x'], ...headers].flat() as unknown as http.OutgoingHttpHeaders }, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('x-request-id (conn_manager_utility.cc mutateRequestHeaders / mutateXRequestIdHeader)', () => {
  it('keeps the client id when not an edge (sidecar: use_remote_address false), adds one when absent', async () => {
    const gw = await gateway();
    try {
      seen.length = 0;
      await raw(gw.port, '/', [['x-request-id', 'client-id']]);
      await raw(gw.port, '/');
      expect(seen[0].headers['x-request-id']).toBe('client-id');
      expect(seen[1].headers['x-request-id']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    } finally {
      await gw.close();
    }
  });

  it('replaces the client id at an edge (use_remote_address, no internal addresses), unless preserve_external_request_id', async () => {
    let n = 0;
    const uuid = () => `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`;
    const edge = await gateway({ useRemoteAddress: true, uuid });
    const kept = await gateway({ useRemoteAddress: true, preserveExternalRequestId: true, uuid });
    try {
      seen.length = 0;
      await raw(edge.port, '/', [['x-request-id', 'client-id']]);
      await raw(kept.port, '/', [['x-request-id', 'client-id']]);
      await raw(kept.port, '/');
      expect(seen.map((s) => s.headers['x-request-id'])).toEqual([
        '00000000-0000-4000-8000-000000000001',
        'client-id',
        '00000000-0000-4000-8000-000000000002',
      ]);
    } finally {
      await edge.close();
      await kept.close();
    }
  });
});
