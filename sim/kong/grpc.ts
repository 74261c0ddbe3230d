// gRPC under Kong 3.9.3: what the runloop and the PDK do differently for it.
// - pdk/response.lua send(): a response to a gRPC request over HTTP/2 (is_grpc_request: a
//   content-type starting "application/grpc" and ngx.req.http_version() == 2), or one whose
//   content-type starts "application/grpc", gets grpc-status from its HTTP status unless set
//   (HTTP_TO_GRPC_STATUS, 5xx → 13, 4xx → 3, 2xx → 0, else 2), and grpc-message: a string body
//   to a gRPC request becomes grpc-message with an empty body (content-length 0), else the
//   status's name (GRPC_MESSAGES); a table body's `message` is that string.
// - runloop/handler.lua access.before: a route whose protocols name grpc/grpcs refuses a gRPC
//   call that is not HTTP/2 (426 "Please use HTTP2 protocol", connection: Upgrade,
//   upgrade: HTTP/2) and any non-gRPC request (415 "Non-gRPC request matched gRPC route").

import type { HeaderList } from './headers';

const CONTENT_TYPE_GRPC = 'application/grpc';

const HTTP_TO_GRPC_STATUS: Record<number, number> = {
  200: 0, 400: 3, 401: 16, 403: 7, 404: 5, 409: 6, 429: 8, 499: 1, 500: 13, 501: 12, 503: 14, 504: 4,
};

const GRPC_MESSAGES = [
  'OK', 'Canceled', 'Unknown', 'InvalidArgument', 'DeadlineExceeded', 'NotFound', 'AlreadyExists', 'PermissionDenied',
  'ResourceExhausted', 'FailedPrecondition', 'Aborted', 'OutOfRange', 'Unimplemented', 'Internal', 'Unavailable',
  'DataLoss', 'Unauthenticated',
];

export const GRPC_TABLE_BODY_ERROR = 'table body encoding with gRPC is not supported';
export const GRPC_TABLE_BODY_REMOVED = 'body was removed because table body encoding with gRPC is not supported';
export const HTTP2_REQUIRED = 'Please use HTTP2 protocol';
export const NON_GRPC_ON_GRPC_ROUTE = 'Non-gRPC request matched gRPC route';

/**
 * The gRPC route's header match: Kong 3.9 routes match `headers` values, a value starting
 * "~*" as a case-insensitive regex (router/utils.lua, router/transform.lua): gRPC's
 * content-types, application/grpc and application/grpc+<codec>.
 */
export const GRPC_ROUTE_HEADERS = ['~*^application/grpc(\\+.*)?$'];

export function isGrpcContentType(contentType: string | undefined): boolean {
  return contentType !== undefined && /^application\/grpc(\+.*)?$/i.test(contentType);
}

/** is_grpc_request (pdk/response.lua). */
export function isGrpcRequest(contentType: string | undefined, httpVersion: number): boolean {
  return contentType !== undefined && contentType.startsWith(CONTENT_TYPE_GRPC) && httpVersion === 2;
}

function grpcStatusFor(status: number): number {
  const s = HTTP_TO_GRPC_STATUS[status];
  if (s !== undefined) return s;
  if (status >= 500 && status <= 599) return 13;
  if (status >= 400 && status <= 499) return 3;
  if (status >= 200 && status <= 299) return 0;
  return 2; // UNKNOWN
}

export type ExitBody = string | Uint8Array | Record<string, unknown> | undefined;

/**
 * send()'s gRPC branch on the headers already set from the exit: adds grpc-status /
 * grpc-message / content-length as Kong does and says what the body becomes: `grpc: false`
 * when the response is not gRPC (the caller goes on as for HTTP), else the payload
 * (a table body is `luaError` for gRPC output, or reduced to its message).
 */
export function shapeGrpcExit(
  status: number,
  body: ExitBody,
  headers: HeaderList,
  grpcRequest: boolean,
  hasLength: boolean,
): { grpc: false } | { grpc: true; payload: Buffer; luaError?: string; warn?: string } {
  const resType = headers.first('content-type');
  const output = resType !== undefined && resType.startsWith(CONTENT_TYPE_GRPC);
  const isGrpc = resType !== undefined ? output : grpcRequest;
  if (!isGrpc) return { grpc: false };
  let grpcStatus: number | undefined;
  if (!headers.has('grpc-status')) {
    grpcStatus = grpcStatusFor(status);
    headers.set('grpc-status', String(grpcStatus));
  }
  let text: string | Uint8Array | undefined;
  let warn: string | undefined;
  if (body !== undefined && typeof body === 'object' && !(body instanceof Uint8Array)) {
    if (output) return { grpc: true, payload: Buffer.alloc(0), luaError: GRPC_TABLE_BODY_ERROR };
    if (typeof body.message === 'string') text = body.message;
    else warn = GRPC_TABLE_BODY_REMOVED;
  } else text = body;
  const message = grpcStatus !== undefined ? GRPC_MESSAGES[grpcStatus] : undefined;
  if (text !== undefined && !output) {
    // a string body to a gRPC request travels as grpc-message, the body empty
    headers.set('Content-Length', '0');
    headers.set('grpc-message', typeof text === 'string' ? text : Buffer.from(text).toString('latin1'));
    return { grpc: true, payload: Buffer.alloc(0), warn };
  }
  const payload = text === undefined ? Buffer.alloc(0) : text instanceof Uint8Array ? Buffer.from(text) : Buffer.from(text, 'latin1');
  if (!hasLength) headers.set('Content-Length', String(payload.length));
  if (message !== undefined && !headers.has('grpc-message')) headers.set('grpc-message', message);
  return { grpc: true, payload, warn };
}

/** access.before's protocol checks for a route whose protocols name grpc or grpcs, else null. */
export function grpcRouteRefusal(protocols: readonly string[], contentType: string | undefined, httpVersion: number):
  { status: number; message: string; headers?: Record<string, string> } | null {
  if (!protocols.includes('grpc') && !protocols.includes('grpcs')) return null;
  if (contentType === undefined || !contentType.startsWith(CONTENT_TYPE_GRPC)) return { status: 415, message: NON_GRPC_ON_GRPC_ROUTE };
  if (httpVersion !== 2) return { status: 426, message: HTTP2_REQUIRED, headers: { connection: 'Upgrade', upgrade: 'HTTP/2' } };
  // a grpcs-only route and a plaintext call: 200 grpc-status 1 (no TLS here: grpcs routes are not modelled)
  return null;
}
