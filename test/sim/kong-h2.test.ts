// HTTP/2 in the Kong harness (issue 18). What Kong 3.9.3 on OpenResty 1.25.3 (nginx 1.25.3)
// does, and what the harness must do the same:
// - a proxy_listen entry with the `http2` flag makes templates/nginx_kong.lua write
//   `http2 on;` in the proxy server; on a plain port nginx then starts HTTP/2 when a
//   connection opens with the whole client preface and serves anything else as HTTP/1.x
//   (ngx_http_request.c ngx_http_wait_request_handler), so HTTP/1.1 keeps working there;
// - an h2 request's :authority is a `host` header (ngx_http_v2.c ngx_http_v2_parse_authority);
//   Kong's inbound Via names the client's version, "2 kong/3.9.3" (runloop/handler.lua
//   access.after: protocol_version .. " " .. SERVER_HEADER);
// - a Service with protocol grpc is proxied by `location @grpc` (handler.lua access.after:
//   exec("@grpc"); nginx_kong.lua grpc_pass): HTTP/2 upstream with :authority host:port
//   (balancer set_host_header → set_authority), te: trailers, the response's trailers passed
//   on (ngx_http_grpc_module.c: pass_trailers), a trailers-only reply one HEADERS frame with
//   END_STREAM and content-length 0 (content_length_n = 0; ngx_http_v2_filter_module.c:
//   fin when content_length_n == 0); the response Via "2 kong/3.9.3" (header_filter);
// - a route with protocols [grpc] answers an HTTP/1.1 gRPC call 426 "Please use HTTP2
//   protocol" and a non-gRPC request 415 (handler.lua access.before);
// - Kong's own errors to a gRPC call over HTTP/2 are gRPC-shaped: error_handlers.lua passes
//   {message=...} to kong.response.exit, whose send() (pdk/response.lua) sees an h2 gRPC
//   request: grpc-status from the HTTP status (502 → 13, 504 → 4), the message as
//   grpc-message, content-length 0;
// - the plugins' log phase sees response headers (a trailers-only grpc-status), never trailers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import http2 from 'node:http2';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { startKong, type KongGateway, type KongPluginSpec } from '../../sim/kong/index';
import { answerGrpc, h2call } from '../support/h2-client';
import { closedPort } from '../support/closed-port';

const FIXTURES = path.resolve(__dirname, '../fixtures/kong');
const router = (): KongPluginSpec => ({ name: 'router', dir: path.join(FIXTURES, 'router'), config: {} });
const routerLogs = (gw: KongGateway) => gw.logs().filter((l) => l.source === 'plugin' && l.plugin === 'router' && l.level === 'notice').map((l) => JSON.parse(l.message));

const GRPC = { 'content-type': 'application/grpc', te: 'trailers' };

// An HTTP/1.1 upstream that says what it saw, and a gRPC server over h2c.
let plain: http.Server;
let plainPort = 0;
const plainSeen: http.IncomingHttpHeaders[] = [];
let grpc: http2.Http2Server;
let grpcPort = 0;
const grpcSeen: http2.IncomingHttpHeaders[] = [];

beforeAll(async () => {
  plain = http.createServer((req, res) => {
    plainSeen.push(req.headers);
    req.resume();
    res.end('plain');
  });
  await new Promise<void>((r) => plain.listen(0, '127.0.0.1', () => r()));
  plainPort = (plain.address() as AddressInfo).port;
  grpc = http2.createServer();
  grpc.on('stream', (stream: http2.ServerHttp2Stream, headers) => {
    grpcSeen.push(headers);
    stream.on('error', () => {});
    stream.resume();
    if (headers[':path'] === '/hang') return;
    answerGrpc(stream, headers[':path']);
  });
  await new Promise<void>((r) => grpc.listen(0, '127.0.0.1', () => r()));
  grpcPort = (grpc.address() as AddressInfo).port;
});

afterAll(async () => {
  plain.closeAllConnections();
  await new Promise<void>((r) => plain.close(() => r()));
  await new Promise<void>((r) => grpc.close(() => r()));
});

