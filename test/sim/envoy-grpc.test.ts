// gRPC in the Envoy harness: response trailers through the filter chain (on_response_trailers,
// the access log's trailers map in on_log) and to the client, trailers-only replies, and the
// router's own gRPC-shaped local replies for a dead upstream.
// Sources: Envoy source/common/http/filter_manager.cc (encodeTrailers),
// source/extensions/common/wasm/context.cc (Context::encodeTrailers, getMap/getConstMap in
// on_log), source/common/http/utility.cc (Utility::prepareLocalReply, gRPC branch).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startEnvoy, type EnvoyGateway } from '../../sim/envoy/index.js';
import { closedPort } from '../support/closed-port';
import { compileFixtures, type CompiledFixtures } from '../support/envoy-fixtures';

let fixtures: CompiledFixtures | undefined;
let FEATURES = '';
let upstream: http.Server;
let port = 0;

beforeAll(async () => {
  fixtures = await compileFixtures('grpc', ['features']);
  FEATURES = fixtures.wasm.features;
  // A gRPC-shaped upstream: /trailers answers 200, a message, then grpc-status 13 in the
  // trailers; /trailers-only answers 200 with grpc-status 5 in the headers and no body.
  upstream = http.createServer((req, res) => {
    req.resume();
    res.setHeader('content-type', 'application/grpc');
    if (req.url === '/trailers-only') {
      res.setHeader('grpc-status', '5');
      res.setHeader('content-length', '0');
      res.end();
      return;
    }
    res.write(Buffer.from([0, 0, 0, 0, 1, 0x2a]));
    res.addTrailers({ 'grpc-status': '13', 'grpc-message': 'boom' });
    res.end();
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
  port = (upstream.address() as AddressInfo).port;
}, 120_000);

afterAll(async () => {
  upstream.closeAllConnections();
  await new Promise<void>((r) => upstream.close(() => r()));
  await fixtures?.remove();
});

interface Answer { status: number; headers: http.IncomingHttpHeaders; trailers: NodeJS.Dict<string>; body: Buffer }

function call(gw: EnvoyGateway, p: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: gw.port, path: p, method: 'POST', agent: false,
      headers: { 'content-type': 'application/grpc', te: 'trailers', ...headers } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, trailers: res.trailers, body: Buffer.concat(parts) }));
    });
    req.on('error', reject);
    req.end(Buffer.from([0, 0, 0, 0, 0]));
  });
}

// HTTP/1.1 carries trailers only where Envoy is configured for them (http1/codec_impl.cc:
// the HTTP/1 parser ignores trailer fields and the encoder ends the chunked body without them
// unless http_protocol_options.enable_trailers): these gateways enable them on the listener
// (the HCM's http_protocol_options) and on the cluster, so the trailers tests below see what
// such an Envoy does; 'HTTP/1 trailers need enable_trailers' shows Envoy's default.
async function gateway(withFilter: boolean, cluster: { host: string; port: number; enableTrailers?: boolean } = { host: '127.0.0.1', port, enableTrailers: true }, enableTrailers = true): Promise<EnvoyGateway> {
  return startEnvoy({
    filters: withFilter ? [{ wasm: FEATURES, rootId: 'features', configuration: '{}' }] : [],
    workers: 1,
    clusters: { up: cluster },
    routes: [{ cluster: 'up' }],
    enableTrailers,
  });
}

