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
  upstream = http.createServer({ maxHeaderSize: 1 << 20 }, (req, res) => {
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

describe(':path normalization (conn_manager_utility.cc maybeNormalizePath; Istio meshConfig.pathNormalization)', () => {
  const PATHS = ['/a/../admin', '//admin', '/%61dmin', '/admin%2F..', '/a/b/%2E%2E/c?x=/../y', '/a/..\\c', '/a/%2f%2F/c', '/x/"q"'];

  it('BASE (Istio default): RFC 3986 dot segments, unreserved escapes decoded, other escapes kept, no slash merging', async () => {
    const gw = await gateway({ pathNormalization: 'BASE' });
    try {
      seen.length = 0;
      for (const p of PATHS) await raw(gw.port, p);
      expect(seen.map((s) => s.url)).toEqual(['/admin', '//admin', '/admin', '/admin%2F..', '/a/c?x=/../y', '/c', '/a/%2f%2F/c', '/x/%22q%22']);
    } finally {
      await gw.close();
    }
  });

  it('MERGE_SLASHES and DECODE_AND_MERGE_SLASHES; NONE (Envoy default) passes the path as sent', async () => {
    const merge = await gateway({ pathNormalization: 'MERGE_SLASHES' });
    const decode = await gateway({ pathNormalization: 'DECODE_AND_MERGE_SLASHES' });
    const none = await gateway();
    try {
      seen.length = 0;
      for (const p of PATHS.slice(0, 4)) await raw(merge.port, p);
      for (const p of PATHS.slice(0, 4)) await raw(decode.port, p);
      for (const p of PATHS.slice(0, 4)) await raw(none.port, p);
      expect(seen.map((s) => s.url)).toEqual([
        '/admin', '/admin', '/admin', '/admin%2F..',
        '/admin', '/admin', '/admin', '/',
        ...PATHS.slice(0, 4),
      ]);
    } finally {
      await merge.close();
      await decode.close();
      await none.close();
    }
  });

  it('rejects a path it cannot normalize (an escaped NUL, a fragment) with 400 before any filter', async () => {
    const gw = await gateway({ pathNormalization: 'BASE' });
    try {
      seen.length = 0;
      const nul = await raw(gw.port, '/xyz/.%00../abc');
      const frag = await raw(gw.port, '/a#b');
      expect([nul.status, nul.body, frag.status]).toEqual([400, '', 400]);
      expect(seen).toHaveLength(0);
    } finally {
      await gw.close();
    }
  });
});

describe('header limits (http1 codec_impl.cc / balsa_parser.cc: max_request_headers_kb 60, max_headers_count 100)', () => {
  const big = (bytes: number): Array<[string, string]> => [['x-big', 'a'.repeat(bytes)]];

  it('passes a 20 KB head (above Node\'s 16 KB default), refuses one above 60 KB with 431', async () => {
    const gw = await gateway();
    try {
      seen.length = 0;
      const ok = await raw(gw.port, '/', big(20 * 1024));
      const tooBig = await raw(gw.port, '/', big(61 * 1024));
      expect(ok.status).toBe(200);
      expect([tooBig.status, tooBig.body, tooBig.headers['content-type']]).toEqual([431, 'Request Header Fields Too Large', 'text/plain']);
      expect(seen).toHaveLength(1);
    } finally {
      await gw.close();
    }
  });

  it('refuses more than 100 header fields with 431; honours configured limits', async () => {
    const gw = await gateway({ headerLimits: { maxRequestHeadersKb: 8, maxHeadersCount: 10 } });
    const dflt = await gateway();
    try {
      const many = (n: number) => Array.from({ length: n }, (_, i) => [`x-h${i}`, 'v'] as [string, string]);
      expect((await raw(dflt.port, '/', many(98))).status).toBe(200);          // + host, connection: 100
      expect((await raw(dflt.port, '/', many(99))).status).toBe(431);
      expect((await raw(gw.port, '/', many(9))).status).toBe(431);
      expect((await raw(gw.port, '/', big(9 * 1024))).status).toBe(431);
      expect((await raw(gw.port, '/', big(7 * 1024))).status).toBe(200);
    } finally {
      await gw.close();
      await dflt.close();
    }
  });
});
