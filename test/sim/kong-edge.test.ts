// What nginx under Kong refuses before any plugin runs (sim/kong/edge.ts): header
// buffers (client_header_buffer_size 1k, large_client_header_buffers 4 x 8k) and URIs
// ngx_http_parse_complex_uri rejects, answered by Kong's error handler.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { startKong, type KongGateway } from '../../sim/kong/index';

const FIXTURES = path.resolve(__dirname, '../fixtures/kong');
let gw: KongGateway;
let up: http.Server;
const seen: Array<{ url: string; echo: unknown }> = [];

beforeAll(async () => {
  up = http.createServer({ maxHeaderSize: 1 << 20 }, (req, res) => {
    seen.push({ url: req.url ?? '', echo: req.headers['x-echo'] });
    res.end('ok');
  });
  await new Promise<void>((r) => up.listen(0, '127.0.0.1', () => r()));
  gw = await startKong({
    plugins: [{ name: 'echo', dir: path.join(FIXTURES, 'echo'), config: {} }],
    upstreams: { a: { host: '127.0.0.1', port: (up.address() as AddressInfo).port } },
    defaultUpstream: 'a',
  });
}, 60_000);

afterAll(async () => {
  await gw?.close();
  up.closeAllConnections();
  await new Promise<void>((r) => up.close(() => r()));
});

function send(target: string, headers: Array<[string, string]> = []): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: gw.port, path: target, agent: false, headers: [['Host', 'x'], ['Accept', 'text/plain'], ...headers].flat() as unknown as http.OutgoingHttpHeaders }, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const line = (name: string, bytes: number): [string, string] => [name, 'a'.repeat(bytes)];

describe('header buffers (ngx_http_alloc_large_header_buffer, Kong 3.9 defaults)', () => {
  it('passes 20 KB of headers in lines under 8 KB (above Node\'s 16 KB default); the plugin runs', async () => {
    seen.length = 0;
    const r = await send('/', [line('x-a', 7000), line('x-b', 7000), line('x-c', 6000)]);
    expect(r.status).toBe(200);
    expect(seen).toEqual([{ url: '/', echo: 'echo' }]);
  });

  it('a header line above 8 KB, or more lines than 4 large buffers hold: 400 "Request header or cookie too large"', async () => {
    seen.length = 0;
    const long = await send('/', [line('x-a', 8200)]);
    const many = await send('/', [line('x-a', 7000), line('x-b', 7000), line('x-c', 7000), line('x-d', 7000), line('x-e', 7000)]);
    for (const r of [long, many]) {
      expect(r.status).toBe(400);
      expect(r.body).toMatch(/^Request header or cookie too large\nrequest_id: [0-9a-f]{32}\n$/);
    }
    expect(seen).toHaveLength(0);
    expect(gw.logs('info').some((l) => l.message.startsWith('client sent too long header line'))).toBe(true);
  });

  it('a request line above 8 KB: 414 "URI too long"', async () => {
    const r = await send('/' + 'p'.repeat(8200));
    expect([r.status, r.body.split('\n')[0]]).toEqual([414, 'URI too long']);
  });
});

describe('URIs nginx rejects (ngx_http_parse_complex_uri)', () => {
  it("'..' above the root (escaped dots and slashes count) and an escaped NUL: 400 \"Bad request\"; others pass raw", async () => {
    seen.length = 0;
    for (const p of ['/../admin', '/a/%2e%2e/..', '/a%2F..%2F..', '/x%00']) {
      const r = await send(p);
      expect([p, r.status, r.body.split('\n')[0]]).toEqual([p, 400, 'Bad request']);
    }
    expect(seen).toHaveLength(0);
    for (const p of ['/a/../admin', '//admin', '/%61dmin', '/admin%2F..']) expect((await send(p)).status, p).toBe(200);
    expect(seen.map((s) => s.echo)).toEqual(['echo', 'echo', 'echo', 'echo']);
  });
});
