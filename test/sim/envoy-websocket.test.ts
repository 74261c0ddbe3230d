// A WebSocket handshake through the Envoy harness (issue 18 item 6). What Envoy does, and
// the harness must do the same:
// - source/common/http/conn_manager_impl.cc ActiveStream::decodeHeaders: an upgrade
//   request (Connection lists "upgrade" and an Upgrade header: Http::Utility::isUpgrade)
//   whose type the HCM's upgrade_configs (or the route's) do not enable is answered 403,
//   empty body, details upgrade_failed, before any filter's on_request_headers
//   (FilterManager::createFilterChain returned false; the default chain encodes the reply),
//   and the connection is closed (saw_connection_close_);
// - conn_manager_utility.cc mutateRequestHeaders: an upgrade keeps its Connection and
//   Upgrade headers, forwarded verbatim;
// - the upstream's 101 goes through the filters' response-headers callbacks like any
//   response head (router.cc / upstream_request.cc pass a 101 on, other 1xx are dropped),
//   then the tunnel's bytes are the stream's body in both directions, and the stream
//   (on_log) ends when the tunnel closes.
// Each test failed on the harness before upgrades (Upgrade and Connection were dropped as
// hop-by-hop, the upstream saw a plain GET and the client got its 200).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEnvoy, type EnvoyGateway, type RouteSpec } from '../../sim/envoy/index.js';
import { echoOf, handshake, wsUpstream } from '../support/websocket';
import { compileFixtures, type CompiledFixtures } from '../support/envoy-fixtures';

let fixtures: CompiledFixtures | undefined;
let FEATURES = '';

beforeAll(async () => {
  fixtures = await compileFixtures('ws', ['features']);
  FEATURES = fixtures.wasm.features;
}, 120_000);
afterAll(async () => {
  await fixtures?.remove();
});

