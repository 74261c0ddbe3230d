// The listener's codec choice. Envoy's HCM with codec_type AUTO (its default; `tandem render`
// and Istio's gateways write no codec_type) picks the codec per connection from the first bytes
// read: ConnectionManagerUtility::determineNextProtocol (source/common/http/conn_manager_utility.cc)
// answers "h2" when ALPN said so (TLS, not modelled) or when the data so far starts with
// Http2::CLIENT_MAGIC_PREFIX ("PRI * HTTP/2"), else HTTP/1; autoCreateCodec then builds that
// codec. So a cleartext client gets HTTP/2 only with prior knowledge: an HTTP/1.1 request with
// `Upgrade: h2c` is an HTTP/1.1 request like any other (./upgrade.ts).
// Envoy looks at the first read only ("we ignore the case where someone sends us the first few
// bytes of the HTTP/2 prefix"): so does this. The socket plumbing is ../common/h2c-preface.ts.

import type { Socket } from 'node:net';
import { dispatchByPreface as dispatch } from '../common/h2c-preface.js';

export const CLIENT_MAGIC_PREFIX = 'PRI * HTTP/2';

export function isH2cPreface(first: Buffer): boolean {
  return first.subarray(0, CLIENT_MAGIC_PREFIX.length).toString('latin1') === CLIENT_MAGIC_PREFIX;
}

/** Envoy's choice from the first read alone. */
export function dispatchByPreface(socket: Socket, onH2: (s: Socket) => void, onH1: (s: Socket) => void): void {
  dispatch(socket, (first) => (isH2cPreface(first) ? 'h2' : 'h1'), onH2, onH1);
}
