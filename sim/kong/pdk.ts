// Kong's answer to one PDK call from the plugin server, with the effect the
// call has in Kong 3.9 (kong/pdk/*.lua, plugin_servers/plugin.lua exposed_api,
// plugin_servers/rpc/mp_rpc.lua call_pdk_method).
//
// How Kong dispatches (mp_rpc.lua):
//  - the method string is looked up in exposed_api, else walked segment by
//    segment from the `kong` table; not found -> kong.log.err("could not find
//    pdk method: ...") and the plugin gets nil;
//  - `ret = method(unpack(args))` keeps only the FIRST return value: PDK calls
//    that fail with `nil, err` (set_upstream, ...) give the plugin nil, not an
//    error. StepError is never sent by Kong 3.9;
//  - argument errors are Lua errors (error(...)): in access they abort the
//    plugin's coroutine and Kong answers 500; in the log timer they abort it.
//  - the log phase runs in a timer: only exposed_api overrides and functions
//    that do not touch the request work there; the rest fail with
//    "no request found" (ngx.var / ngx.req in a timer).

import os from 'node:os';
import { fixMultiMap, lookupNormalized, normalizeMultiHeader, decodeArgs } from './headers';
import { cjsonEncode, fromMsgpack, luaToString, CjsonError } from './lua-values';
import { LuaError, HarnessUnsupported, type KongRequestState, type ExitResponse } from './request-state';
import { pdkErrorMessage, renderError, responseTypeFor } from './error-pages';

export type LogLevel = 'alert' | 'crit' | 'err' | 'warn' | 'notice' | 'info' | 'debug';

export interface KongEnv {
  upstreams: Map<string, { host: string; port: number }>;
  route: Record<string, unknown>;
  service: Record<string, unknown>;
  nodeId: string;
  log(level: LogLevel, message: string, plugin?: string, source?: 'plugin' | 'kong'): void;
}

export const STOP = Symbol('stop'); // the plugin's event is left unanswered

type Fn = (c: { env: KongEnv; req: KongRequestState }, ...args: any[]) => unknown;
interface Impl {
  fn: Fn;
  /** phases check_phase accepts (bit order, for the error message) */
  phases?: readonly string[];
  /** works in the log timer (exposed_api override or no request access) */
  timer?: boolean;
}

// kong/pdk/private/phases.lua, listed in bit order like get_phases_names.
const P = {
  request: ['rewrite', 'access', 'balancer', 'response', 'cluster_listener', 'header_filter', 'body_filter', 'log', 'error', 'admin_api'],
  headerBodyLog: ['response', 'header_filter', 'body_filter', 'log', 'error', 'admin_api'],
  rewriteAccessHeader: ['rewrite', 'access', 'balancer', 'response', 'header_filter', 'error', 'admin_api'],
  access: ['access'],
  rewriteAccessBalancerPreread: ['rewrite', 'access', 'balancer', 'preread'],
  accessRewrite: ['rewrite', 'access'],
  accessRewriteBalancer: ['rewrite', 'access', 'balancer'],
  log: ['log'],
  withCtx: ['rewrite', 'access', 'balancer', 'response', 'header_filter', 'body_filter', 'log', 'preread'],
  authAndLater: ['access', 'balancer', 'response', 'header_filter', 'body_filter', 'log'],
} as const;

function checkPhase(req: KongRequestState, phases: readonly string[]) {
  if (phases.includes(req.phase)) return;
  throw new LuaError(`function cannot be called in ${req.phase} phase (only in: ${phases.join(', ')})`);
}

const luaType = (v: unknown) =>
  v === undefined || v === null ? 'nil' : Array.isArray(v) || typeof v === 'object' ? 'table' : typeof v === 'number' ? 'number' : typeof v === 'boolean' ? 'boolean' : 'string';

// checks.lua validate_header / validate_headers (%q quotes the name)
function validateHeader(name: unknown, value: unknown) {
  if (typeof name !== 'string') throw new LuaError(`invalid header name ${luaToString(name)}: got ${luaType(name)}, expected string`);
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return;
  if (Array.isArray(value)) {
    for (const x of value) {
      if (typeof x !== 'string') throw new LuaError(`invalid header value in array "${name}": got ${luaType(x)}, expected string`);
    }
    return;
  }
  throw new LuaError(`invalid header value for "${name}": got ${luaType(value)}, expected array of string, string, number or boolean`);
}

