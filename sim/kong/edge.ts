// What nginx under Kong refuses before any plugin runs, and how Kong answers it.
//
// Header buffers (nginx src/http/ngx_http_request.c ngx_http_read_request_header /
// ngx_http_alloc_large_header_buffer): the head is read into client_header_buffer_size
// (1k); when a line does not fit, the line is moved to a large buffer
// (large_client_header_buffers, 4 x 8k), and so on while buffers last. A line longer than
// one large buffer, or a line when all of them are in use, fails: in the request line
// with 414 (NGX_HTTP_REQUEST_URI_TOO_LARGE), in a header with 494
// (NGX_HTTP_REQUEST_HEADER_TOO_LARGE, "client sent too long header line"). Kong 3.9 keeps
// nginx's defaults (kong.conf.default: nginx_http_client_header_buffer_size = 1k,
// nginx_http_large_client_header_buffers = 4 8k, both commented out; the templates set
// neither) and routes both statuses to its error handler (templates/nginx_kong.lua
// error_page ... 414 ... /kong_error_handler; error_page 494 =494 /kong_error_handler),
// which answers 414 "URI too long" and turns 494 into 400 "Request header or cookie too
// large" (kong/error_handlers.lua). nginx has no limit on the number of header fields.
// The model packs lines greedily: each line with its CRLF, then the blank line.
//
// The URI (ngx_http_parse_complex_uri, for a target with '.', '%', '//' ...): a '..'
// segment that climbs above the root, or an escaped NUL, is NGX_HTTP_PARSE_INVALID_REQUEST:
// 400 "Bad request" through the same handler ("client sent invalid request").

export interface WireHead {
  requestLine: string;
  headers: Array<[string, string]>;
}

export interface NginxBuffers {
  clientHeaderBufferSize: number;
  largeBuffers: number;
  largeBufferSize: number;
}

export const KONG_BUFFERS: NginxBuffers = { clientHeaderBufferSize: 1024, largeBuffers: 4, largeBufferSize: 8192 };

/** The status nginx finalizes the request with (before Kong's error handler), or null. */
export function nginxRefusal(h: WireHead, target: string, b: NginxBuffers = KONG_BUFFERS): { status: 400 | 414 | 494; log: string } | null {
  const lines = [h.requestLine.length + 2, ...h.headers.map(([k, v]) => Buffer.byteLength(k, 'latin1') + 2 + Buffer.byteLength(v, 'latin1') + 2), 2];
  let cap = b.clientHeaderBufferSize;
  let used = 0;
  let large = 0;
  for (let i = 0; i < lines.length; i++) {
    const len = lines[i];
    if (used + len <= cap) { used += len; continue; }
    if (len > b.largeBufferSize || large === b.largeBuffers) {
      return i === 0 ? { status: 414, log: 'client sent too long URI' } : { status: 494, log: 'client sent too long header line' };
    }
    large++;
    cap = b.largeBufferSize;
    used = len;
  }
  return invalidUri(target) ? { status: 400, log: 'client sent invalid request' } : null;
}

// ngx_http_parse_complex_uri's failures on the path (before '?' / '#'): '..' above the
// root, a decoded NUL. A decoded character goes back through the state machine
// (sw_quoted_second: state = quoted_state), so '%2e' is a dot and '%2f' a slash there;
// slashes merge (merge_slashes on).
function invalidUri(target: string): boolean {
  const path = target.split(/[?#]/)[0];
  if (/%00/.test(path)) return true;
  let depth = 0;
  const segs = path.replace(/%2e/gi, '.').replace(/%2f/gi, '/').split('/').slice(1);
  for (const s of segs) {
    if (s === '..') { if (--depth < 0) return true; }
    else if (s !== '.' && s !== '') depth++;
  }
  return false;
}
