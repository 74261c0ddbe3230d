// Kong's own error responses: kong.response.error (pdk/response.lua) and the
// error_page handler for 5xx/4xx produced by nginx (kong/error_handlers.lua),
// with the templates and Accept negotiation of kong/tools/http.lua.

const MIME: Record<string, string> = {
  'application/grpc': '',
  'text/html': 'text/html; charset=utf-8',
  'application/json': 'application/json; charset=utf-8',
  'text/plain': 'text/plain; charset=utf-8',
  'application/xml': 'application/xml; charset=utf-8',
  application: 'application/json; charset=utf-8',
  text: 'text/plain; charset=utf-8',
  default: 'application/json; charset=utf-8',
};

const TEMPLATES: Record<string, string> = {
  'application/json; charset=utf-8': '{\n  "message":"%s",\n  "request_id":"%s"\n}',
  'text/html; charset=utf-8':
    '<!doctype html>\n<html>\n  <head>\n    <meta charset="utf-8">\n    <title>Error</title>\n  </head>\n  <body>\n    <h1>Error</h1>\n    <p>%s.</p>\n    <p>request_id: %s</p>\n  </body>\n</html>\n',
  'text/plain; charset=utf-8': '%s\nrequest_id: %s\n',
  'application/xml; charset=utf-8':
    '<?xml version="1.0" encoding="UTF-8"?>\n<error>\n  <message>%s</message>\n  <requestid>%s</requestid>\n</error>\n',
};

/** pdk/response.lua HTTP_ERROR_MESSAGES (kong.response.error default text). */
const PDK_MESSAGES: Record<number, string> = {
  400: 'Bad request', 401: 'Unauthorized', 402: 'Payment required', 403: 'Forbidden', 404: 'Not found',
  405: 'Method not allowed', 406: 'Not acceptable', 407: 'Proxy authentication required', 408: 'Request timeout',
  409: 'Conflict', 410: 'Gone', 411: 'Length required', 412: 'Precondition failed', 413: 'Payload too large',
  414: 'URI too long', 415: 'Unsupported media type', 416: 'Range not satisfiable', 417: 'Expectation failed',
  418: "I'm a teapot", 421: 'Misdirected request', 422: 'Unprocessable entity', 423: 'Locked', 424: 'Failed dependency',
  425: 'Too early', 426: 'Upgrade required', 428: 'Precondition required', 429: 'Too many requests',
  431: 'Request header fields too large', 451: 'Unavailable for legal reasons', 494: 'Request header or cookie too large',
  500: 'An unexpected error occurred', 501: 'Not implemented', 502: 'An invalid response was received from the upstream server',
  503: 'The upstream server is currently unavailable', 504: 'The upstream server is timing out', 505: 'HTTP version not supported',
  506: 'Variant also negotiates', 507: 'Insufficient storage', 508: 'Loop detected', 510: 'Not extended',
  511: 'Network authentication required',
};

/** error_handlers.lua BODIES (nginx-produced errors). */
const HANDLER_BODIES: Record<number, string> = {
  400: 'Bad request', 404: 'Not found', 405: 'Method not allowed', 408: 'Request timeout', 411: 'Length required',
  412: 'Precondition failed', 413: 'Payload too large', 414: 'URI too long', 417: 'Expectation failed',
  494: 'Request header or cookie too large', 500: 'An unexpected error occurred',
  502: 'An invalid response was received from the upstream server', 503: 'The upstream server is currently unavailable',
  504: 'The upstream server is timing out',
};

export function pdkErrorMessage(status: number): string {
  return PDK_MESSAGES[status] ?? `The upstream server responded with ${status}`;
}

function getMimeType(contentHeader: string): string {
  const base = contentHeader.trim().split(';')[0];
  const parts = base.split('/');
  if (parts.length > 1) {
    if (parts[1] === '*') return parts[0] === '*' ? MIME.default : (MIME[parts[0]] ?? MIME.default);
    return MIME[base] ?? MIME.default;
  }
  return MIME.default;
}

/** tools/http.lua get_response_type: the highest-q media type wins. */
export function responseTypeFor(accept: string | string[] | undefined): string {
  let type = MIME.default;
  if (accept === undefined) return type;
  const value = Array.isArray(accept) ? accept.join(',') : accept;
  let best = 0;
  const re = /^((?:[a-z0-9][a-z0-9\-!#$&^_+.]+|\*)\/(?:[a-z0-9][a-z0-9\-!#$&^_+.]+|\*))(?:\s*;\s*q=(1(?:\.0{0,3}|)|0(?:\.\d{0,3}|))|\s*;\s*[a-z0-9][a-z0-9\-!#$&^_+.]+(?:=[^;]*|))*/i;
  for (const raw of value.split(',')) {
    const m = re.exec(raw.trim());
    if (!m) continue;
    const q = m[2] !== undefined ? Number(m[2]) : 1;
    if (q > best) {
      best = q;
      type = getMimeType(m[1]);
    }
  }
  return type;
}

export function renderError(mime: string, message: string, requestId: string): string {
  const t = TEMPLATES[mime] ?? TEMPLATES[MIME.default];
  return t.replace('%s', message).replace('%s', requestId);
}

/**
 * error_handlers.lua: the response for an nginx-level error (upstream refused,
 * timed out...). Accept, else Content-Type, else error_default_type (text/plain).
 */
export function handlerError(status: number, accept: string | undefined, contentType: string | undefined, requestId: string) {
  const message = HANDLER_BODIES[status] ?? `The upstream server responded with ${status}`;
  const header = accept ?? contentType ?? 'text/plain';
  const out = status === 494 ? 400 : status;
  // a gRPC type: kong.response.exit(status, { message = ... }) with no headers; send()
  // encodes the table as JSON, or for a gRPC request over HTTP/2 as grpc-message (grpc.ts)
  if (header.startsWith('application/grpc')) return { status: out, table: { message } };
  const mime = responseTypeFor(header);
  return { status: out, body: renderError(mime, message, requestId), contentType: mime };
}
