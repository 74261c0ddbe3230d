// Local replies as Envoy builds them (source/common/http/utility.cc Utility::prepareLocalReply)
// and the bodies/details of the router's own error replies (source/common/router/router.cc
// onUpstreamReset / onUpstreamTimeoutAbort / no route).
// Headers: {":status"}, then the caller's extra headers (addCopy), then content-length and
// content-type "text/plain" (unless already set) when the body is non-empty, or both removed
// when it is empty. A gRPC request gets ":status 200" + grpc-status / grpc-message instead.
// Envoy sets those with its inline setters (setStatus, setContentLength, setGrpcStatus...),
// which change the entry in place: HeaderMap.setInline.

import { HeaderMap } from './header-map.js';
import type { Pair } from './pairs.js';

export interface LocalReply {
  status: number;
  body: string;
  headers: HeaderMap;
  details: string;
}

/**
 * Envoy's PercentEncoding::encode (source/common/http/utility.cc) for grpc-message: bytes
 * below ' ', from '~' up (a signed char: every byte >= 0x80 too) and '%' become %XX.
 */
export function grpcPercentEncode(text: string): string {
  let out = '';
  for (const b of Buffer.from(text, 'utf8')) {
    out += b < 0x20 || b >= 0x7e || b === 0x25 ? `%${b.toString(16).toUpperCase().padStart(2, '0')}` : String.fromCharCode(b);
  }
  return out;
}

/**
 * Grpc::Common::hasGrpcContentType (source/common/grpc/common.cc): exactly
 * "application/grpc" or "application/grpc+..."; "application/grpc-web" is not gRPC.
 */
export function isGrpcContentType(ct: string | undefined): boolean {
  return ct !== undefined && ct.startsWith('application/grpc') && (ct.length === 16 || ct[16] === '+');
}

const HTTP_TO_GRPC: Record<number, number> = { 400: 13, 401: 16, 403: 7, 404: 12, 429: 14, 502: 14, 503: 14, 504: 14 };

export function prepareLocalReply(
  status: number,
  body: string,
  extra: readonly Pair[],
  details: string,
  opts: { grpcStatus?: number | null; isGrpc?: boolean } = {},
): LocalReply {
  const headers = new HeaderMap('response');
  headers.add(':status', String(status));
  for (const [k, v] of extra) headers.add(k, v);
  if (opts.isGrpc) {
    headers.setInline(':status', '200');
    headers.setInline('content-type', 'application/grpc');
    if (headers.get('grpc-status') === undefined) {
      headers.setInline('grpc-status', String(opts.grpcStatus ?? HTTP_TO_GRPC[status] ?? 2));
    }
    if (body) headers.setInline('grpc-message', grpcPercentEncode(body));
    headers.remove('content-length');
    return { status: 200, body: '', headers, details };
  }
  if (body.length > 0) {
    headers.setInline('content-length', String(Buffer.byteLength(body, 'latin1')));
    if (headers.get('content-type') === undefined) headers.setInline('content-type', 'text/plain');
  } else {
    headers.remove('content-length');
    headers.remove('content-type');
  }
  return { status, body, headers, details };
}

/** Router error replies (router.cc). `reason` is Http::Utility::resetReasonToString. */
export const RouterReply = {
  // `retried`: the router retried before this reset (is_retry_, router.cc onUpstreamReset).
  upstreamReset(reason: string, transportFailure = '', retried = false): { status: number; body: string; details: string } {
    const body =
      `upstream connect error or disconnect/reset before headers. ${retried ? 'retried and the latest ' : ''}reset reason: ${reason}` +
      (transportFailure ? `, transport failure reason: ${transportFailure}` : '');
    const details = `upstream_reset_before_response_started{${reason}${transportFailure ? `,${transportFailure}` : ''}}`.replace(
      /\s/g,
      '_',
    );
    return { status: 503, body, details };
  },
  timeout(): { status: number; body: string; details: string } {
    return { status: 504, body: 'upstream request timeout', details: 'upstream_response_timeout' };
  },
  // A per_try_timeout that was not retried (router.cc onPerTryTimeoutCommon → onUpstreamTimeoutAbort).
  perTryTimeout(): { status: number; body: string; details: string } {
    return { status: 504, body: 'upstream request timeout', details: 'upstream_per_try_timeout' };
  },
  noRoute(): { status: number; body: string; details: string } {
    return { status: 404, body: '', details: 'route_not_found' };
  },
  noCluster(): { status: number; body: string; details: string } {
    return { status: 503, body: '', details: 'cluster_not_found' };
  },
  streamIdleTimeout(): { status: number; body: string; details: string } {
    return { status: 408, body: 'stream timeout', details: 'stream_idle_timeout' };
  },
};
