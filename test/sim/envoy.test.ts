// Proves the Envoy runtime harness (sim/envoy): module loading as Envoy links it,
// Proxy-Wasm ABI semantics, lifecycle, metrics, shared data with CAS, failure handling and the
// loopback HTTP proxy. Fixtures are compiled from test/fixtures/envoy with the installed asc.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  SharedData,
  WasmHost,
  WasmResult,
  decodePairs,
  encodePairs,
  startEnvoy,
  type EnvoyGateway,
  type Pair,
} from '../../sim/envoy/index.js';
import { op, proxyModule, type RawImport, type ValT } from '../fixtures/envoy/raw-module.js';
import { closedPort } from '../support/closed-port';
import { compileFixtures, type CompiledFixtures } from '../support/envoy-fixtures';

let fixtures: CompiledFixtures | undefined;
let NOOP = '';
let FEATURES = '';

beforeAll(async () => {
  fixtures = await compileFixtures('harness', ['noop', 'features']);
  ({ noop: NOOP, features: FEATURES } = fixtures.wasm);
}, 120_000);

afterAll(async () => {
  await fixtures?.remove();
});

const GET = (extra: Pair[] = [], p = '/'): Pair[] => [
  [':authority', 'example.com'],
  [':path', p],
  [':method', 'GET'],
  [':scheme', 'http'],
  ...extra,
];

function hdr(pairs: Pair[], name: string): string | undefined {
  return pairs.find(([k]) => k === name)?.[1];
}

async function features(cfg = '{"variant":"canary"}', extra: Partial<Parameters<typeof WasmHost.load>[0]> = {}) {
  return WasmHost.load({ wasm: FEATURES, rootId: 'features', configuration: cfg, sharedData: new SharedData(), ...extra });
}

describe('loading: exactly the host functions Envoy registers', () => {
  const noArgs: { params: ValT[]; results: ValT[] } = { params: [], results: [] };
  const i32: ValT[] = ['i32'];

  it('loads an SDK module (ABI 0.2.0) and starts it', async () => {
    const h = await WasmHost.load({ wasm: NOOP, rootId: 'noop', configuration: '{}' });
    expect(h.vm.abi).toBe('0.2.0');
    expect(h.failed).toBe(false);
    expect(h.memoryPages()).toBeGreaterThanOrEqual(1);
  });

  it('refuses proxy_clear_route_cache under ABI 0.2.0 and accepts it under 0.1.0', async () => {
    const imp = [{ module: 'env', name: 'proxy_clear_route_cache', params: [], results: [...i32] }];
    await expect(WasmHost.load({ wasm: proxyModule({ abi: '0_2_0', imports: imp }), rootId: 'r', configuration: '' })).rejects.toThrow(
      'Failed to load Wasm module due to a missing import: env.proxy_clear_route_cache',
    );
    const h = await WasmHost.load({ wasm: proxyModule({ abi: '0_1_0', imports: imp }), rootId: 'r', configuration: '' });
    expect(h.vm.abi).toBe('0.1.0');
  });

  it('registers proxy_get_log_level only for 0.2.1, continue_stream only for 0.2.x', async () => {
    const lvl = [{ module: 'env', name: 'proxy_get_log_level', params: [...i32], results: [...i32] }];
    await expect(WasmHost.load({ wasm: proxyModule({ abi: '0_2_0', imports: lvl }), rootId: 'r', configuration: '' })).rejects.toThrow(
      'missing import: env.proxy_get_log_level',
    );
    await WasmHost.load({ wasm: proxyModule({ abi: '0_2_1', imports: lvl }), rootId: 'r', configuration: '' });
    const cont = [{ module: 'env', name: 'proxy_continue_stream', params: [...i32], results: [...i32] }];
    await expect(WasmHost.load({ wasm: proxyModule({ abi: '0_1_0', imports: cont }), rootId: 'r', configuration: '' })).rejects.toThrow(
      'missing import: env.proxy_continue_stream',
    );
  });

  it('refuses unknown imports, wrong signatures, unknown ABI and a missing malloc', async () => {
    const load = (wasm: Uint8Array) => WasmHost.load({ wasm, rootId: 'r', configuration: '' });
    await expect(load(proxyModule({ imports: [{ module: 'env', name: 'proxy_nope', ...noArgs }] }))).rejects.toThrow(
      'missing import: env.proxy_nope',
    );
    await expect(load(proxyModule({ imports: [{ module: 'wasi_unstable', name: 'fd_sync', params: [...i32], results: [...i32] }] }))).rejects.toThrow(
      'missing import: wasi_unstable.fd_sync',
    );
    await expect(load(proxyModule({ imports: [{ module: 'env', name: 'proxy_log', params: ['i32', 'i32'], results: ['i32'] }] }))).rejects.toThrow(
      'Failed to load Wasm module due to an import type mismatch: env.proxy_log, want: i32 i32 -> i32, but host exports: i32 i32 i32 -> i32',
    );
    await expect(load(proxyModule({ abi: null }))).rejects.toThrow('Missing or unknown Proxy-Wasm ABI version');
    await expect(load(proxyModule({ malloc: false }))).rejects.toThrow('Wasm module is missing malloc function.');
    // Every WASI function Envoy registers links under both module names.
    for (const m of ['wasi_unstable', 'wasi_snapshot_preview1']) {
      await load(proxyModule({ imports: [{ module: m, name: 'fd_write', params: ['i32', 'i32', 'i32', 'i32'], results: ['i32'] }] }));
      await load(proxyModule({ imports: [{ module: m, name: 'clock_time_get', params: ['i32', 'i64', 'i32'], results: ['i32'] }] }));
    }
  });

  it('checks export signatures and restricts host calls during _initialize', async () => {
    const load = (wasm: Uint8Array) => WasmHost.load({ wasm, rootId: 'r', configuration: '' });
    await expect(
      load(proxyModule({ funcs: [{ params: ['i32', 'i32'], results: ['i32'], body: op.i32(0), export: 'proxy_on_request_headers' }] })),
    ).rejects.toThrow('Bad function signature for: proxy_on_request_headers, want: i32 i32 i32 -> i32');
    const getProperty: RawImport = { module: 'env', name: 'proxy_get_property', params: ['i32', 'i32', 'i32', 'i32'], results: ['i32'] };
    const init = [...op.i32(0), ...op.i32(0), ...op.i32(0), ...op.i32(0), ...op.call(0), ...op.drop];
    await expect(load(proxyModule({ imports: [getProperty], funcs: [{ params: [], results: [], body: init, export: '_initialize' }] }))).rejects.toThrow(
      'restricted_callback',
    );
  });
});