describe('response trailers (FilterManager::encodeTrailers)', () => {
  it('reach the client after the body', async () => {
    const gw = await gateway(false);
    try {
      const a = await call(gw, '/trailers');
      expect(a.status).toBe(200);
      expect(a.body.length).toBe(6);
      expect(a.trailers['grpc-status']).toBe('13');
      expect(a.trailers['grpc-message']).toBe('boom');
    } finally {
      await gw.close();
    }
  });

  it('pass on_response_trailers (a filter may read and add) and are the access log trailers in on_log', async () => {
    const gw = await gateway(true);
    try {
      const a = await call(gw, '/trailers', { 'x-resp-action': 'trailers' });
      expect(a.trailers['x-fixture-trailer']).toBe('grpc-13');
      await new Promise((r) => setTimeout(r, 20));
      expect(gw.logs().map((l) => l.message)).toContain('trailers at log: grpc-13');
    } finally {
      await gw.close();
    }
  });

  it('a trailers-only reply is headers only: no on_response_trailers, no trailers map at log', async () => {
    const gw = await gateway(true);
    try {
      const a = await call(gw, '/trailers-only', { 'x-resp-action': 'trailers' });
      expect(a.status).toBe(200);
      expect(a.headers['grpc-status']).toBe('5');
      expect(a.trailers).toEqual({});
      await new Promise((r) => setTimeout(r, 20));
      expect(gw.logs().map((l) => l.message).filter((m) => m.startsWith('trailers at log'))).toEqual(['trailers at log: <1>']);
    } finally {
      await gw.close();
    }
  });
});

describe('HTTP/1 trailers need enable_trailers (http1/codec_impl.cc onHeaderField, encodeTrailersBase)', () => {
  const trailerLogs = (gw: EnvoyGateway) => gw.logs().map((l) => l.message).filter((m) => m.startsWith('trailers at log'));

  it("Envoy's default: an HTTP/1.1 upstream's trailers are ignored by the codec; the filters see none and the client gets none", async () => {
    const gw = await gateway(true, { host: '127.0.0.1', port }, false);
    try {
      const a = await call(gw, '/trailers', { 'x-resp-action': 'trailers' });
      expect(a.status).toBe(200);
      expect(a.body.length).toBe(6); // the body is whole: only the trailer fields are dropped
      expect(a.trailers).toEqual({});
      await new Promise((r) => setTimeout(r, 20));
      // no on_response_trailers (the fixture would add x-fixture-trailer), no trailers map at log
      expect(trailerLogs(gw)).toEqual(['trailers at log: <1>']);
    } finally {
      await gw.close();
    }
  });

  it("the cluster's enable_trailers alone: the filters see the trailers, an HTTP/1.1 client does not (the listener's codec ends the body without them)", async () => {
    const gw = await gateway(true, { host: '127.0.0.1', port, enableTrailers: true }, false);
    try {
      const a = await call(gw, '/trailers', { 'x-resp-action': 'trailers' });
      expect(a.body.length).toBe(6);
      expect(a.trailers).toEqual({});
      await new Promise((r) => setTimeout(r, 20));
      expect(trailerLogs(gw)).toEqual(['trailers at log: grpc-13']);
    } finally {
      await gw.close();
    }
  });
});

describe("the router's local replies to a gRPC request (Utility::prepareLocalReply)", () => {
  it('a refused upstream: trailers-only 200, grpc-status 14 (UNAVAILABLE), the reason in grpc-message', async () => {
    const deadPort = await closedPort();
    const gw = await gateway(false, { host: '127.0.0.1', port: deadPort });
    try {
      const a = await call(gw, '/x');
      expect(a.status).toBe(200);
      expect(a.headers['content-type']).toBe('application/grpc');
      expect(a.headers['grpc-status']).toBe('14');
      // PercentEncoding::encode: only bytes below 0x20, from 0x7e up and '%' are escaped
      expect(a.headers['grpc-message']).toBe('upstream connect error or disconnect/reset before headers. reset reason: remote connection failure, transport failure reason: delayed connect error: Connection refused');
      expect(a.body.length).toBe(0);
      // application/grpc-web is not gRPC (Grpc::Common::hasGrpcContentType): a plain 503
      const web = await call(gw, '/x', { 'content-type': 'application/grpc-web' });
      expect(web.status).toBe(503);
      expect(web.headers['grpc-status']).toBeUndefined();
      const plus = await call(gw, '/x', { 'content-type': 'application/grpc+proto' });
      expect(plus.headers['grpc-status']).toBe('14');
    } finally {
      await gw.close();
    }
  });
});
