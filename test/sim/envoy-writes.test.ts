// When the Envoy harness writes a response to the client. Envoy's HTTP/1 codec encodes
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
import type { AddressInfo } from 'node:net';
import { startEnvoy, type EnvoyGateway } from '../../sim/envoy/index.js';
import { compileFixtures, type CompiledFixtures } from '../support/envoy-fixtures';

let fixtures: CompiledFixtures | undefined;
let FEATURES = '';
let upstream: http.Server;
let port = 0;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  fixtures = await compileFixtures('writes', ['features']);
  // a filter with proxy_on_response_body: the harness hands the body to it frame by frame
  FEATURES = fixtures.wasm.features;
  upstream = http.createServer((req, res) => {
    req.resume();
    if (req.url === '/slow') {
      // the head now, the body 300 ms later
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '4' });
      res.flushHeaders();
      void sleep(300).then(() => res.end('late'));
      return;
    }
    // head and body in one write
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '5' }).end('hello');
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
  port = (upstream.address() as AddressInfo).port;
}, 120_000);

afterAll(async () => {
  upstream?.closeAllConnections();
  await new Promise<void>((r) => (upstream ? upstream.close(() => r()) : r()));
  await fixtures?.remove();
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

async function gateway(): Promise<EnvoyGateway> {
  return startEnvoy({
    filters: [{ wasm: FEATURES, rootId: 'features', configuration: '{}' }],
    workers: 1,
    clusters: { up: { host: '127.0.0.1', port } },
    routes: [{ cluster: 'up' }],
  });
}

describe('the Envoy harness writes a response as Envoy flushes its connection', () => {
  it('a head and a body that arrived together leave in one write', async () => {
    const gw = await gateway();
    try {
      for (let i = 0; i < 5; i++) {
        const r = await reads(gw.port, '/', (all) => all.endsWith('hello'));
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