describe('Kong harness: a proxy_listen with the http2 flag', () => {
  let gw: KongGateway;
  beforeAll(async () => {
    gw = await startKong({ plugins: [router()], upstreams: { a: { host: '127.0.0.1', port: plainPort } }, defaultUpstream: 'a', http2: true });
  });
  afterAll(async () => { await gw?.close(); });

  it('takes h2c with prior knowledge: the request goes upstream over HTTP/1.1 with Via "2 kong", :authority as Host for the plugins', async () => {
    gw.clearLogs();
    plainSeen.length = 0;
    const a = await h2call(gw.port, '/x', { 'x-who': 'h2' }, null);
    expect(a.headers[':status']).toBe(200);
    expect(a.body.toString()).toBe('plain');
    expect(a.headers.via).toBe('1.1 kong/3.9.3');
    expect(a.headers['x-kong-request-id']).toMatch(/^[0-9a-f]{32}$/);
    expect(plainSeen).toHaveLength(1);
    expect(plainSeen[0].via).toBe('2 kong/3.9.3');
    expect(plainSeen[0].host).toBe(`127.0.0.1:${plainPort}`);
    expect(plainSeen[0]['x-who']).toBe('h2');
    await gw.logDone();
    const s = routerLogs(gw)[0].serialized;
    expect(s.request.headers.host).toBe(`127.0.0.1:${gw.port}`);
    expect(s.request.headers[':path']).toBeUndefined();
  });

  it('HTTP/1.1 keeps working on the same port (nginx >= 1.25.1 sniffs the preface)', async () => {
    plainSeen.length = 0;
    const r = await fetch(`${gw.url}/y`);
    expect(r.status).toBe(200);
    expect(await r.text()).toBe('plain');
    expect(plainSeen[0].via).toBe('1.1 kong/3.9.3');
  });
});

describe('Kong harness: a Service with protocol grpc (location @grpc, grpc_pass)', () => {
  let gw: KongGateway;
  beforeAll(async () => {
    gw = await startKong({
      plugins: [router()], upstreams: { g: { host: '127.0.0.1', port: grpcPort } }, defaultUpstream: 'g',
      http2: true, serviceProtocol: 'grpc', upstreamTimeoutMs: 300, retries: 0,
    });
  });
  afterAll(async () => { await gw?.close(); });

  it('proxies over HTTP/2 and passes the trailers on; the log phase sees the headers only', async () => {
    gw.clearLogs();
    grpcSeen.length = 0;
    const a = await h2call(gw.port, '/shop.Cart/Add', GRPC);
    expect(a.headers[':status']).toBe(200);
    expect(a.headersEndStream).toBe(false);
    expect(a.body.length).toBe(6);
    expect(a.trailers?.['grpc-status']).toBe('13');
    expect(a.headers.via).toBe('2 kong/3.9.3');
    expect(grpcSeen).toHaveLength(1);
    expect(grpcSeen[0][':authority']).toBe(`127.0.0.1:${grpcPort}`);
    expect(grpcSeen[0].te).toBe('trailers');
    expect(grpcSeen[0].via).toBe('2 kong/3.9.3');
    await gw.logDone();
    const s = routerLogs(gw)[0].serialized;
    expect(s.response.status).toBe(200);
    expect(s.response.headers['grpc-status']).toBeUndefined();
  });

  it('a trailers-only reply is one HEADERS frame with END_STREAM and content-length 0; its grpc-status is in the log phase', async () => {
    gw.clearLogs();
    const a = await h2call(gw.port, '/trailers-only', GRPC);
    expect(a.headers['grpc-status']).toBe('5');
    expect(a.headers['content-length']).toBe('0');
    expect(a.headersEndStream).toBe(true);
    expect(a.trailers).toBeNull();
    await gw.logDone();
    expect(routerLogs(gw)[0].serialized.response.headers['grpc-status']).toBe('5');
  });

  it("Kong's own errors to a gRPC call over h2: 502 with grpc-status 13, 504 with grpc-status 4, the message as grpc-message", async () => {
    const a = await h2call(gw.port, '/hang', GRPC);
    expect(a.headers[':status']).toBe(504);
    expect(a.headers['grpc-status']).toBe('4');
    expect(a.headers['grpc-message']).toBe('The upstream server is timing out');
    expect(a.headers['content-length']).toBe('0');
    expect(a.body.length).toBe(0);
    const deadPort = await closedPort();
    const gw2 = await startKong({ plugins: [], upstreams: { g: { host: '127.0.0.1', port: deadPort } }, defaultUpstream: 'g', http2: true, serviceProtocol: 'grpc', retries: 0 });
    try {
      const b = await h2call(gw2.port, '/x', GRPC);
      expect(b.headers[':status']).toBe(502);
      expect(b.headers['grpc-status']).toBe('13');
      expect(b.headers['grpc-message']).toBe('An invalid response was received from the upstream server');
      expect(b.headers['content-type']).toBeUndefined();
    } finally {
      await gw2.close();
    }
  });
});