describe('ABI semantics (direct API)', () => {
  it('returns Envoy result codes for bad pointers, bad types and unavailable data', async () => {
    const h = await features();
    const s = h.newStream();
    const r = s.requestHeaders(GET([['x-action', 'bad-ptr']]), true);
    const I = WasmResult.InvalidMemoryAccess;
    const B = WasmResult.BadArgument;
    const N = WasmResult.NotFound;
    expect(hdr(r.headers, 'x-bad')!.split(',').map(Number)).toEqual([I, I, B, B, B, I, I, I, N, B, B, B, N, I, B, B, B]);
    s.done();
    expect(h.failed).toBe(false);
  });

  it('models the header map: lowercase keys, first value of repeats, replace drops every copy, byte size', async () => {
    const h = await features('{}');
    const s = h.newStream();
    const r = s.requestHeaders(GET([['X-Action', 'dup'], ['x-dup', 'a'], ['x-dup', 'b'], ['x-forwarded-for', '1.1.1.1'], ['x-forwarded-for', '2.2.2.2']]), true);
    expect(hdr(r.headers, 'x-dup-first')).toBe('a');
    // HeaderMapImpl::setCopy is remove(key) + addCopy(key): one copy, now after the others.
    expect(r.headers.filter(([k]) => k === 'x-dup')).toEqual([['x-dup', 'replaced']]);
    expect(r.headers.findIndex(([k]) => k === 'x-dup')).toBeGreaterThan(r.headers.findIndex(([k]) => k === 'x-forwarded-for'));
    // x-forwarded-for is an inline header: a second value is appended with ","
    expect(r.headers.filter(([k]) => k === 'x-forwarded-for')).toEqual([['x-forwarded-for', '1.1.1.1,2.2.2.2']]);
    s.done();
    const s2 = h.newStream();
    const pairs = GET([['x-action', 'size']]);
    const r2 = s2.requestHeaders(pairs, true);
    expect(Number(hdr(r2.headers, 'x-size'))).toBe(pairs.reduce((n, [k, v]) => n + k.length + v.length, 0) + 'x-eos1'.length);
    s2.done();
    const s3 = h.newStream();
    expect(hdr(s3.requestHeaders(GET([['x-action', 'remove'], ['x-remove-me', '1'], ['x-remove-me', '2']]), true).headers, 'x-remove-me')).toBeUndefined();
    expect(s3.routeCacheClears).toBeGreaterThan(0);
    s3.done();
  });

  it('serializes pairs like the cpp-host, rejecting malformed input as empty', () => {
    const p: Pair[] = [
      ['a', '1'],
      ['b', '22'],
    ];
    const b = encodePairs(p);
    expect([...b]).toEqual([2, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0x61, 0, 0x31, 0, 0x62, 0, 0x32, 0x32, 0]);
    expect(decodePairs(b)).toEqual(p);
    expect(decodePairs(b.subarray(0, b.length - 1))).toEqual([]);
    expect(decodePairs(Buffer.concat([b, Buffer.from([0])]))).toEqual([]);
  });

  it('resolves properties with NUL-separated paths and Envoy encodings', async () => {
    const now = 1_700_000_000_123;
    const h = await features('{}', { clock: () => now, name: 'ns.features', vmId: 'vm-a' });
    const s = h.newStream({ 'source.address': '10.1.2.3:4567', my_custom: 'hello' });
    const r = s.requestHeaders(GET([['x-action', 'props'], ['x-request-id', 'rid-1']], '/a/b?x=1'), true);
    const get = (n: string) => hdr(r.headers, n);
    expect(get('x-prop-path')).toBe('/a/b?x=1');
    expect(get('x-prop-dotted')).toBe(`<${WasmResult.NotFound}>`); // "request.path" is one unknown name
    expect(get('x-prop-method')).toBe('GET');
    expect(get('x-prop-id')).toBe('rid-1');
    expect(get('x-prop-time')).toBe(String(BigInt(now) * 1_000_000n)); // timestamp → int64 ns LE
    expect(get('x-prop-root-id')).toBe('features');
    expect(get('x-prop-name')).toBe('ns.features');
    expect(get('x-prop-vm-id')).toBe('vm-a');
    expect(get('x-prop-source')).toBe('10.1.2.3:4567');
    expect(get('x-prop-code')).toBe(`<${WasmResult.NotFound}>`); // no response yet
    expect(get('x-prop-header')).toBe('props');
    expect(get('x-prop-custom')).toBe('hello');
    // Response phase: request headers are gone for this context (envoy#24194).
    const resp = s.responseHeaders([[':status', '200']], true);
    expect(hdr(resp.headers, 'x-resp-reqhdr-status')).toBe(String(WasmResult.BadArgument));
    expect(hdr(resp.headers, 'x-resp-path-status')).toBe(String(WasmResult.NotFound));
    expect(hdr(resp.headers, 'x-resp-code')).toBe('200');
    s.done();
    const t = h.newStream();
    expect(hdr(t.requestHeaders(GET([['x-action', 'time']]), true).headers, 'x-time-ns')).toBe(String(BigInt(now) * 1_000_000n));
    t.done();
  });

  it('answers each stream from its own facts when a path was read before (the path is split once)', async () => {
    const h = await features('{}');
    const read = (props: Record<string, string>, id: string) => {
      const s = h.newStream(props);
      const r = s.requestHeaders(GET([['x-action', 'props'], ['x-request-id', id]], `/p/${id}`), true);
      s.done();
      const get = (n: string) => hdr(r.headers, n);
      return [get('x-prop-path'), get('x-prop-dotted'), get('x-prop-id'), get('x-prop-source'), get('x-prop-header'), get('x-prop-custom')];
    };
    const nf = `<${WasmResult.NotFound}>`;
    expect(read({ 'source.address': '10.1.2.3:4567', my_custom: 'one' }, 'a')).toEqual(['/p/a', nf, 'a', '10.1.2.3:4567', 'props', 'one']);
    // the same paths again: the values are this stream's; an address's text is Envoy's
    // "ip:port" (no leading zero in the port, IPv6 in brackets), not the text it was given as
    expect(read({ 'source.address': '10.1.2.3:04567', my_custom: 'two' }, 'b')).toEqual(['/p/b', nf, 'b', '10.1.2.3:4567', 'props', 'two']);
    expect(read({ 'source.address': '[::1]:80' }, 'c')).toEqual(['/p/c', nf, 'c', '[::1]:80', 'props', nf]);
    expect(read({ 'source.address': '[::1]:080' }, 'd')[3]).toBe('[::1]:80');
  });

  it('sends a local reply through the filter response path, and one from the response phase directly', async () => {
    const h = await features();
    const s = h.newStream();
    const r = s.requestHeaders(GET([['x-action', 'local-reply']]), true);
    expect(r.action).toBe('stop');
    expect(r.localReply).toMatchObject({ status: 403, body: 'blocked by fixture', details: 'fixture_denied' });
    expect(hdr(r.localReply!.headers, 'x-fixture')).toBe('local');
    expect(hdr(r.localReply!.headers, 'content-type')).toBe('text/plain');
    expect(hdr(r.localReply!.headers, 'x-fixture-response')).toBe('1'); // on_response_headers ran on the reply
    s.done();
    const s2 = h.newStream();
    expect(s2.requestHeaders(GET([['x-resp-action', 'local-reply']]), true).action).toBe('continue');
    const r2 = s2.responseHeaders([[':status', '200']], true);
    expect(r2.localReply).toMatchObject({ status: 418, body: 'short and stout', details: 'teapot' });
    s2.done();
    // A reply sent from on_response_headers while the filter's own reply is encoded replaces
    // it (FilterManager::sendLocalReply → sendDirectLocalReply: headers not at the codec yet).
    const s3 = h.newStream();
    const r3 = s3.requestHeaders(GET([['x-action', 'local-reply'], ['x-resp-action', 'local-reply']]), true);
    expect(r3.localReply).toMatchObject({ status: 418, body: 'short and stout', details: 'teapot' });
    expect(hdr(r3.localReply!.headers, 'x-fixture-response')).toBeUndefined();
    s3.done();
    expect(s3.info.responseCodeDetails).toBe('teapot');
  });

  it('turns StopIteration into a pause that proxy_continue_stream releases', async () => {
    const h = await features();
    const s = h.newStream();
    expect(s.requestHeaders(GET([['x-action', 'stop']]), true).action).toBe('stop');
    s.done();
    const s2 = h.newStream();
    expect(s2.requestHeaders(GET([['x-action', 'stop-continue']]), true).action).toBe('continue');
    expect(s2.resumed.request).toBe(true);
    s2.done();
  });

  it('refuses http_call to an unknown cluster with BadArgument', async () => {
    const h = await features();
    const s = h.newStream();
    const r = s.requestHeaders(GET([['x-action', 'callout']]), true);
    expect(r.action).toBe('continue');
    expect(hdr(r.headers, 'x-callout-result')).toBe(String(WasmResult.BadArgument));
    s.done();
  });

  it('delivers shared-queue items to the registering root context asynchronously', async () => {
    const h = await features();
    const s = h.newStream();
    expect(hdr(s.requestHeaders(GET([['x-action', 'enqueue']]), true).headers, 'x-queue')).toBe(`0,0,${WasmResult.NotFound}`);
    s.done();
    expect(h.metrics['wasmcustom.fixture_queue_items']).toBe(0); // on_queue_ready is posted, not inline
    await new Promise((r) => setImmediate(r));
    expect(h.metrics['wasmcustom.fixture_queue_items']).toBe(1);
  });

  it('rewrites a request body with set_buffer_bytes', async () => {
    const h = await features();
    const s = h.newStream();
    expect(s.requestHeaders(GET([['x-body-action', 'upper']]), false).action).toBe('continue');
    expect(s.requestBody('hello body', true).body.toString()).toBe('HELLO BODY');
    s.done();
  });

  it('fails closed on a trap (503, details wasm_fail_stream) and stays failed; fail_open skips the filter', async () => {
    const h = await features();
    const s = h.newStream();
    const r = s.requestHeaders(GET([['x-action', 'trap']]), true);
    expect(r.localReply).toEqual({ status: 503, body: '', headers: [], details: 'wasm_fail_stream' });
    s.done();
    expect(h.failed).toBe(true);
    expect(h.logs.some((l) => l.level === 'error' && l.message.startsWith('Wasm VM failed Function: proxy_on_request_headers failed: Uncaught RuntimeError: unreachable'))).toBe(true);
    const s2 = h.newStream();
    expect(s2.requestHeaders(GET(), true).localReply?.status).toBe(503);
    s2.done();

    const open = await features('{}', { failOpen: true });
    const o = open.newStream();
    expect(o.requestHeaders(GET([['x-action', 'abort']]), true)).toMatchObject({ action: 'continue' });
    o.done();
    const o2 = open.newStream();
    const r2 = o2.requestHeaders(GET(), true);
    expect(r2.action).toBe('continue');
    expect(hdr(r2.headers, 'x-eos')).toBeUndefined(); // the failed filter no longer runs
    o2.done();
  });

  it('failure_policy FAIL_OPEN skips a failed VM for new streams only; streams already on it get 503 (legacy fail_open: all continue)', async () => {
    // Envoy's PluginConfig::createContext reads failure_policy (FAIL_OPEN: no filter for a new
    // stream on a failed VM); cpp-host CHECK_FAIL reads PluginBase::fail_open_, which Envoy's
    // Plugin sets from the legacy fail_open field only: with failure_policy alone (Istio >= 1.25)
    // a stream whose filter is in the chain is failed (failStream: 503 wasm_fail_stream).
    const run = async (spec: Partial<Parameters<typeof WasmHost.load>[0]>) => {
      const h = await features('{}', spec);
      const inflight = h.newStream();
      expect(inflight.requestHeaders(GET(), true).action).toBe('continue');
      const trap = h.newStream();
      const t = trap.requestHeaders(GET([['x-action', 'trap']]), true);
      trap.done();
      const later = inflight.responseHeaders([[':status', '200']], true);
      inflight.done();
      const fresh = h.newStream();
      const f = fresh.requestHeaders(GET(), true);
      fresh.done();
      expect(h.failed).toBe(true);
      return { trap: t.localReply?.details ?? t.action, inflight: later.localReply?.details ?? later.action, fresh: f.localReply?.details ?? f.action };
    };
    expect(await run({ failurePolicy: 'FAIL_OPEN' })).toEqual({ trap: 'wasm_fail_stream', inflight: 'wasm_fail_stream', fresh: 'continue' });
    expect(await run({ failOpen: true })).toEqual({ trap: 'continue', inflight: 'continue', fresh: 'continue' });
    expect(await run({ failurePolicy: 'FAIL_CLOSED' })).toEqual({ trap: 'wasm_fail_stream', inflight: 'wasm_fail_stream', fresh: 'wasm_fail_stream' });
    expect(await run({})).toEqual({ trap: 'wasm_fail_stream', inflight: 'wasm_fail_stream', fresh: 'wasm_fail_stream' });
    // PluginConfig: "only one of fail_open or failure_policy can be set"
    await expect(features('{}', { failOpen: true, failurePolicy: 'FAIL_OPEN' })).rejects.toThrow('only one of fail_open or failure_policy can be set');
  });

  it('exports custom metrics under wasmcustom.* with Envoy semantics', async () => {
    const h = await features();
    for (let i = 0; i < 3; i++) {
      const s = h.newStream();
      s.requestHeaders(GET(), true);
      s.responseHeaders([[':status', '200']], true);
      s.done();
    }
    expect(h.metrics).toMatchObject({
      'wasmcustom.fixture_requests': 3,
      'wasmcustom.fixture_inflight': 0,
      'wasmcustom.fixture_latency.count': 3,
      'wasmcustom.fixture_latency.sum': 15,
    });
  });

  it('collects proxy_log per level and honours the Envoy log level', async () => {
    const h = await features('{}', { logLevel: 'warn' });
    const s = h.newStream();
    s.requestHeaders(GET([['x-action', 'log']]), true);
    s.done();
    const levels = h.logs.filter((l) => l.message.startsWith('level ')).map((l) => l.level);
    expect(levels).toEqual(['warn', 'error', 'critical']);
    const all = await features('{}', { logLevel: 'trace' });
    const s2 = all.newStream();
    s2.requestHeaders(GET([['x-action', 'log']]), true);
    s2.done();
    expect(all.logs.filter((l) => l.message.startsWith('level ')).map((l) => l.level)).toEqual(['trace', 'debug', 'info', 'warn', 'error', 'critical']);
  });

  it('runs on_log with the final maps after the response, then on_done/on_delete', async () => {
    const h = await features();
    const s = h.newStream();
    s.requestHeaders(GET([['x-action', 'time']]), true);
    s.responseHeaders([[':status', '204']], true);
    s.done();
    expect(h.logs.at(-1)?.message).toBe(`access code=204 action=time flags=0 details=<${WasmResult.NotFound}>`);
    expect(h.vm.contexts.size).toBe(2); // VM context + root context: the stream context is gone
  });

  it('reconfigure: a rejected config keeps the old one (canary), an accepted one replaces the root context', async () => {
    const h = await features('{"variant":"v1"}');
    const variant = () => {
      const s = h.newStream();
      const v = hdr(s.requestHeaders(GET(), true).headers, 'x-config-variant');
      s.done();
      return v;
    };
    const oldRoot = h.root.id;
    expect(h.configure('{"variant":"v2","reject":true}')).toBe(false);
    expect(h.logs.some((l) => l.vm === -1 && l.message.startsWith('rejecting configuration'))).toBe(true);
    expect(variant()).toBe('v1');
    expect(h.configure('{"variant":"v2"}')).toBe(true);
    expect(h.root.id).not.toBe(oldRoot);
    expect(h.vm.contexts.has(oldRoot)).toBe(false); // on_done/on_delete ran for the old root
    expect(variant()).toBe('v2');
    await expect(features('{"reject":true}')).rejects.toThrow('Failed to configure');
  });

  it('keeps linear memory flat over many stream lifecycles', async () => {
    const h = await WasmHost.load({ wasm: NOOP, rootId: 'noop', configuration: '{}' });
    const f = await features();
    const before = [h.memoryPages(), f.memoryPages()];
    for (let i = 0; i < 5000; i++) {
      for (const host of [h, f]) {
        const s = host.newStream();
        s.requestHeaders(GET([['x-action', 'props']]), true);
        s.responseHeaders([[':status', '200']], true);
        s.done();
      }
    }
    expect([h.memoryPages(), f.memoryPages()]).toEqual(before);
  });
});

