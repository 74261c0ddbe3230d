// HTTP/2 in the Envoy harness: the listener takes h2c with prior knowledge next to HTTP/1.1
// (the HCM's codec_type AUTO: ConnectionManagerUtility::determineNextProtocol sniffs the
// client preface), and a cluster with http2_protocol_options speaks HTTP/2 upstream
// (what gRPC clusters do). gRPC's trailers arrive as a trailing HEADERS frame and go through
// on_response_trailers and on_log; a trailers-only reply is one HEADERS frame with
// END_STREAM; Envoy's own gRPC local replies are trailers-only HEADERS too; an upstream
// RST_STREAM before headers is "remote reset" (UR), which HTTP/1 cannot express.
// Sources: Envoy source/common/http/conn_manager_utility.cc (determineNextProtocol),
// source/common/http/http2/codec_impl.cc (ConnectionImpl::onFrameReceived: HEADERS with
// END_STREAM; StreamImpl::resetStream), source/common/http/filter_manager.cc (encodeTrailers,
// sendLocalReplyViaFilterChain), source/common/http/utility.cc (prepareLocalReply),
// source/common/router/router.cc (onUpstreamReset, streamResetReasonToResponseFlag).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { startEnvoy, type EnvoyGateway } from '../../sim/envoy/index.js';
import { dispatchByPreface } from '../../sim/envoy/h2c-listener.js';
import net from 'node:net';
import { answerGrpc, h2call as h2callOn, type H2Answer } from '../support/h2-client.js';
import { closedPort } from '../support/closed-port';
import { compileFixtures, type CompiledFixtures } from '../support/envoy-fixtures';

let fixtures: CompiledFixtures | undefined;
let FEATURES = '';
let upstream: http2.Http2Server;
let port = 0;
// What the h2 upstream saw of each request: its HTTP version and headers.
const seen: Array<{ version: string; headers: http2.IncomingHttpHeaders }> = [];
let refusedOnce = 0;

beforeAll(async () => {
  fixtures = await compileFixtures('h2', ['features']);
  FEATURES = fixtures.wasm.features;
  // A gRPC server over h2c: /trailers answers a message then grpc-status 13 in trailers;
  // /trailers-only one HEADERS frame with END_STREAM (grpc-status 5); /reset and /refused
  // reset the stream before any headers (RST_STREAM INTERNAL_ERROR, REFUSED_STREAM).
  upstream = http2.createServer();
  upstream.on('stream', (stream: http2.ServerHttp2Stream, headers) => {
    seen.push({ version: '2.0', headers });
    stream.on('error', () => {}); // its own RST_STREAM (/reset)
    stream.resume();
    const p = headers[':path'];
    if (p === '/reset') { stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR); return; }
    if (p === '/refused') { stream.close(http2.constants.NGHTTP2_REFUSED_STREAM); return; }
    // /reset-after-headers: headers and a message, then RST_STREAM INTERNAL_ERROR;
    // /drop-after-headers: headers and a message, then the TCP connection goes
    if (p === '/reset-after-headers' || p === '/drop-after-headers') {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
      // (Node's server stream.close(code) after the headers ends the stream cleanly for the
      // client; destroy with an error sends RST_STREAM INTERNAL_ERROR)
      stream.write(Buffer.from([0, 0, 0, 0, 1, 0x2a]));
      setTimeout(() => {
        if (p === '/reset-after-headers') stream.destroy(new Error('reset after headers'));
        else stream.session?.destroy();
      }, 30);
      return;
    }
    // /refused-once: REFUSED_STREAM on the first call, trailers-only OK on the next
    if (p === '/refused-once' && refusedOnce++ === 0) { stream.close(http2.constants.NGHTTP2_REFUSED_STREAM); return; }
    if (p === '/refused-once') { stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '0' }, { endStream: true }); return; }
    answerGrpc(stream, p);
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
  port = (upstream.address() as AddressInfo).port;
}, 120_000);

afterAll(async () => {
  await new Promise<void>((r) => upstream.close(() => r()));
  await fixtures?.remove();
});

// as gRPC clients call: POST, content-type application/grpc, te: trailers, one empty message
const h2call = (gw: EnvoyGateway, p: string, headers: Record<string, string> = {}): Promise<H2Answer> =>
  h2callOn(gw.port, p, { 'content-type': 'application/grpc', te: 'trailers', ...headers });

async function gateway(withFilter: boolean, cluster: { host: string; port: number; http2?: boolean; useDownstreamProtocol?: boolean } = { host: '127.0.0.1', port, http2: true }): Promise<EnvoyGateway> {
  return startEnvoy({
    filters: withFilter ? [{ wasm: FEATURES, rootId: 'features', configuration: '{}' }] : [],
    workers: 1,
    clusters: { up: cluster },
    routes: [{ cluster: 'up' }],
  });
}

const settle = () => new Promise((r) => setTimeout(r, 30));

