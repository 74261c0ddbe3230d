// Response bodies in the Envoy harness, frame by frame as Envoy hands them to a Wasm filter.
// Sources: Envoy source/common/http/http1/codec_impl.cc (ClientConnectionImpl::onBody: each
// dispatched chunk is decodeData(data, false); onMessageCompleteBase: an empty
// decodeData(buffer, true) ends the body, or decodeTrailers), source/common/http/filter_manager.cc
// (FilterManager::encodeData per frame, ActiveStreamFilterBase::commonHandleAfterDataCallback /
// commonHandleBufferData: one buffered body per stream, ActiveStreamEncoderFilter::responseDataTooLarge:
// above the buffer limit a 500 local reply, or a reset once headers reached the codec),
// source/extensions/common/wasm/context.cc (Context::encodeData: while buffering, the new frame
// is added to the buffered body before proxy_on_response_body, whose length is the whole
// buffered body; Context::getBuffer HttpResponseBody).
//
// And when the Envoy harness writes a response to the client. Envoy's HTTP/1 codec encodes
// the response head and each body frame into the downstream connection's write buffer
// (source/common/http/http1/codec_impl.cc StreamEncoderImpl::encodeHeaders / encodeData ->
// ConnectionImpl::flushOutput -> Network::ConnectionImpl::write), and the connection writes
// that buffer to the socket when its write event runs (ConnectionImpl::write schedules it;
// onWriteReady), after the dispatcher's current event: a head and a body that came from the
// upstream in one read leave in one write. A head whose body is still on its way is not held
// back: the write event runs before the dispatcher waits for more input.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import net from 'node:net';
import { startEnvoy, type EnvoyGateway } from '../../sim/envoy/index.js';
import { compileFixtures, type CompiledFixtures } from '../support/envoy-fixtures';
import { listenUpstream, type TestUpstream } from '../support/upstream';

let fixtures: CompiledFixtures | undefined;
let FEATURES = '';
let upstream: TestUpstream | undefined;
let port = 0;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  fixtures = await compileFixtures('body', ['features']);
  FEATURES = fixtures.wasm.features;
  // /together: head and body in one write; /slow: the head now, the body 300 ms later;
  // any other path: three chunks 40 ms apart (each its own read on the proxy's side),
  // then the end of the chunked body on its own.
  upstream = await listenUpstream((req, res) => {
    req.resume();
    if (req.url === '/together') {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '5' }).end('hello');
      return;
    }
    if (req.url === '/slow') {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '4' });
      res.flushHeaders();
      void sleep(300).then(() => res.end('late'));
      return;
    }
    res.setHeader('content-type', 'text/plain');
    void (async () => {
      for (const c of ['aaaa', 'bbbbbb', 'cc']) {
        res.write(c);
        await sleep(40);
      }
      res.end();
    })();
  });
  port = upstream.port;
}, 120_000);

afterAll(async () => {
  await upstream?.close();
  await fixtures?.remove();
});

function get(url: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { headers, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(parts).toString() }));
      res.on('error', reject);
      res.on('aborted', () => reject(new Error('aborted')));
    });
    req.on('error', reject);
    req.end();
  });
}

async function gateway(bufferLimitBytes?: number): Promise<EnvoyGateway> {
  return startEnvoy({
    filters: [{ wasm: FEATURES, rootId: 'features', configuration: '{}' }],
    workers: 1,
    clusters: { up: { host: '127.0.0.1', port } },
    routes: [{ cluster: 'up' }],
    ...(bufferLimitBytes === undefined ? {} : { bufferLimitBytes }),
  });
}

const bodyLogs = (gw: EnvoyGateway) => gw.logs().filter((l) => l.message.startsWith('body ')).map((l) => l.message);