describe('Kong harness: a route with protocols [grpc] (handler.lua access.before)', () => {
  let gw: KongGateway;
  beforeAll(async () => {
    gw = await startKong({
      plugins: [router()], upstreams: { g: { host: '127.0.0.1', port: grpcPort } }, defaultUpstream: 'g',
      http2: true, serviceProtocol: 'grpc', routeProtocols: ['grpc'],
    });
  });
  afterAll(async () => { await gw?.close(); });

  it('an HTTP/1.1 gRPC call: 426 "Please use HTTP2 protocol", upgrade: HTTP/2', async () => {
    const r = await fetch(`${gw.url}/shop.Cart/Add`, { method: 'POST', headers: { 'content-type': 'application/grpc' }, body: new Uint8Array(5) });
    expect(r.status).toBe(426);
    expect(r.headers.get('upgrade')).toBe('HTTP/2');
    expect((await r.json()).message).toBe('Please use HTTP2 protocol');
  });

  it('a non-gRPC request over h2: 415 "Non-gRPC request matched gRPC route"', async () => {
    const a = await h2call(gw.port, '/x', { 'content-type': 'text/plain' });
    expect(a.headers[':status']).toBe(415);
    expect(JSON.parse(a.body.toString()).message).toBe('Non-gRPC request matched gRPC route');
  });

  it('a gRPC call over h2 is proxied', async () => {
    const a = await h2call(gw.port, '/trailers-only', GRPC);
    expect(a.headers['grpc-status']).toBe('5');
  });
});

describe('Kong harness: a gRPC route on a grpc Service next to the HTTP one (grpcRoute)', () => {
  // What a Kong serving both on one upstream has: the HTTP Service and route, and a grpc
  // Service whose route (protocols grpc, grpcs; headers content-type ~*^application/grpc)
  // outranks the other for gRPC calls.
  let gw: KongGateway;
  let both: http.Server;
  beforeAll(async () => {
    // one upstream port taking HTTP/1.1 and h2c (the gRPC server above answers h2 only)
    const { dispatchByPreface } = await import('../../sim/envoy/h2c-listener.js');
    const net = await import('node:net');
    const h1 = http.createServer((req, res) => { req.resume(); res.end('plain'); });
    both = net.createServer((s) => dispatchByPreface(s, (x) => grpc.emit('connection', x), (x) => h1.emit('connection', x))) as unknown as http.Server;
    await new Promise<void>((r) => both.listen(0, '127.0.0.1', () => r()));
    gw = await startKong({
      plugins: [router()], upstreams: { a: { host: '127.0.0.1', port: (both.address() as AddressInfo).port } }, defaultUpstream: 'a',
      http2: true, grpcRoute: true,
    });
  });
  afterAll(async () => {
    await gw?.close();
    await new Promise<void>((r) => both.close(() => r()));
  });

  it('a gRPC call takes the grpc Service (h2 upstream, trailers kept); other requests the HTTP one', async () => {
    gw.clearLogs();
    const a = await h2call(gw.port, '/shop.Cart/Add', GRPC);
    expect(a.trailers?.['grpc-status']).toBe('13');
    expect(a.headers.via).toBe('2 kong/3.9.3');
    const r = await fetch(`${gw.url}/x`);
    expect(await r.text()).toBe('plain');
    expect(r.headers.get('via')).toBe('1.1 kong/3.9.3');
    await gw.logDone();
    const logs = routerLogs(gw);
    expect(logs.map((l) => l.serialized.service.protocol)).toEqual(['grpc', 'http']);
    expect(logs[0].serialized.route.protocols).toEqual(['grpc', 'grpcs']);
  });
});

