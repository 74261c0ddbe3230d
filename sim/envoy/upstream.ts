// The router's upstream request over Node http, with Envoy's failure classification
// (source/common/router/router.cc onUpstreamReset / streamResetReasonToResponseFlag /
// onUpstreamTimeoutAbort):
// - connection refused/unreachable → reset reason "remote connection failure", transport
//   failure reason "delayed connect error: <strerror>", flag UF, 503;
// - the upstream closes the HTTP/1 connection before response headers → "connection
//   termination", flag UC, 503 (an HTTP/2 RST_STREAM would be "remote reset"/UR; HTTP/1 cannot
//   express it);
// - no response headers within the route timeout → 504 "upstream request timeout", flag UT.
// One try; the router's retries (a route's retry_policy) are the caller's loop (http-stream.ts, retry.ts).

import http from 'node:http';
import type { Duplex } from 'node:stream';
import { ResponseFlag } from './abi-status.js';
import { sendUpstreamH2, type H2Pool } from './upstream-h2.js';
import { CallTimer } from '../common/call-timer.js';

// `upgraded`: the upstream answered an upgrade request with 101 and the connection is now
// a tunnel (its socket, and any bytes that came after the 101's head).
export type UpstreamOutcome =
  | { kind: 'response'; res: http.IncomingMessage; localAddress?: { ip: string; port: number }; upgraded?: { socket: Duplex; head: Buffer } }
  | { kind: 'reset'; reason: string; transportFailure: string; flag: number; refusedStream?: boolean }
  | { kind: 'timeout' };

const STRERROR: Record<string, string> = {
  ECONNREFUSED: 'Connection refused',
  EHOSTUNREACH: 'No route to host',
  ENETUNREACH: 'Network is unreachable',
  ETIMEDOUT: 'Connection timed out',
};

export interface UpstreamRequest {
  host: string;
  port: number;
  method: string;
  path: string;
  headers: http.OutgoingHttpHeaders;
  body: Buffer | null;
  timeoutMs: number;
  agent: http.Agent;
  /** The cluster speaks HTTP/2 (http2_protocol_options): its pool (./upstream-h2.ts). */
  h2?: H2Pool;
}

export interface UpstreamCall {
  outcome: Promise<UpstreamOutcome>;
  /** Resets the upstream stream (downstream went away). */
  abort(): void;
  /** The response completed: stop the route timer. */
  complete(): void;
  /**
   * The route timeout covers the whole response: if it fires after headers were received,
   * Envoy resets the stream (the client sees a truncated response).
   */
  onLateTimeout?: () => void;
}

export function sendUpstream(r: UpstreamRequest): UpstreamCall {
  if (r.h2) return sendUpstreamH2(r, r.h2);
  let req: http.ClientRequest;
  let connected = false;
  let t!: CallTimer<UpstreamOutcome>;
  const call: UpstreamCall = {
    outcome: undefined as unknown as Promise<UpstreamOutcome>,
    abort: () => {
      t.stop();
      req?.destroy();
    },
    complete: () => t.stop(),
  };
  call.outcome = new Promise<UpstreamOutcome>((resolve) => {
    t = new CallTimer(resolve);
    const settle = (o: UpstreamOutcome) => t.settle(o, o.kind === 'response');
    req = http.request({
      host: r.host,
      port: r.port,
      method: r.method,
      path: r.path,
      headers: r.headers,
      agent: r.agent,
      setHost: false,
    });
    req.on('socket', (s) => {
      if (!s.connecting) connected = true;
      else s.once('connect', () => (connected = true));
    });
    req.on('response', (res) => {
      const s = res.socket;
      settle({
        kind: 'response',
        res,
        localAddress: s?.localAddress ? { ip: s.localAddress, port: s.localPort ?? 0 } : undefined,
      });
    });
    // A 101 to an upgrade request (Node hands it over as 'upgrade', with the raw socket):
    // the response head, and the connection becomes the tunnel.
    req.on('upgrade', (res, socket, head) => {
      settle({
        kind: 'response',
        res,
        localAddress: socket.localAddress ? { ip: socket.localAddress, port: socket.localPort ?? 0 } : undefined,
        upgraded: { socket, head },
      });
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      const code = err.code ?? '';
      if (!connected || code in STRERROR) {
        settle({
          kind: 'reset',
          reason: 'remote connection failure',
          transportFailure: `delayed connect error: ${STRERROR[code] ?? err.message}`,
          flag: ResponseFlag.UpstreamConnectionFailure,
        });
      } else {
        settle({ kind: 'reset', reason: 'connection termination', transportFailure: '', flag: ResponseFlag.UpstreamConnectionTermination });
      }
    });
    t.arm(r.timeoutMs, (late) => {
      if (!late) settle({ kind: 'timeout' });
      req.destroy();
      if (late) call.onLateTimeout?.();
    });
    req.end(r.body ?? undefined);
  });
  return call;
}