function validateHeaders(headers: unknown) {
  if (!headers || typeof headers !== 'object' || Array.isArray(headers) && headers.length > 0) throw new LuaError('headers must be a table');
  if (Array.isArray(headers)) return; // empty Lua table
  for (const [k, v] of Object.entries(headers)) {
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') continue;
    if (Array.isArray(v)) {
      for (const x of v) if (typeof x !== 'string') throw new LuaError(`invalid header value in array "${k}": got ${luaType(x)}, expected string`);
      continue;
    }
    throw new LuaError(`invalid header value for "${k}": got ${luaType(v)}, expected string, number, boolean or array of strings`);
  }
}

const norm = (v: unknown) => normalizeMultiHeader(v, luaToString);
const isTE = (n: string) => ['transfer-encoding', 'transfer_encoding'].includes(n.toLowerCase());

/** kong/tools/uri.lua normalize(uri, merge_slashes = true) */
export function normalizePath(uri: string): string {
  if (uri === '' || uri === '/') return uri;
  if (uri.includes('%')) {
    uri = uri.replace(/%([0-9a-fA-F]{2})/g, (_, hex: string) => {
      const ch = String.fromCharCode(parseInt(hex, 16));
      return /[A-Za-z0-9\-._~]/.test(ch) ? ch : '%' + hex.toUpperCase();
    });
  }
  uri = uri.replace(/\/\/+/g, '/');
  if (!uri.includes('.')) return uri;
  const out: string[] = [];
  const segs = uri.split('/');
  segs.forEach((s, i) => {
    if (s === '.') {
      if (i === segs.length - 1) out.push('');
    } else if (s === '..') {
      if (out.length > 1) out.pop();
      if (i === segs.length - 1) out.push('');
    } else out.push(s);
  });
  return out.join('/') || '/';
}

function exitValidate(status: unknown, body: unknown, headers: unknown, min: number) {
  if (typeof status !== 'number') throw new LuaError('code must be a number');
  if (status < min || status > 599) throw new LuaError(`code must be a number between ${min} and 599`);
  if (headers !== undefined && (typeof headers !== 'object' || headers === null)) throw new LuaError('headers must be a nil or table');
  if (headers !== undefined) validateHeaders(headers);
  void body;
}

function serializeWith(req: KongRequestState, key: string, value: unknown, options: unknown) {
  if (typeof key !== 'string') throw new LuaError('key must be a string');
  const given = options && typeof options === 'object' ? (options as { mode?: unknown }).mode : undefined;
  const mode = typeof given === 'string' ? given : 'set';
  if (!['set', 'add', 'replace'].includes(mode)) throw new LuaError("mode must be 'set', 'add' or 'replace'");
  req.serializeValues.push({ key, value, mode });
}

const logFn = (level: string): Impl => ({
  timer: true,
  fn: ({ env, req }, ...args) => env.log(level as LogLevel, args.map(luaToString).join(''), req.plugin?.name, 'plugin'),
});

