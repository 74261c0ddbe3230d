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
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startEnvoy, type EnvoyGateway } from '../../sim/envoy/index.js';
import { compileFixtures, type CompiledFixtures } from '../support/envoy-fixtures';

let fixtures: CompiledFixtures | undefined;
let FEATURES = '';
let upstream: http.Server;
let port = 0;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  fixtures = await compileFixtures('body', ['features']);
  FEATURES = fixtures.wasm.features;
  // Three chunks 40 ms apart (each its own read on the proxy's side), then the end of the
  // chunked body on its own.
  upstream = http.createServer((req, res) => {
    req.resume();
    res.setHeader('content-type', 'text/plain');
    void (async () => {
      for (const c of ['aaaa', 'bbbbbb', 'cc']) {
        res.write(c);
        await sleep(40);
      }
      res.end();
    })();
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
  port = (upstream.address() as AddressInfo).port;
}, 120_000);

afterAll(async () => {
  upstream?.closeAllConnections();
  await new Promise<void>((r) => (upstream ? upstream.close(() => r()) : r()));
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