describe('response bodies reach the filter frame by frame', () => {
  it('one proxy_on_response_body per data frame, then an empty frame with end_of_stream', async () => {
    const gw = await gateway();
    try {
      const r = await get(`${gw.url}/`, { 'x-resp-action': 'body-frames' });
      expect(r.status).toBe(200);
      expect(r.body).toBe('aaaabbbbbbcc');
      expect(bodyLogs(gw)).toEqual(['body len=4 eos=0', 'body len=6 eos=0', 'body len=2 eos=0', 'body len=0 eos=1']);
    } finally {
      await gw.close();
    }
  });

  it('StopIterationAndBuffer: each later call sees the whole buffered body, the client gets it once released', async () => {
    const gw = await gateway();
    try {
      const r = await get(`${gw.url}/`, { 'x-resp-action': 'body-buffer' });
      expect(r.status).toBe(200);
      expect(r.body).toBe('aaaabbbbbbcc');
      expect(bodyLogs(gw)).toEqual(['body len=4 eos=0', 'body len=10 eos=0', 'body len=12 eos=0', 'body len=12 eos=1', 'body whole=aaaabbbbbbcc']);
    } finally {
      await gw.close();
    }
  });

  it('a buffered body above the buffer limit: Envoy resets the stream (the headers reached the codec)', async () => {
    const gw = await gateway(8);
    try {
      await expect(get(`${gw.url}/`, { 'x-resp-action': 'body-buffer' })).rejects.toThrow();
      // the second frame took the buffer to 10 > 8 bytes: no more filter calls
      expect(bodyLogs(gw)).toEqual(['body len=4 eos=0']);
      const access = gw.logs().filter((l) => l.message.startsWith('access code='));
      expect(access.at(-1)?.message).toContain('details=response_payload_too_large');
      // a streamed body of the same size is not limited
      const s = await get(`${gw.url}/`, { 'x-resp-action': 'body-frames' });
      expect(s.body).toBe('aaaabbbbbbcc');
    } finally {
      await gw.close();
    }
  });
});

// A raw client: what each read from the socket returned, and when (ms after the request).
// The client runs on the harness's event loop, so its reads cannot tell one write from
// two: `writes` counts what Node handed the gateway's side of the connection instead
// (net.Socket's _write / _writev: one call a socket write).
type Read = { at: number; text: string };
function reads(gwPort: number, target: string, done: (all: string) => boolean): Promise<{ reads: Read[]; writes: number }> {
  return new Promise((resolve, reject) => {
    const out: Read[] = [];
    const t0 = performance.now();
    let writes = 0;
    const proto = net.Socket.prototype as unknown as Record<'_write' | '_writev', (this: net.Socket, ...a: unknown[]) => unknown>;
    const saved = { _write: proto._write, _writev: proto._writev };
    for (const k of ['_write', '_writev'] as const) {
      proto[k] = function (this: net.Socket, ...a: unknown[]) {
        if (this.localPort === gwPort && this.remotePort === s.localPort) writes++;
        return saved[k].apply(this, a);
      };
    }
    const finish = () => { Object.assign(proto, saved); resolve({ reads: out, writes }); };
    const s = net.connect(gwPort, '127.0.0.1', () => s.write(`GET ${target} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`));
    s.on('data', (b: Buffer) => {
      out.push({ at: performance.now() - t0, text: b.toString('latin1') });
      if (done(out.map((r) => r.text).join(''))) { s.destroy(); finish(); }
    });
    s.on('error', (e) => { Object.assign(proto, saved); reject(e); });
    s.on('end', finish);
  });
}

describe('the Envoy harness writes a response as Envoy flushes its connection', () => {
  it('a head and a body that arrived together leave in one write', async () => {
    const gw = await gateway();
    try {
      for (let i = 0; i < 5; i++) {
        const r = await reads(gw.port, '/together', (all) => all.endsWith('hello'));
        expect(r.reads.map((x) => x.text).join('')).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nhello$/);
        expect(r.writes).toBe(1);
      }
    } finally {
      await gw.close();
    }
  });

  it('a head whose body is still on its way reaches the client at once', async () => {
    const gw = await gateway();
    try {
      const { reads: r, writes } = await reads(gw.port, '/slow', (all) => all.endsWith('late'));
      expect(writes).toBe(2);
      expect(r.length).toBe(2);
      expect(r[0].text).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\n$/);
      expect(r[1].text).toBe('late');
      // the head came well before the upstream's body (sent 300 ms after its head)
      expect(r[1].at - r[0].at).toBeGreaterThan(150);
    } finally {
      await gw.close();
    }
  });
});