const IMPL: Record<string, Impl> = {
  // ------------------------------------------------------------ kong.request
  'kong.request.get_scheme': { phases: P.request, fn: () => 'http' },
  'kong.request.get_host': { phases: P.request, fn: ({ req }) => req.host },
  'kong.request.get_port': { fn: ({ req }) => req.serverPort },
  'kong.request.get_forwarded_scheme': { phases: P.request, fn: () => 'http' }, // trusted_ips = NONE
  'kong.request.get_forwarded_host': { phases: P.request, fn: ({ req }) => req.host },
  'kong.request.get_forwarded_port': { phases: P.request, fn: ({ req }) => req.serverPort },
  'kong.request.get_forwarded_path': { phases: P.request, fn: ({ req }) => normalizePath(req.rawPath) },
  'kong.request.get_forwarded_prefix': { phases: P.request, fn: () => undefined },
  'kong.request.get_http_version': { phases: P.request, fn: ({ req }) => req.httpVersion },
  'kong.request.get_method': { phases: P.request, fn: ({ req }) => req.method },
  'kong.request.get_path': { phases: P.request, fn: ({ req }) => normalizePath(req.rawPath) },
  'kong.request.get_raw_path': { phases: P.request, fn: ({ req }) => req.rawPath },
  'kong.request.get_path_with_query': { phases: P.request, fn: ({ req }) => req.requestUri },
  'kong.request.get_raw_query': { phases: P.request, fn: ({ req }) => req.args },
  'kong.request.get_query_arg': {
    phases: P.request,
    fn: ({ req }, name) => {
      if (typeof name !== 'string') throw new LuaError('query argument name must be a string');
      const v = decodeArgs(req.args)[name];
      return Array.isArray(v) ? v[0] : v;
    },
  },
  'kong.request.get_query': {
    phases: P.request,
    fn: ({ req }, max) => {
      if (max !== undefined) {
        if (typeof max !== 'number') throw new LuaError('max_args must be a number');
        if (max < 1) throw new LuaError('max_args must be >= 1');
        if (max > 1000) throw new LuaError('max_args must be <= 1000');
      }
      return fixMultiMap(decodeArgs(req.args, max ?? 100));
    },
  },
  'kong.request.get_header': {
    phases: P.request,
    timer: true,
    fn: ({ req }, name) => {
      if (req.saved) {
        const v = lookupNormalized(req.saved.requestHeaders, String(name));
        return Array.isArray(v) ? v[0] : v;
      }
      if (typeof name !== 'string') throw new LuaError('header name must be a string');
      return req.headers.first(name);
    },
  },
  'kong.request.get_headers': {
    phases: P.request,
    timer: true,
    fn: ({ req }, max) => {
      if (req.saved) return fixMultiMap(req.saved.requestHeaders); // exposed_api ignores max
      if (max !== undefined) {
        if (typeof max !== 'number') throw new LuaError('max_headers must be a number');
        if (max < 1) throw new LuaError('max_headers must be >= 1');
        if (max > 1000) throw new LuaError('max_headers must be <= 1000');
      }
      return fixMultiMap(req.headers.table(max ?? 100));
    },
  },
  'kong.request.get_raw_body': {
    phases: ['rewrite', 'access', 'response', 'error', 'admin_api'],
    // fix_raw: the body travels as msgpack binary
    fn: async ({ req }) => new Uint8Array(await req.bodyPromise),
  },
  'kong.request.get_body': {
    phases: ['rewrite', 'access', 'response', 'error', 'admin_api'],
    fn: async ({ req }, mimetype, maxArgs) => {
      const ct = (typeof mimetype === 'string' ? mimetype : req.headers.first('content-type')) ?? '';
      const body = (await req.bodyPromise).toString('utf8');
      if (ct === '') return undefined; // nil, "missing content type"
      if (ct.toLowerCase().includes('application/json')) {
        try {
          const v = JSON.parse(body);
          return typeof v === 'object' && v !== null ? v : undefined; // nil, "invalid json body"
        } catch {
          return undefined;
        }
      }
      if (ct.toLowerCase().includes('application/x-www-form-urlencoded')) return decodeArgs(body, typeof maxArgs === 'number' ? maxArgs : 100);
      return undefined; // nil, "unsupported content type"
    },
  },
  'kong.request.get_start_time': { phases: P.request, fn: ({ req }) => req.timings.processingStart },
  'kong.request.get_uri_captures': { phases: P.request, timer: true, fn: () => ({ unnamed: [], named: [] }) },

  // ------------------------------------------------------------ kong.client
  'kong.client.get_ip': { fn: ({ req }) => req.remoteAddr },
  'kong.client.get_forwarded_ip': { fn: ({ req }) => req.remoteAddr },
  'kong.client.get_port': { fn: ({ req }) => req.remotePort },
  'kong.client.get_forwarded_port': { fn: ({ req }) => req.remotePort },
  'kong.client.get_protocol': { phases: P.authAndLater, fn: () => 'http' },
  'kong.client.get_credential': { phases: P.authAndLater, timer: true, fn: () => undefined },
  'kong.client.get_consumer': { phases: P.authAndLater, timer: true, fn: () => undefined },

  // ------------------------------------------------------------ kong.service
  'kong.service.set_upstream': {
    phases: P.access,
    fn: ({ env, req }, host) => {
      if (typeof host !== 'string') throw new LuaError('host must be a string');
      // Kong returns nil, "could not find an Upstream named '<host>'"; only
      // the nil reaches the plugin.
      if (!env.upstreams.has(host)) return undefined;
      req.balancer.host = host;
      req.balancer.port = undefined;
      return true;
    },
  },
  'kong.service.set_target': {
    phases: P.rewriteAccessBalancerPreread,
    fn: ({ req }, host, port) => {
      if (typeof host !== 'string') throw new LuaError('host must be a string');
      if (typeof port !== 'number' || !Number.isInteger(port)) throw new LuaError('port must be an integer');
      if (port < 0 || port > 65535) throw new LuaError(`port must be an integer between 0 and 65535: given ${port}`);
      req.upstreamHost = host; // ngx.var.upstream_host = host
      req.balancer.host = host;
      req.balancer.port = port;
    },
  },
  'kong.service.set_retries': {
    phases: P.access,
    fn: ({ req }, n) => {
      if (typeof n !== 'number' || !Number.isInteger(n)) throw new LuaError('retries must be an integer');
      if (n < 0 || n > 32767) throw new LuaError(`retries must be an integer between 0 and 32767: given ${n}`);
      req.balancer.retries = n;
    },
  },
  'kong.service.set_timeouts': {
    phases: P.access,
    fn: ({ req }, c, w, r) => {
      for (const [name, v] of [['connect_timeout', c], ['write_timeout', w], ['read_timeout', r]] as const) {
        if (typeof v !== 'number' || !Number.isInteger(v)) throw new LuaError(`${name} must be an integer`);
        if (v < 1 || v > 2147483646) throw new LuaError(`${name} must be an integer between 1 and 2147483646: given ${v}`);
      }
      Object.assign(req.balancer, { connectTimeout: c, sendTimeout: w, readTimeout: r });
    },
  },

  // ---------------------------------------------------- kong.service.request
  'kong.service.request.enable_buffering': { phases: P.accessRewriteBalancer, fn: () => undefined },
  'kong.service.request.set_scheme': {
    phases: P.accessRewriteBalancer,
    fn: ({ req }, scheme) => {
      if (typeof scheme !== 'string') throw new LuaError('scheme must be a string');
      if (scheme !== 'http' && scheme !== 'https') throw new LuaError('invalid scheme: ' + scheme);
      if (scheme === 'https') throw new HarnessUnsupported('the Kong harness proxies plain http only');
    },
  },
  'kong.service.request.set_path': {
    phases: P.accessRewriteBalancer,
    fn: ({ req }, path) => {
      if (typeof path !== 'string') throw new LuaError('path must be a string');
      if (!path.startsWith('/')) throw new LuaError('path must start with /');
      req.upstreamUri = encodeURI(path).replace(/%25([0-9A-Fa-f]{2})/g, '%$1');
    },
  },
  'kong.service.request.set_raw_query': {
    phases: P.accessRewrite,
    fn: ({ req }, q) => {
      if (typeof q !== 'string') throw new LuaError('query must be a string');
      req.args = q;
    },
  },
  'kong.service.request.set_query': {
    phases: P.accessRewrite,
    fn: ({ req }, args) => {
      if (!args || typeof args !== 'object') throw new LuaError('args must be a table');
      const parts: string[] = [];
      for (const [k, v] of Object.entries(args as Record<string, unknown>)) {
        const vals = Array.isArray(v) ? v : [v];
        parts.push(vals.map((x) => (x === true ? encodeURIComponent(k) : `${encodeURIComponent(k)}=${encodeURIComponent(String(x))}`)).join('&'));
      }
      req.args = parts.sort().join('&');
    },
  },
  'kong.service.request.clear_query_arg': {
    phases: P.accessRewrite,
    fn: ({ req }, name) => {
      if (typeof name !== 'string') throw new LuaError('query argument name must be a string');
      req.args = req.args.split('&').filter((p) => decodeURIComponent(p.split('=')[0].replace(/\+/g, ' ')) !== name).join('&');
    },
  },
  'kong.service.request.set_method': {
    phases: P.accessRewrite,
    fn: ({ req }, m) => {
      if (typeof m !== 'string') throw new LuaError('method must be a string');
      const ok = ['GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'OPTIONS', 'MKCOL', 'COPY', 'MOVE', 'PROPFIND', 'PROPPATCH', 'LOCK', 'UNLOCK', 'PATCH', 'TRACE'];
      if (!ok.includes(m)) throw new LuaError('invalid method: ' + m);
      req.method = m; // ngx.req.set_method: kong.request.get_method sees it too
    },
  },
  'kong.service.request.set_header': {
    phases: P.accessRewriteBalancer,
    fn: ({ req }, name, value) => {
      validateHeader(name, value);
      if (name.toLowerCase() === 'host') req.upstreamHost = String(value);
      if (name.toLowerCase() === ':authority') return undefined; // nil, "cannot set :authority ... on non-grpc requests"
      req.headers.set(name, norm(value)); // ngx.req.set_header: later get_header calls see it
    },
  },
  'kong.service.request.add_header': {
    phases: P.accessRewrite,
    fn: ({ req }, name, value) => {
      validateHeader(name, value);
      if (name.toLowerCase() === 'host') req.upstreamHost = String(value);
      req.headers.set(name, [...req.headers.all(name), ...[norm(value)].flat()]);
    },
  },
  'kong.service.request.clear_header': {
    phases: P.accessRewrite,
    fn: ({ req }, name) => {
      if (typeof name !== 'string') throw new LuaError('header must be a string');
      req.headers.clear(name);
    },
  },
  'kong.service.request.set_headers': {
    phases: P.accessRewrite,
    fn: ({ req }, headers) => {
      if (!headers || typeof headers !== 'object') throw new LuaError('headers must be a table');
      validateHeaders(headers);
      for (const [k, v] of Object.entries(headers as Record<string, unknown>)) {
        if (k.toLowerCase() === 'host') req.upstreamHost = String(v);
        req.headers.set(k, norm(v));
      }
    },
  },
  'kong.service.request.set_raw_body': {
    phases: P.accessRewriteBalancer,
    fn: ({ req }, body) => {
      if (typeof body !== 'string') throw new LuaError('body must be a string');
      req.upstreamBody = Buffer.from(body, 'utf8');
    },
  },
  'kong.service.request.set_body': {
    phases: P.accessRewrite,
    fn: ({ req }, args, mime) => {
      if (!args || typeof args !== 'object') throw new LuaError('args must be a table');
      const type = (typeof mime === 'string' ? mime : req.headers.first('content-type')) ?? '';
      if (!type) return undefined; // nil, "content type was neither explicitly given ..."
      if (!type.toLowerCase().startsWith('application/json')) throw new HarnessUnsupported('set_body supports application/json only');
      req.upstreamBody = Buffer.from(cjsonEncode(args), 'utf8');
      req.headers.set('Content-Type', type);
      return true;
    },
  },

  // ------------------------------------------------------------ kong.response
  'kong.response.get_status': {
    phases: P.headerBodyLog,
    timer: true,
    fn: ({ req }) => (req.saved ? req.saved.responseStatus : req.buffered?.status ?? req.status),
  },
  'kong.response.get_header': {
    phases: P.headerBodyLog,
    timer: true,
    fn: ({ req }, name) => {
      if (typeof name !== 'string') throw new LuaError('header name must be a string');
      const t = req.saved ? req.saved.responseHeaders : req.responseHeaders.table(100);
      const v = lookupNormalized(t, name);
      return Array.isArray(v) ? v[0] : v;
    },
  },
  'kong.response.get_headers': {
    phases: P.headerBodyLog,
    timer: true,
    fn: ({ req }) => fixMultiMap(req.saved ? req.saved.responseHeaders : req.responseHeaders.table(100)),
  },
  'kong.response.get_source': {
    phases: P.headerBodyLog,
    timer: true,
    fn: ({ req }) => (req.unexpected ? 'error' : req.exited ? 'exit' : req.proxied ? 'service' : 'error'),
  },
  'kong.response.set_status': {
    phases: P.rewriteAccessHeader,
    fn: ({ req }, status) => {
      if (typeof status !== 'number') throw new LuaError('code must be a number');
      if (status < 100 || status > 599) throw new LuaError('code must be a number between 100 and 599');
      if (req.buffered) req.buffered.status = status;
      req.status = status;
    },
  },
  'kong.response.set_header': {
    phases: P.rewriteAccessHeader,
    fn: ({ env, req }, name, value) => {
      validateHeader(name, value);
      if (isTE(name)) return env.log('warn', 'manually setting Transfer-Encoding. Ignored.', req.plugin?.name);
      req.responseHeaders.set(name, norm(value));
    },
  },
  'kong.response.add_header': {
    phases: P.rewriteAccessHeader,
    fn: ({ req }, name, value) => {
      validateHeader(name, value);
      req.responseHeaders.add(name, norm(value));
    },
  },
  'kong.response.clear_header': {
    phases: P.rewriteAccessHeader,
    fn: ({ req }, name) => {
      if (typeof name !== 'string') throw new LuaError('header name must be a string');
      req.responseHeaders.clear(name);
    },
  },
  'kong.response.set_headers': {
    phases: P.rewriteAccessHeader,
    fn: ({ env, req }, headers) => {
      validateHeaders(headers);
      for (const [k, v] of Object.entries(headers as Record<string, unknown>)) {
        if (isTE(k)) env.log('warn', 'manually setting Transfer-Encoding. Ignored.', req.plugin?.name);
        else req.responseHeaders.set(k, norm(v));
      }
    },
  },
  'kong.response.exit': {
    phases: P.rewriteAccessHeader,
    fn: ({ req }, status, body, headers) => {
      exitValidate(status, body, headers, 100);
      if (body !== undefined && typeof body !== 'string' && typeof body !== 'object') throw new LuaError('body must be a nil, string or table');
      if (typeof body === 'object' && !(body instanceof Uint8Array)) {
        try {
          cjsonEncode(body);
        } catch (e) {
          throw new LuaError(`body encoding failed while flushing response: ${(e as CjsonError).message}`);
        }
      }
      return doExit(req, { status, body, headers: headers as Record<string, unknown> | undefined });
    },
  },
  'kong.response.error': {
    phases: P.rewriteAccessHeader,
    fn: ({ req }, status, message, headers) => {
      exitValidate(status, undefined, headers, 400);
      if (message !== undefined && typeof message === 'object') message = cjsonEncode(message);
      if (message !== undefined && typeof message !== 'string') throw new LuaError('message must be a nil, a string or a table');
      const hdrs: Record<string, unknown> = Array.isArray(headers) || !headers ? {} : { ...(headers as object) };
      const given = hdrs['Content-Type'];
      let ctype = Array.isArray(given) ? given[0] : given;
      if (ctype === undefined) ctype = responseTypeFor(req.headers.table(100)['accept']);
      hdrs['Content-Type'] = ctype;
      const body = renderError(String(ctype), (message as string | undefined) ?? pdkErrorMessage(status), req.id);
      return doExit(req, { status, body, headers: hdrs, rendered: true });
    },
  },

  // ------------------------------------------------------------ kong.log
  'kong.log': logFn('notice'),
  'kong.log.alert': logFn('alert'),
  'kong.log.crit': logFn('crit'),
  'kong.log.err': logFn('err'),
  'kong.log.warn': logFn('warn'),
  'kong.log.notice': logFn('notice'),
  'kong.log.info': logFn('info'),
  'kong.log.debug': logFn('debug'),
  'kong.log.inspect': logFn('notice'),
  'kong.log.set_serialize_value': {
    phases: P.withCtx,
    timer: true,
    fn: ({ req }, key, value, options) => serializeWith(req, key, value, options),
  },
  'kong.log.serialize': {
    phases: P.log,
    timer: true,
    // exposed_api returns the JSON *string* (cjson.encode of the table)
    // saved once when the log phase starts, so every log handler gets the same text: encoded
    // once a request (the playground's two logging plugins each ask for it)
    fn: ({ req }) => (req.saved ? (req.saved.serializeJson ??= cjsonEncode(req.saved.serialize)) : cjsonEncode(undefined)),
  },

  // ------------------------------------------------ kong.ctx / kong.nginx / misc
  'kong.ctx.shared.get': { timer: true, fn: ({ req }, k) => (req.saved?.ctxShared ?? req.ctxShared)[luaToString(k)] },
  'kong.ctx.shared.set': {
    timer: true,
    fn: ({ req }, k, v) => {
      const t = req.saved?.ctxShared ?? req.ctxShared;
      if (v === undefined) delete t[luaToString(k)];
      else t[luaToString(k)] = v;
    },
  },
  'kong.nginx.get_ctx': { timer: true, fn: ({ req }, k) => (req.saved?.ngxCtx ?? req.ngxCtx)[luaToString(k)] },
  'kong.nginx.set_ctx': {
    timer: true,
    fn: ({ req }, k, v) => {
      const t = req.saved?.ngxCtx ?? req.ngxCtx;
      if (v === undefined) delete t[luaToString(k)];
      else t[luaToString(k)] = v;
    },
  },
  'kong.nginx.req_start_time': { timer: true, fn: ({ req }) => req.saved?.reqStartTime ?? req.timings.processingStart / 1000 },
  'kong.nginx.get_subsystem': { timer: true, fn: () => 'http' },
  'kong.nginx.get_var': {
    fn: ({ req }, name) => {
      const v = String(name);
      const vars: Record<string, unknown> = {
        request_uri: req.requestUri,
        uri: normalizePath(req.rawPath),
        args: req.args || undefined,
        is_args: req.args ? '?' : '',
        host: req.host,
        scheme: 'http',
        request_method: req.method,
        remote_addr: req.remoteAddr,
        remote_port: String(req.remotePort),
        realip_remote_addr: req.remoteAddr,
        server_port: String(req.serverPort),
        server_protocol: req.httpVersion === 2 ? 'HTTP/2.0' : `HTTP/${req.httpVersion.toFixed(1)}`,
        request_id: req.nginxRequestId,
        kong_request_id: req.id, // Kong's request id (X-Kong-Request-Id): see kongRequestId
        upstream_uri: req.upstreamUri,
        upstream_host: req.upstreamHost,
      };
      if (v in vars) return vars[v];
      if (v.startsWith('http_')) return req.headers.first(v.slice(5));
      if (v.startsWith('arg_')) {
        const a = decodeArgs(req.args)[v.slice(4)];
        return Array.isArray(a) ? a[0] : a === true ? '' : a;
      }
      throw new HarnessUnsupported(`kong.nginx.get_var("${v}") is not modelled by the harness`);
    },
  },
  'kong.node.get_id': { timer: true, fn: ({ env }) => env.nodeId },
  'kong.node.get_hostname': { timer: true, fn: () => os.hostname() },
  'kong.plugin.get_id': { timer: true, fn: ({ req }) => req.plugin?.id },
  'kong.router.get_route': { timer: true, fn: ({ req }) => req.route }, // the matched route (ngx.ctx.route)
  'kong.router.get_service': { timer: true, fn: ({ env, req }) => req.service ?? env.service },
  'kong.ip.is_trusted': { timer: true, fn: () => false }, // trusted_ips = NONE
};

function doExit(req: KongRequestState, exit: ExitResponse): typeof STOP {
  req.exited = true; // ctx.KONG_EXITED
  // In access, delay_response is on: the first exit wins and the plugin's
  // coroutine yields. In rewrite/response the response is sent right away.
  if (!req.exit) req.exit = exit;
  return STOP;
}

/** Every function name Kong 3.9's PDK has (pdk/*.lua and exposed_api). */
const KNOWN = new Set(
  [
    ...Object.keys(IMPL),
    'kong.client.load_consumer', 'kong.client.authenticate',
    'kong.client.tls.request_client_certificate', 'kong.client.tls.disable_session_reuse',
    'kong.client.tls.get_full_client_certificate_chain', 'kong.client.tls.set_client_verify', 'kong.client.tls.disable_http',
    'kong.cluster.get_id', 'kong.log.deprecation', 'kong.nginx.get_statistics', 'kong.nginx.get_tls1_version_str',
    'kong.node.get_memory_stats', 'kong.response.get_raw_body', 'kong.response.set_raw_body',
    'kong.service.set_target_retry_callback', 'kong.service.set_tls_cert_key', 'kong.service.set_tls_verify',
    'kong.service.set_tls_verify_depth', 'kong.service.set_tls_verify_store', 'kong.service.request.disable_tls',
    'kong.service.response.get_status', 'kong.service.response.get_headers', 'kong.service.response.get_header',
    'kong.service.response.get_raw_body', 'kong.service.response.get_body', 'kong.telemetry.log',
    'kong.vault.get', 'kong.vault.update', 'kong.vault.is_reference', 'kong.vault.parse_reference', 'kong.vault.try',
    'kong.vault.flush', 'kong.tracing.start_span', 'kong.tracing.create_span', 'kong.tracing.active_span',
    'kong.tracing.set_active_span', 'kong.tracing.get_spans', 'kong.tracing.get_root_span', 'kong.tracing.link_span',
    'kong.tracing.process_span', 'kong.tracing.set_global_tracer',
  ],
);

// kong.service.response.* exist in the response phase only (buffered proxying).
Object.assign(IMPL, {
  'kong.service.response.get_status': {
    phases: ['header_filter', 'response', 'body_filter', 'log'],
    timer: false,
    fn: ({ req }: { req: KongRequestState }) => (req.buffered ? Number(req.upstreamStatus.split(', ').pop()) : undefined),
  },
  'kong.service.response.get_headers': {
    phases: ['header_filter', 'response', 'body_filter', 'log'],
    fn: ({ req }: { req: KongRequestState }) => fixMultiMap(req.buffered?.headers.table(100)),
  },
  'kong.service.response.get_header': {
    phases: ['header_filter', 'response', 'body_filter', 'log'],
    fn: ({ req }: { req: KongRequestState }, name: unknown) => {
      if (typeof name !== 'string') throw new LuaError('header name must be a string');
      return req.buffered?.headers.first(name);
    },
  },
  'kong.service.response.get_raw_body': {
    phases: ['response', 'body_filter'],
    fn: ({ req }: { req: KongRequestState }) => (req.buffered ? new Uint8Array(req.buffered.body) : undefined),
  },
} satisfies Record<string, Impl>);

export type PdkOutcome = { value: unknown } | { stop: true } | { luaError: string };

/**
 * Run one PDK call the way Kong would. `args` are the msgpack-decoded Args.
 * Lua errors come back as { luaError } so the caller can do what Kong does in
 * that phase (500 in access, abandoned timer in log).
 */
export async function callPdk(env: KongEnv, req: KongRequestState, method: string, rawArgs: unknown): Promise<PdkOutcome> {
  const args = Array.isArray(rawArgs) ? rawArgs.map(fromMsgpack) : [fromMsgpack(rawArgs)];
  const impl = IMPL[method];
  try {
    if (!impl) {
      if (KNOWN.has(method)) throw new HarnessUnsupported(`the Kong harness does not implement ${method}`);
      if (/^kong(\.(request|response|service|client|log|ctx|nginx|node|router|ip|plugin|table|vault|cluster|tracing|telemetry))*$/.test(method) && method !== 'kong') {
        // The walk lands on a table: `method(unpack(args))` is a Lua error.
        throw new LuaError(`attempt to call local 'method' (a table value)`);
      }
      env.log('err', `could not find pdk method: ${method}`, req.plugin?.name);
      return { value: undefined };
    }
    if (req.phase === 'log' && !impl.timer) {
      if (impl.phases && !impl.phases.includes('log')) checkPhase(req, impl.phases);
      throw new LuaError('no request found'); // ngx.var / ngx.req inside the log timer
    }
    if (impl.phases && !(req.phase === 'log' && impl.timer)) checkPhase(req, impl.phases);
    const value = await impl.fn({ env, req }, ...args);
    if (value === STOP) return { stop: true };
    return { value };
  } catch (e) {
    if (e instanceof LuaError) return { luaError: e.message };
    throw e;
  }
}