describe('Kong harness: TE and trailers on the HTTP path (handler.lua access.after, header_filter)', () => {
  // $upstream_te is "trailers" when the client's TE names trailers, and proxy_set_header TE
  // sends it; without it Kong removes the upstream's Trailer response header. nginx's
  // HTTP/1.1 proxying drops the upstream's trailer fields (only grpc_pass passes them).
  let gw: KongGateway;
  let up: http.Server;
  const seen: http.IncomingHttpHeaders[] = [];
  beforeAll(async () => {
    up = http.createServer((req, res) => {
      seen.push(req.headers);
      req.resume();
      res.writeHead(200, { trailer: 'x-checksum', 'content-type': 'text/plain' });
      res.write('body');
      res.addTrailers({ 'x-checksum': 'abc' });
      res.end();
    });
    await new Promise<void>((r) => up.listen(0, '127.0.0.1', () => r()));
    gw = await startKong({ plugins: [], upstreams: { a: { host: '127.0.0.1', port: (up.address() as AddressInfo).port } }, defaultUpstream: 'a', http2: true });
  });
  afterAll(async () => {
    await gw?.close();
    up.closeAllConnections();
    await new Promise<void>((r) => up.close(() => r()));
  });

  it('TE: trailers goes upstream only when the client asked; Trailer is removed otherwise', async () => {
    seen.length = 0;
    const asked = await h2call(gw.port, '/t', { te: 'trailers' }, null);
    expect(seen[0].te).toBe('trailers');
    expect(asked.headers.trailer).toBe('x-checksum');
    expect(asked.trailers).toBeNull(); // proxy_pass drops them
    expect(asked.body.toString()).toBe('body');
    const plain = await h2call(gw.port, '/t', {}, null);
    expect(seen[1].te).toBeUndefined();
    expect(plain.headers.trailer).toBeUndefined();
  });
});

describe('Kong harness: the client preface in pieces (ngx_http_wait_request_handler)', () => {
  // nginx waits while what came so far is a prefix of the 24-byte preface (Envoy looks at
  // the first read only): a preface split across two reads still starts HTTP/2.
  it('a preface whose first read is 10 bytes is still HTTP/2', async () => {
    const net = await import('node:net');
    const gw = await startKong({ plugins: [], upstreams: { a: { host: '127.0.0.1', port: plainPort } }, defaultUpstream: 'a', http2: true });
    // a relay that hands the client's first 10 bytes on, then the rest 50 ms later
    const relay = net.createServer((c) => {
      const k = net.connect(gw.port, '127.0.0.1');
      let first = true;
      c.on('data', (d: Buffer) => {
        if (!first) return void k.write(d);
        first = false;
        k.write(d.subarray(0, 10));
        c.pause();
        setTimeout(() => { k.write(d.subarray(10)); c.resume(); }, 50);
      });
      k.on('data', (d) => c.write(d));
      c.on('error', () => k.destroy());
      k.on('error', () => c.destroy());
      c.on('close', () => k.destroy());
      k.on('close', () => c.destroy());
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', () => r()));
    try {
      const a = await h2call((relay.address() as AddressInfo).port, '/split', {}, null);
      expect(a.headers[':status']).toBe(200);
      expect(a.body.toString()).toBe('plain');
    } finally {
      relay.close();
      await gw.close();
    }
  });
});