describe('the listener takes h2c with prior knowledge and HTTP/1.1 on one port (codec_type AUTO)', () => {
  it('an h2 client gets its gRPC answer over h2, trailers in a trailing HEADERS frame', async () => {
    const gw = await gateway(false);
    try {
      seen.length = 0;
      const a = await h2call(gw, '/trailers');
      expect(a.headers[':status']).toBe(200);
      expect(a.headersEndStream).toBe(false);
      expect(a.body.length).toBe(6);
      expect(a.trailers?.['grpc-status']).toBe('13');
      expect(a.trailers?.['grpc-message']).toBe('boom');
      // the cluster speaks h2 upstream: the request came as HTTP/2, te: trailers kept
      expect(seen).toHaveLength(1);
      expect(seen[0].headers[':method']).toBe('POST');
      expect(seen[0].headers.te).toBe('trailers');
      expect(seen[0].headers['content-type']).toBe('application/grpc');
    } finally {
      await gw.close();
    }
  });

  it('HTTP/1.1 clients keep working on the same port', async () => {
    const plain = http.createServer((_req, res) => res.end('one'));
    await new Promise<void>((r) => plain.listen(0, '127.0.0.1', () => r()));
    const gw = await gateway(false, { host: '127.0.0.1', port: (plain.address() as AddressInfo).port });
    try {
      const body = await (await fetch(gw.url + '/x')).text();
      expect(body).toBe('one');
    } finally {
      await gw.close();
      plain.closeAllConnections();
      await new Promise<void>((r) => plain.close(() => r()));
    }
  });
});

describe('use_downstream_protocol_config: the upstream protocol follows the downstream one', () => {
  it('an h2 client is proxied over h2, an HTTP/1.1 client over HTTP/1.1, on one cluster', async () => {
    const versions: string[] = [];
    const answer = (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse) => {
      versions.push(req.httpVersion);
      res.end('v' + req.httpVersion);
    };
    const h1 = http.createServer(answer);
    const h2 = http2.createServer(answer);
    const both = net.createServer((s) => dispatchByPreface(s, (x) => h2.emit('connection', x), (x) => h1.emit('connection', x)));
    await new Promise<void>((r) => both.listen(0, '127.0.0.1', () => r()));
    const gw = await gateway(false, { host: '127.0.0.1', port: (both.address() as AddressInfo).port, useDownstreamProtocol: true });
    try {
      expect(await (await fetch(gw.url + '/x')).text()).toBe('v1.1');
      const a = await h2call(gw, '/x', { 'content-type': 'text/plain' });
      expect(a.body.toString()).toBe('v2.0');
      expect(versions).toEqual(['1.1', '2.0']);
    } finally {
      await gw.close();
      both.close();
    }
  });
});

describe('an h2 upstream\'s trailers to an HTTP/1.1 client (http1/codec_impl.cc encodeTrailersBase)', () => {
  function h1call(gw: EnvoyGateway, p: string, headers: Record<string, string> = {}): Promise<{ status: number; trailers: NodeJS.Dict<string>; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: gw.port, path: p, method: 'POST', agent: false,
        headers: { 'content-type': 'application/grpc', te: 'trailers', ...headers } }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, trailers: res.trailers, body: Buffer.concat(parts) }));
      });
      req.on('error', reject);
      req.end(Buffer.from([0, 0, 0, 0, 0]));
    });
  }

  it('the filters see them (on_response_trailers, on_log); the client gets them only with the listener\'s enable_trailers', async () => {
    const gw = await gateway(true);
    try {
      const a = await h1call(gw, '/trailers', { 'x-resp-action': 'trailers' });
      expect(a.status).toBe(200);
      expect(a.body.length).toBe(6);
      expect(a.trailers).toEqual({});
      await settle();
      expect(gw.logs().map((l) => l.message)).toContain('trailers at log: grpc-13');
    } finally {
      await gw.close();
    }
    const on = await startEnvoy({
      filters: [], workers: 1, clusters: { up: { host: '127.0.0.1', port, http2: true } }, routes: [{ cluster: 'up' }], enableTrailers: true,
    });
    try {
      const a = await h1call(on, '/trailers');
      expect(a.trailers['grpc-status']).toBe('13');
    } finally {
      await on.close();
    }
  });
});

describe('gRPC trailers over h2 reach the filter as Envoy delivers them', () => {
  it('real trailers: on_response_trailers reads and adds, on_log sees the trailers map', async () => {
    const gw = await gateway(true);
    try {
      const a = await h2call(gw, '/trailers', { 'x-resp-action': 'trailers' });
      expect(a.trailers?.['x-fixture-trailer']).toBe('grpc-13');
      await settle();
      expect(gw.logs().map((l) => l.message)).toContain('trailers at log: grpc-13');
    } finally {
      await gw.close();
    }
  });

  it('a trailers-only reply is one HEADERS frame with END_STREAM: no on_response_trailers, no trailers map at log', async () => {
    const gw = await gateway(true);
    try {
      const a = await h2call(gw, '/trailers-only', { 'x-resp-action': 'trailers' });
      expect(a.headers[':status']).toBe(200);
      expect(a.headers['grpc-status']).toBe('5');
      expect(a.headersEndStream).toBe(true);
      expect(a.trailers).toBeNull();
      await settle();
      expect(gw.logs().map((l) => l.message).filter((m) => m.startsWith('trailers at log'))).toEqual(['trailers at log: <1>']);
    } finally {
      await gw.close();
    }
  });
});

