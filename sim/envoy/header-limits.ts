// Envoy's HTTP/1 request header limits, enforced by the codec while it parses, before a
// stream reaches the connection manager's filters (no filter sees the request, no
// on_log). HCM common_http_protocol_options / max_request_headers_kb:
//   - max_request_headers_kb (default 60, at most 8192): the request head - request line and
//     header lines with their CRLFs - above it fails (Balsa, Envoy's default HTTP/1
//     parser: source/common/http/http1/balsa_parser.cc, BalsaFrame max_header_length =
//     max_request_headers_kb * 1024, error HEADERS_TOO_LONG; the legacy http-parser path
//     checks name + value bytes in codec_impl.cc ConnectionImpl::checkMaxHeadersSize);
//   - max_headers_count (common_http_protocol_options, default 100): more header fields
//     fail (codec_impl.cc ConnectionImpl::completeCurrentHeader).
// Both set error_code_ = 431 and ServerConnectionImpl::sendProtocolError answers through
// the HCM's local reply: status 431, body CodeUtility::toString(431) = "Request Header
// Fields Too Large" (text/plain), details http1.headers_too_large / http1.too_many_headers,
// and the connection is closed.

export interface EnvoyHeaderLimits {
  maxRequestHeadersKb: number;
  maxHeadersCount: number;
}

export const ENVOY_HEADER_LIMITS: EnvoyHeaderLimits = { maxRequestHeadersKb: 60, maxHeadersCount: 100 };

export interface EdgeRefusal {
  status: number;
  body: string;
  details: string;
}

/** A request head as it went on the wire: the request line and the header fields in order. */
export interface WireHead {
  requestLine: string;
  headers: Array<[string, string]>;
}

export function headBytes(h: WireHead): number {
  let n = Buffer.byteLength(h.requestLine, 'latin1') + 2;
  for (const [k, v] of h.headers) n += Buffer.byteLength(k, 'latin1') + 2 + Buffer.byteLength(v, 'latin1') + 2;
  return n;
}

// CodeUtility::toString(Code::RequestHeaderFieldsTooLarge)
export const HEADERS_TOO_LARGE = 'Request Header Fields Too Large';

export function envoyHeaderRefusal(h: WireHead, limits: EnvoyHeaderLimits = ENVOY_HEADER_LIMITS): EdgeRefusal | null {
  const body = HEADERS_TOO_LARGE;
  if (h.headers.length > limits.maxHeadersCount) return { status: 431, body, details: 'http1.too_many_headers' };
  if (headBytes(h) > limits.maxRequestHeadersKb * 1024) return { status: 431, body, details: 'http1.headers_too_large' };
  return null;
}

/** Node's own parser limit for the harness's server: far above Envoy's so Envoy's rule decides. */
export function nodeHeaderCeiling(limits: EnvoyHeaderLimits): number {
  return limits.maxRequestHeadersKb * 1024 * 2 + 65536;
}