const WS = { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13' };
const accessLines = (gw: EnvoyGateway) => gw.logs().filter((l) => l.message.startsWith('access code=')).map((l) => l.message);
const until = async (cond: () => boolean) => { const end = Date.now() + 3000; while (!cond() && Date.now() < end) await new Promise((ok) => setTimeout(ok, 5)); };

async function gateway(port: number, opts: { upgradeConfigs?: string[]; route?: Partial<RouteSpec> } = {}): Promise<EnvoyGateway> {
  return startEnvoy({
    filters: [{ wasm: FEATURES, rootId: 'features', configuration: '{}' }],
    workers: 1,
    clusters: { up: { host: '127.0.0.1', port } },
    routes: [{ cluster: 'up', ...opts.route }],
    ...(opts.upgradeConfigs ? { upgradeConfigs: opts.upgradeConfigs } : {}),
  });
}

describe('Envoy harness: WebSocket upgrade', () => {
  let up: Awaited<ReturnType<typeof wsUpstream>>;
  beforeAll(async () => { up = await wsUpstream(); });
  afterAll(async () => { await up?.close(); });

  it('HCM upgrade_configs websocket: the 101 passes on_response_headers, the tunnel echoes, on_log runs at close', async () => {
    const gw = await gateway(up.port, { upgradeConfigs: ['websocket'] });
    try {
      const r = await handshake(gw.port, { ...WS, 'x-resp-action': 'body-frames' });
      expect(r.kind).toBe('upgrade');
      if (r.kind !== 'upgrade') return;
      expect(r.status).toBe(101);
      // the filter's on_response_headers ran on the 101 and saw its status
      expect(r.headers['x-fixture-response']).toBe('1');
      expect(r.headers['x-resp-code']).toBe('101');
      expect(r.headers.upgrade).toBe('websocket');
      expect(r.headers.server).toBe('envoy');
      // Connection and Upgrade went upstream as the client sent them
      const hs = up.seen.at(-1)!;
      expect(hs.upgrade).toBe('websocket');
      expect(hs.connection).toBe('Upgrade');
      expect(await echoOf(r.socket, 'ping-1')).toBe('ping-1');
      expect(await echoOf(r.socket, 'ping-22')).toBe('ping-22');
      // the tunnel's upstream bytes are response body frames through on_response_body
      const frames = gw.logs().filter((l) => l.message.startsWith('body len=')).map((l) => l.message);
      expect(frames).toEqual(['body len=6 eos=0', 'body len=7 eos=0']);
      await new Promise((ok) => setTimeout(ok, 30));
      expect(accessLines(gw)).toEqual([]);
      // the upstream closes: the client's connection closes, the stream ends, on_log runs
      // once with the 101 (how Envoy flags an upstream's close of a tunnel is not asserted)
      const closed = new Promise<void>((ok) => r.socket.on('close', () => ok()));
      up.sockets.at(-1)!.end();
      await closed;
      await until(() => accessLines(gw).length > 0);
      expect(accessLines(gw)).toHaveLength(1);
      expect(accessLines(gw)[0]).toMatch(/^access code=101 /);
    } finally {
      await gw.close();
    }
  });

  it('the client closing the tunnel ends the stream: downstream connection termination (DC)', async () => {
    const gw = await gateway(up.port, { upgradeConfigs: ['websocket'] });
    try {
      const r = await handshake(gw.port, WS);
      if (r.kind !== 'upgrade') throw new Error(`no upgrade: ${r.status}`);
      const upSock = up.sockets.at(-1)!;
      // the upstream sees its connection end (FIN; the test server keeps half-open sockets)
      const upClosed = new Promise<void>((ok) => { upSock.on('end', () => ok()); upSock.on('close', () => ok()); });
      r.socket.destroy();
      await upClosed;
      await until(() => accessLines(gw).length > 0);
      // DC = 0x4000 (DownstreamConnectionTermination, abi-status.ts)
      expect(accessLines(gw)[0]).toMatch(new RegExp(`^access code=101 action=<\\d+> flags=${0x4000} `));
    } finally {
      await gw.close();
    }
  });

  it("without upgrade_configs (Envoy's default) an upgrade is refused: 403, empty body, upgrade_failed, connection closed, no upstream call", async () => {
    const gw = await gateway(up.port);
    const before = up.seen.length;
    try {
      const r = await handshake(gw.port, WS);
      expect(r.kind).toBe('response');
      expect(r.status).toBe(403);
      if (r.kind !== 'response') return;
      expect(r.body).toBe('');
      expect(r.headers.connection).toBe('close');
      expect(up.seen.length).toBe(before);
      await until(() => accessLines(gw).length > 0);
      expect(accessLines(gw)[0]).toMatch(/^access code=403 .* details=upgrade_failed$/);
    } finally {
      await gw.close();
    }
  });

  it('a route may enable an upgrade the HCM does not, or disable one it does (RouteAction upgrade_configs)', async () => {
    const on = await gateway(up.port, { route: { upgradeConfigs: { websocket: true } } });
    const off = await gateway(up.port, { upgradeConfigs: ['websocket'], route: { upgradeConfigs: { WebSocket: false } } });
    try {
      expect((await handshake(on.port, WS)).status).toBe(101);
      expect((await handshake(off.port, WS)).status).toBe(403);
      // a type the HCM does not list: refused
      expect((await handshake(on.port, { connection: 'Upgrade', upgrade: 'h2c-other' })).status).toBe(403);
    } finally {
      await on.close();
      await off.close();
    }
  });

  it('an Upgrade header without "upgrade" in Connection is no upgrade: both headers dropped, a plain request', async () => {
    const gw = await gateway(up.port);
    try {
      const r = await handshake(gw.port, { upgrade: 'websocket', connection: 'keep-alive' });
      expect(r.status).toBe(200);
      const hs = up.seen.at(-1)!;
      expect(hs.upgrade).toBeUndefined();
    } finally {
      await gw.close();
    }
  });
});