describe('an upstream reset after the response started (router.cc onUpstreamReset: the reason decides the flag)', () => {
  // streamResetReasonToResponseFlag maps RemoteReset (an RST_STREAM) to UR and
  // ConnectionTermination (the connection gone) to UC; the details are LateUpstreamReset
  // "upstream_reset_after_response_started" with the reason (resetReasonToString, spaces as '_').
  const lastAccess = (gw: EnvoyGateway) => gw.logs().map((l) => l.message).filter((m) => m.startsWith('access code=')).at(-1);

  // The client's stream is reset too (RST_STREAM NO_ERROR, reasonToReset's default), which
  // Node's client reports as a plain end: what tells is the access log.
  // ResponseFlag UpstreamRemoteReset = 0x10, UpstreamConnectionTermination = 0x40
  it.each([
    ['RST_STREAM mid-response: flag UR, details {remote_reset}', '/reset-after-headers', 'access code=200 action=<1> flags=16 details=upstream_reset_after_response_started{remote_reset}'],
    ['the h2 connection gone mid-response: flag UC, details {connection_termination}', '/drop-after-headers', 'access code=200 action=<1> flags=64 details=upstream_reset_after_response_started{connection_termination}'],
  ])('%s', async (_what, path, access) => {
    const gw = await gateway(true);
    try {
      await h2call(gw, path).catch(() => null);
      await settle();
      expect(lastAccess(gw)).toBe(access);
    } finally {
      await gw.close();
    }
  });
});

describe("Envoy's gRPC local replies on h2 are trailers-only HEADERS", () => {
  it('a refused upstream: 200, grpc-status 14 and grpc-message in one HEADERS frame with END_STREAM', async () => {
    const deadPort = await closedPort();
    const gw = await gateway(false, { host: '127.0.0.1', port: deadPort, http2: true });
    try {
      const a = await h2call(gw, '/x');
      expect(a.headers[':status']).toBe(200);
      expect(a.headers['content-type']).toBe('application/grpc');
      expect(a.headers['grpc-status']).toBe('14');
      expect(a.headers['grpc-message']).toBe('upstream connect error or disconnect/reset before headers. reset reason: remote connection failure, transport failure reason: delayed connect error: Connection refused');
      expect(a.headersEndStream).toBe(true);
      expect(a.body.length).toBe(0);
      expect(a.trailers).toBeNull();
    } finally {
      await gw.close();
    }
  });

  it('an upstream RST_STREAM before headers is "remote reset" (REFUSED_STREAM: "remote refused stream reset"), flag UR (HTTP/1 cannot express it)', async () => {
    const gw = await gateway(true);
    try {
      const a = await h2call(gw, '/reset');
      expect(a.headers['grpc-status']).toBe('14');
      expect(a.headers['grpc-message']).toBe('upstream connect error or disconnect/reset before headers. reset reason: remote reset');
      expect(a.headersEndStream).toBe(true);
      await settle();
      // ResponseFlag UpstreamRemoteReset = 0x10
      expect(gw.logs().map((l) => l.message).find((m) => m.startsWith('access code='))).toBe(
        'access code=200 action=<1> flags=16 details=upstream_reset_before_response_started{remote_reset}');
      // REFUSED_STREAM is RemoteRefusedStreamReset: its own reason (retry_on refused-stream)
      const r = await h2call(gw, '/refused');
      expect(r.headers['grpc-message']).toBe('upstream connect error or disconnect/reset before headers. reset reason: remote refused stream reset');
      await settle();
      expect(gw.logs().map((l) => l.message).filter((m) => m.startsWith('access code=')).at(-1)).toBe(
        'access code=200 action=<1> flags=16 details=upstream_reset_before_response_started{remote_refused_stream_reset}');
    } finally {
      await gw.close();
    }
  });

  it("retry_on refused-stream retries a REFUSED_STREAM (Istio's default retry_on has it), not another reset", async () => {
    const gw = await startEnvoy({
      filters: [], workers: 1, clusters: { up: { host: '127.0.0.1', port, http2: true } },
      routes: [{ cluster: 'up', retryPolicy: { retryOn: 'refused-stream', numRetries: 2, baseIntervalMs: 1 } }],
    });
    try {
      refusedOnce = 0;
      const ok = await h2call(gw, '/refused-once');
      expect(ok.headers['grpc-status']).toBe('0');
      expect(refusedOnce).toBe(2);
      // another reset code is not a refused stream: no retry, the reset answers
      seen.length = 0;
      const reset = await h2call(gw, '/reset');
      expect(reset.headers['grpc-status']).toBe('14');
      expect(seen).toHaveLength(1);
    } finally {
      await gw.close();
    }
  });
});