describe('shared data', () => {
  it('has Envoy CAS semantics', () => {
    const d = new SharedData();
    expect(d.get('vm', 'k')).toBeUndefined();
    expect(d.set('vm', 'k', Buffer.from('1'), 12345)).toBe(WasmResult.Ok); // absent key: any cas
    const { cas } = d.get('vm', 'k')!;
    expect(cas).not.toBe(0);
    expect(d.set('vm', 'k', Buffer.from('2'), cas + 1)).toBe(WasmResult.CasMismatch);
    expect(d.set('vm', 'k', Buffer.from('2'), cas)).toBe(WasmResult.Ok);
    expect(d.set('vm', 'k', Buffer.from('3'), cas)).toBe(WasmResult.CasMismatch); // cas moved on
    expect(d.set('vm', 'k', Buffer.from('4'), 0)).toBe(WasmResult.Ok); // 0 = unconditional
    expect(d.getString('vm', 'k')).toBe('4');
    expect(d.get('other-vm', 'k')).toBeUndefined(); // keyed by vm_id
  });

  it('is shared by VMs with the same vm_id; CAS retries lose no update under interleaving', async () => {
    const shared = new SharedData();
    const hosts = await Promise.all(
      [0, 1, 2, 3].map((i) => WasmHost.load({ wasm: FEATURES, rootId: 'features', configuration: '{}', sharedData: shared, index: i })),
    );
    const other = await WasmHost.load({ wasm: FEATURES, rootId: 'features', configuration: '{}', sharedData: shared, vmId: 'isolated' });
    // Seed the key: on an absent key a read yields no cas and a set with cas 0 is unconditional,
    // so concurrent *creation* is not CAS-protected in Envoy either.
    shared.set('', 'features.counter', Buffer.from('0'), 0);
    // Phase 1 on every VM reads (value, cas); phase 2 writes with that cas, retrying on mismatch.
    const rounds = 25;
    let total = 0;
    for (let r = 0; r < rounds; r++) {
      const streams = hosts.flatMap((h) => [h.newStream(), h.newStream()]);
      for (const s of streams) s.requestHeaders(GET([['x-action', 'cas-read']]), true);
      for (const s of streams.reverse()) {
        s.responseHeaders([[':status', '200']], true);
        s.done();
        total++;
      }
    }
    // one-shot increments too
    for (const h of hosts) {
      const s = h.newStream();
      s.requestHeaders(GET([['x-action', 'cas-incr']]), true);
      s.done();
      total++;
    }
    expect(shared.getString('', 'features.counter')).toBe(String(total));
    expect(hosts[0].metrics['wasmcustom.fixture_cas_retries']).toBeGreaterThan(0);
    expect(shared.getString('isolated', 'features.counter')).toBeUndefined();
    const s = other.newStream();
    expect(hdr(s.requestHeaders(GET([['x-action', 'cas-incr']]), true).headers, 'x-count')).toBe('1');
    s.done();
  });
});

