// The listener's codec choice. Envoy's HCM with codec_type AUTO (its default; `tandem render`
// and Istio's gateways write no codec_type) picks the codec per connection from the first bytes
// read: ConnectionManagerUtility::determineNextProtocol (source/common/http/conn_manager_utility.cc)
// answers "h2" when ALPN said so (TLS, not modelled) or when the data so far starts with
// Http2::CLIENT_MAGIC_PREFIX ("PRI * HTTP/2"), else HTTP/1; autoCreateCodec then builds that
// codec. So a cleartext client gets HTTP/2 only with prior knowledge: an HTTP/1.1 request with
// `Upgrade: h2c` is an HTTP/1.1 request like any other (./upgrade.ts).
// Envoy looks at the first read only ("we ignore the case where someone sends us the first few
// bytes of the HTTP/2 prefix"): so does this.

import type { Socket } from 'node:net';

export const CLIENT_MAGIC_PREFIX = 'PRI * HTTP/2';

export function isH2cPreface(first: Buffer): boolean {
  return first.subarray(0, CLIENT_MAGIC_PREFIX.length).toString('latin1') === CLIENT_MAGIC_PREFIX;
}

/**
 * Reads a new connection's first bytes and hands the socket, with those bytes put back, to
 * the HTTP/2 or the HTTP/1 server. A connection closed before sending anything is dropped.
 */
export function dispatchByPreface(socket: Socket, onH2: (s: Socket) => void, onH1: (s: Socket) => void): void {
  const closedEarly = () => socket.destroy();
  socket.once('error', closedEarly);
  socket.once('end', closedEarly);
  socket.once('data', (first: Buffer) => {
    socket.removeListener('error', closedEarly);
    socket.removeListener('end', closedEarly);
    socket.pause();
    socket.unshift(first);
    if (isH2cPreface(first)) return onH2(socket); // Node's HTTP/2 session reads the unshifted bytes first
    // Node's HTTP/1 server would read the socket's handle natively and skip the bytes put
    // back; marked as consumed, its parser takes the socket's data events instead (as for a
    // TLS socket), which deliver the first bytes, then the rest, in order.
    (socket as unknown as { _handle?: { _consumed?: boolean } })._handle!._consumed = true;
    onH1(socket);
    socket.resume();
  });
}
