// One TCP listener for HTTP/1.1 and cleartext HTTP/2 with prior knowledge, the codec chosen
// per connection from the client's first bytes. Both gateways do this on a plain port, with
// different rules for reading those bytes (the caller's `decide`):
// - Envoy's HCM with codec_type AUTO looks at the first read only (sim/envoy/h2c-listener.ts);
// - nginx with `http2 on` waits while what came so far is a prefix of the 24-byte preface
//   (sim/kong/h2c-listener.ts).
// What is shared is the plumbing: read, put the bytes back, hand the socket to Node's HTTP/2
// session or HTTP/1 parser.

import type { Socket } from 'node:net';

/** The full client connection preface (RFC 9113 3.4). */
export const H2_PREFACE = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n';

/** 'h2' / 'h1': the codec; 'more': read on (what came so far does not decide). */
export type PrefaceVerdict = 'h2' | 'h1' | 'more';

/**
 * Reads a new connection's first bytes until `decide` says which codec, and hands the
 * socket, with those bytes put back, to the HTTP/2 or the HTTP/1 server. A connection
 * closed before that is dropped.
 */
export function dispatchByPreface(
  socket: Socket,
  decide: (soFar: Buffer) => PrefaceVerdict,
  onH2: (s: Socket) => void,
  onH1: (s: Socket) => void,
): void {
  let soFar: Buffer = Buffer.alloc(0);
  const closedEarly = () => socket.destroy();
  const onData = (chunk: Buffer) => {
    soFar = soFar.length ? Buffer.concat([soFar, chunk]) : chunk;
    const v = decide(soFar);
    if (v === 'more') return;
    socket.removeListener('data', onData);
    socket.removeListener('error', closedEarly);
    socket.removeListener('end', closedEarly);
    socket.pause();
    socket.unshift(soFar);
    if (v === 'h2') return onH2(socket); // Node's HTTP/2 session reads the unshifted bytes first
    // Node's HTTP/1 server would read the socket's handle natively and skip the bytes put
    // back; marked as consumed, its parser takes the socket's data events instead (as for a
    // TLS socket), which deliver the first bytes, then the rest, in order.
    (socket as unknown as { _handle?: { _consumed?: boolean } })._handle!._consumed = true;
    onH1(socket);
    socket.resume();
  };
  socket.once('error', closedEarly);
  socket.once('end', closedEarly);
  socket.on('data', onData);
}