describe('shared data lifetime: a vm_id\'s data goes with its last VM', () => {
  // proxy-wasm-cpp-host: every base VM (WasmBase built from code, one per vm key) holds a
  // VmIdHandle on its vm_id (src/wasm.cc, src/vm_id_handle.cc); ~VmIdHandle of the last one
  // runs SharedData::deleteByVmId and SharedQueue::deleteByVmId.
  it('deletes the data and queues of a vm_id when its last holder releases it, and only then', () => {
    const d = new SharedData();
    const a = d.holdVmId('vm');
    const b = d.holdVmId('vm');
    const other = d.holdVmId('other');
    d.set('vm', 'k', Buffer.from('1'), 0);
    d.set('other', 'k', Buffer.from('2'), 0);
    d.queues.register('vm', 'q', { onQueueReady() {} }, 1);
    a.release();
    a.release(); // once per handle
    expect(d.getString('vm', 'k')).toBe('1');
    expect(d.queues.resolve('vm', 'q')).not.toBe(0);
    b.release();
    expect(d.getString('vm', 'k')).toBeUndefined();
    expect(d.keys('vm')).toEqual([]);
    expect(d.queues.resolve('vm', 'q')).toBe(0);
    expect(d.getString('other', 'k')).toBe('2');
    other.release();
    expect(d.getString('other', 'k')).toBeUndefined();
  });

  it('WasmHost.close() releases its vm_id: the last host of the vm_id takes the data with it', async () => {
    const shared = new SharedData();
    const [h1, h2] = await Promise.all([0, 1].map((i) => features('{}', { sharedData: shared, index: i })));
    const s = h1.newStream();
    s.requestHeaders(GET([['x-action', 'cas-incr']]), true);
    s.done();
    expect(shared.getString('', 'features.counter')).toBe('1');
    h1.close();
    expect(shared.getString('', 'features.counter')).toBe('1');
    h2.close();
    expect(shared.getString('', 'features.counter')).toBeUndefined();
  });

  it('survives a full VM replacement (the new VMs come up before the old go); goes when the filter is removed', async () => {
    const up = await upstream('up');
    const shared = new SharedData();
    const gw = await startEnvoy({
      filters: [{ wasm: FEATURES, rootId: 'features', configuration: '{}' }],
      workers: 2,
      clusters: { up: { host: '127.0.0.1', port: up.port } },
      routes: [{ cluster: 'up' }],
      sharedData: shared,
    });
    try {
      for (let i = 0; i < 2; i++) await request(`${gw.url}/`, { 'x-action': 'cas-incr' });
      expect(shared.getString('', 'features.counter')).toBe('2');
      const before = [...gw.vms];
      // a new vm configuration: a new vm key, so new base and worker VMs
      expect(await gw.replaceFilter('features', { vmConfiguration: 'v2' })).toBe(true);
      expect(gw.vms).toHaveLength(2);
      expect(gw.vms.some((vm) => before.includes(vm))).toBe(false);
      expect(shared.getString('', 'features.counter')).toBe('2');
      await request(`${gw.url}/`, { 'x-action': 'cas-incr' });
      expect(shared.getString('', 'features.counter')).toBe('3');
      // the filter leaves the chain: its VMs were the vm_id's last
      expect(gw.removeFilter('features')).toBe(true);
      expect(shared.getString('', 'features.counter')).toBeUndefined();
      expect((await request(`${gw.url}/`)).status).toBe(200);
    } finally {
      await gw.close();
      await up.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Gateway
// ---------------------------------------------------------------------------------------------

interface Upstream {
  port: number;
  hits: number;
  close(): Promise<void>;
}

async function upstream(name: string, handler?: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<Upstream> {
  const u = { port: 0, hits: 0, close: async () => {} } as Upstream;
  const server = http.createServer((req, res) => {
    u.hits++;
    if (handler) return handler(req, res);
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ upstream: name, method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString() }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  u.port = (server.address() as AddressInfo).port;
  u.close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return u;
}


interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function request(url: string, headers: Record<string, string> = {}, method = 'GET', body?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(parts).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('gateway: a real HTTP proxy on loopback', () => {
  let stable: Upstream;
  let canary: Upstream;
  let gw: EnvoyGateway;
  const seen: Array<{ upstream: string; headers: Record<string, string | string[]> }> = [];

  beforeAll(async () => {
    stable = await upstream('stable');
    canary = await upstream('canary');
    gw = await startEnvoy({
      filters: [
        { wasm: NOOP, rootId: 'noop', configuration: '{}' },
        { wasm: FEATURES, rootId: 'features', configuration: '{"variant":"canary"}' },
      ],
      workers: 2,
      clusters: { stable: { host: '127.0.0.1', port: stable.port }, canary: { host: '127.0.0.1', port: canary.port } },
      routes: [
        { header: { name: 'x-variant', value: 'canary' }, cluster: 'canary', name: 'to-canary' },
        { pathPrefix: '/', cluster: 'stable' },
      ],
      onUpstreamRequest: (a) => seen.push(a),
    });
  });

  afterAll(async () => {
    await gw?.close();
    await stable?.close();
    await canary?.close();
  });

  it('proxies to the routed cluster with Envoy request and response headers', async () => {
    const r = await request(`${gw.url}/hello?x=1`, { 'x-test': '1' });
    expect(r.status).toBe(200);
    const body = JSON.parse(r.body);
    expect(body.upstream).toBe('stable');
    expect(body.url).toBe('/hello?x=1');
    expect(body.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(body.headers['x-forwarded-proto']).toBe('http');
    expect(body.headers['x-envoy-expected-rq-timeout-ms']).toBe('15000');
    expect(body.headers['x-config-variant']).toBe('canary');
    expect(body.headers['x-eos']).toBe('1');
    expect(r.headers.server).toBe('envoy');
    expect(r.headers['x-envoy-upstream-service-time']).toMatch(/^\d+$/);
    expect(r.headers['x-fixture-response']).toBe('1');
  });

  it('re-routes after a filter changes a request header (route cache cleared)', async () => {
    const before = canary.hits;
    const r = await request(`${gw.url}/x`, { 'x-action': 'set-header' });
    expect(JSON.parse(r.body).upstream).toBe('canary');
    expect(canary.hits).toBe(before + 1);
    expect(seen.at(-1)).toMatchObject({ upstream: 'canary', headers: { 'x-variant': 'canary', host: `127.0.0.1:${gw.port}` } });
  });

  it('answers local replies without calling the upstream', async () => {
    const hits = stable.hits + canary.hits;
    const r = await request(`${gw.url}/x`, { 'x-action': 'local-reply' });
    expect(r.status).toBe(403);
    expect(r.body).toBe('blocked by fixture');
    expect(r.headers['x-fixture']).toBe('local');
    expect(r.headers['content-type']).toBe('text/plain');
    expect(r.headers['x-fixture-response']).toBe('1');
    expect(stable.hits + canary.hits).toBe(hits);
    const r2 = await request(`${gw.url}/x`, { 'x-resp-action': 'local-reply' });
    expect(r2.status).toBe(418);
    expect(r2.body).toBe('short and stout');
  });

  it('pauses for an http_call and resumes from on_http_call_response via the effective context', async () => {
    const hits = stable.hits;
    const r = await request(`${gw.url}/after-callout`, { 'x-action': 'callout' });
    expect(r.status).toBe(200);
    const body = JSON.parse(r.body);
    expect(body.url).toBe('/after-callout');
    expect(body.headers['x-callout-status']).toBe('200');
    expect(Number(body.headers['x-callout-body-size'])).toBeGreaterThan(0);
    expect(stable.hits).toBe(hits + 2); // the callout, then the request itself
  });

  it('passes request bodies through on_request_body', async () => {
    const r = await request(`${gw.url}/b`, { 'x-body-action': 'upper', 'content-type': 'text/plain' }, 'POST', 'quiet please');
    const body = JSON.parse(r.body);
    expect(body.body).toBe('QUIET PLEASE');
    expect(body.headers['x-eos']).toBe('0');
  });

  it('spreads requests over worker VMs and reports memory pages per VM', async () => {
    expect(gw.vms.length).toBe(4); // 2 workers × (noop VM, features VM)
    expect(gw.memoryPages()).toHaveLength(4);
    for (const p of gw.memoryPages()) expect(p).toBeGreaterThanOrEqual(1);
    const m = gw.metrics();
    expect(m['wasmcustom.fixture_requests']).toBeGreaterThan(0);
  });

  it('answers every one of many concurrent requests exactly once', async () => {
    const actions = ['', 'set-header', 'local-reply', 'props', 'cas-incr'];
    const replies = await Promise.all(Array.from({ length: 60 }, (_, i) => request(`${gw.url}/c/${i}`, { 'x-action': actions[i % actions.length] })));
    expect(replies.map((r) => r.status)).toEqual(Array.from({ length: 60 }, (_, i) => (i % actions.length === 2 ? 403 : 200)));
    expect(gw.sharedData.getString('', 'features.counter')).toBe('12');
  });

  it('reconfigure: rejected keeps the old config, accepted applies to every worker', async () => {
    expect(gw.reconfigure('features', '{"variant":"x","reject":true}')).toBe(false);
    expect(JSON.parse((await request(`${gw.url}/r`)).body).headers['x-config-variant']).toBe('canary');
    expect(gw.reconfigure('features', '{"variant":"blue"}')).toBe(true);
    for (let i = 0; i < 4; i++) expect(JSON.parse((await request(`${gw.url}/r`)).body).headers['x-config-variant']).toBe('blue');
    expect(gw.reconfigure('features', '{"variant":"canary"}')).toBe(true);
  });
});

describe('gateway: upstream failures and VM failures', () => {
  it('maps connect failure to 503 UF, connection termination to 503 UC, timeout to 504 UT, no route to 404', async () => {
    const reset = await upstream('reset', (req) => req.socket.destroy());
    const slow = await upstream('slow', () => {});
    const gw = await startEnvoy({
      filters: [{ wasm: FEATURES, rootId: 'features', configuration: '{}' }],
      workers: 1,
      clusters: {
        refused: { host: '127.0.0.1', port: await closedPort() },
        reset: { host: '127.0.0.1', port: reset.port },
        slow: { host: '127.0.0.1', port: slow.port },
      },
      routes: [
        { pathPrefix: '/refused', cluster: 'refused' },
        { pathPrefix: '/reset', cluster: 'reset' },
        { pathPrefix: '/slow', cluster: 'slow' },
        { pathPrefix: '/ghost', cluster: 'ghost' },
      ],
      upstreamTimeoutMs: 300,
    });
    try {
      const refused = await request(`${gw.url}/refused`);
      expect(refused.status).toBe(503);
      expect(refused.body).toBe(
        'upstream connect error or disconnect/reset before headers. reset reason: remote connection failure, transport failure reason: delayed connect error: Connection refused',
      );
      expect(refused.headers['x-fixture-response']).toBe('1'); // router replies pass through the filters
      const rr = await request(`${gw.url}/reset`);
      expect(rr.status).toBe(503);
      expect(rr.body).toBe('upstream connect error or disconnect/reset before headers. reset reason: connection termination');
      const t = await request(`${gw.url}/slow`);
      expect(t.status).toBe(504);
      expect(t.body).toBe('upstream request timeout');
      expect((await request(`${gw.url}/nowhere`)).status).toBe(404);
      expect((await request(`${gw.url}/ghost`)).status).toBe(503);
      const access = gw.logs().filter((l) => l.message.startsWith('access code='));
      expect(access.map((l) => l.message)).toEqual([
        // flags: UF 0x20, UC 0x40, UT 0x4, NR 0x100, NC 0x1000000 (Envoy's legacy response flag bits)
        'access code=503 action=<1> flags=32 details=upstream_reset_before_response_started{remote_connection_failure,delayed_connect_error:_Connection_refused}',
        'access code=503 action=<1> flags=64 details=upstream_reset_before_response_started{connection_termination}',
        'access code=504 action=<1> flags=4 details=upstream_response_timeout',
        'access code=404 action=<1> flags=256 details=route_not_found',
        'access code=503 action=<1> flags=16777216 details=cluster_not_found',
      ]);
      gw.setCluster('refused', { host: '127.0.0.1', port: reset.port });
      expect((await request(`${gw.url}/refused`)).body).toContain('connection termination');
    } finally {
      await gw.close();
      await reset.close();
      await slow.close();
    }
  });

  it("a local reply from on_response_headers replaces the router's own 503/504 (sendDirectLocalReply); after the headers reached the codec it resets", async () => {
    // FilterManager::sendLocalReply: while the router's reply is encoded through the filters
    // (sendLocalReplyViaFilterChain) its headers are set but not encoded, so a filter's reply
    // goes straight to the codec (sendDirectLocalReply) and the rest of the chain is aborted
    // (encoder_filter_chain_aborted_). Once the headers were encoded
    // (non_100_response_headers_encoded_), all Envoy can do is reset the stream.
    const reset = await upstream('reset', (req) => req.socket.destroy());
    const slow = await upstream('slow', () => {});
    const gw = await startEnvoy({
      filters: [
        { wasm: NOOP, rootId: 'noop', configuration: '{}' },
        { wasm: FEATURES, rootId: 'features', configuration: '{}' },
      ],
      workers: 1,
      clusters: {
        refused: { host: '127.0.0.1', port: await closedPort() },
        reset: { host: '127.0.0.1', port: reset.port },
        slow: { host: '127.0.0.1', port: slow.port },
      },
      routes: [
        { pathPrefix: '/refused', cluster: 'refused' },
        { pathPrefix: '/reset', cluster: 'reset' },
        { pathPrefix: '/slow', cluster: 'slow' },
      ],
      upstreamTimeoutMs: 300,
    });
    try {
      for (const p of ['/refused', '/reset', '/slow']) {
        const r = await request(`${gw.url}${p}`, { 'x-resp-action': 'local-reply' });
        expect(r.status, p).toBe(418);
        expect(r.body, p).toBe('short and stout');
        expect(r.headers['x-fixture'], p).toBe('resp-local');
        // a fresh reply: nothing a filter added to the router's reply, no filter saw it
        expect(r.headers['x-fixture-response'], p).toBeUndefined();
        expect(r.headers['content-type'], p).toBe('text/plain');
      }
      const access = gw.logs().filter((l) => l.message.startsWith('access code='));
      // the filter's code and details; the router's flags stay (UF 0x20, UC 0x40, UT 0x4)
      expect(access.map((l) => l.message)).toEqual([
        'access code=418 action=<1> flags=32 details=teapot',
        'access code=418 action=<1> flags=64 details=teapot',
        'access code=418 action=<1> flags=4 details=teapot',
      ]);
      // from on_response_body the router's headers are already at the codec: reset
      await expect(request(`${gw.url}/refused`, { 'x-resp-action': 'body-local-reply' })).rejects.toThrow();
    } finally {
      await gw.close();
      await reset.close();
      await slow.close();
    }
  });

  it('a trapping worker VM answers 503 from then on (fail closed); fail_open continues upstream', async () => {
    const up = await upstream('up');
    const mk = (failOpen: boolean) =>
      startEnvoy({
        filters: [{ wasm: FEATURES, rootId: 'features', configuration: '{}', failOpen }],
        workers: 2,
        clusters: { up: { host: '127.0.0.1', port: up.port } },
        routes: [{ cluster: 'up' }],
      });
    const closed = await mk(false);
    const open = await mk(true);
    try {
      const first = await request(`${closed.url}/`, { 'x-action': 'trap' }); // worker 0 traps
      expect(first.status).toBe(503);
      expect(first.body).toBe('');
      const seq = [];
      for (let i = 0; i < 4; i++) seq.push((await request(`${closed.url}/`)).status);
      expect(seq).toEqual([200, 503, 200, 503]); // worker 1 fine, worker 0 failed
      expect(closed.logs().some((l) => l.vm === 0 && l.message.includes('Wasm VM failed'))).toBe(true);
      // A configuration push replaces the crashed VM.
      expect(closed.reconfigure('features', '{"variant":"healed"}')).toBe(true);
      const healed = await Promise.all([request(`${closed.url}/`), request(`${closed.url}/`)]);
      expect(healed.map((r) => r.status)).toEqual([200, 200]);

      const o = await request(`${open.url}/`, { 'x-action': 'trap' });
      expect(o.status).toBe(200);
      expect(JSON.parse(o.body).upstream).toBe('up');
    } finally {
      await closed.close();
      await open.close();
      await up.close();
    }
  });

  it('failure_policy FAIL_OPEN (what Istio >= 1.25 renders for failStrategy FAIL_OPEN): the trapping request gets 503, later ones skip the filter', async () => {
    const up = await upstream('up');
    const gw = await startEnvoy({
      filters: [{ wasm: FEATURES, rootId: 'features', configuration: '{"variant":"v"}', failurePolicy: 'FAIL_OPEN' }],
      workers: 1,
      clusters: { up: { host: '127.0.0.1', port: up.port } },
      routes: [{ cluster: 'up' }],
    });
    try {
      expect(JSON.parse((await request(`${gw.url}/`)).body).headers['x-config-variant']).toBe('v'); // the filter runs
      const trapped = await request(`${gw.url}/`, { 'x-action': 'trap' });
      expect([trapped.status, trapped.body]).toEqual([503, '']);
      const later = await request(`${gw.url}/`);
      expect(later.status).toBe(200);
      expect(JSON.parse(later.body).headers['x-config-variant']).toBeUndefined(); // the filter did not run
    } finally {
      await gw.close();
      await up.close();
    }
  });

  it('rejects a filter whose configuration the module refuses (listener would not start)', async () => {
    await expect(
      startEnvoy({
        filters: [{ wasm: FEATURES, rootId: 'features', configuration: '{"reject":true}' }],
        clusters: {},
        routes: [],
      }),
    ).rejects.toThrow('Unable to create Wasm HTTP filter features');
  });

  it('stream idle timeout answers a paused request with 408; close_stream resets the connection', async () => {
    const up = await upstream('up');
    const gw = await startEnvoy({
      filters: [{ wasm: FEATURES, rootId: 'features', configuration: '{}' }],
      workers: 1,
      clusters: { up: { host: '127.0.0.1', port: up.port } },
      routes: [{ cluster: 'up' }],
      streamIdleTimeoutMs: 200,
    });
    try {
      const r = await request(`${gw.url}/`, { 'x-action': 'stop' });
      expect(r.status).toBe(408);
      expect(r.body).toBe('stream timeout');
      expect((await request(`${gw.url}/`, { 'x-action': 'stop-continue' })).status).toBe(200);
      await expect(request(`${gw.url}/`, { 'x-action': 'close' })).rejects.toThrow();
      expect(up.hits).toBe(1);
    } finally {
      await gw.close();
      await up.close();
    }
  });
});
