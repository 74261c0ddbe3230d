// proxy_get_property as Envoy implements it (source/extensions/common/wasm/context.cc
// Context::getProperty / findValue / serializeValue, and the CEL wrappers in
// source/extensions/filters/common/expr/context.cc):
// - the path is split on NUL bytes ("request\0path"); a dotted "request.path" is ONE unknown
//   top-level name → NotFound; an empty path yields SerializationFailure (null value);
// - top-level names: request, response, connection, upstream, source, destination, metadata,
//   filter_state, upstream_filter_state, xds (StreamActivation), then plugin_name,
//   plugin_root_id, plugin_vm_id, connection_id, then filter state "wasm.<name>" (what
//   proxy_set_property stored);
// - request.* reads the request headers Envoy currently holds for this context: only during
//   on_request_headers (or on_log); in on_response_headers "request.path" is NotFound
//   (envoyproxy/envoy#24194). A root context has no stream, so request.* is NotFound there;
// - serialization: strings/bytes raw; int64/uint64/double/timestamp(ns)/duration(ns) as 8
//   little-endian bytes; bool as 1 byte; maps/lists in the pairs format.

import { WasmResult, type WasmResultCode } from './abi-status.js';
import type { ContextBase, FilterContext } from './context.js';
import type { HeaderMap } from './header-map.js';
import { encodePairs, type Pair } from './pairs.js';
import { addressString, msToNs, type StreamInfo } from './stream-info.js';

// A map's keys and fields as module-level functions of the stream's facts (`s`), so a
// lookup allocates one small map object per path step (Envoy: one CEL wrapper on the
// call's arena, e.g. UpstreamWrapper) and no closures; a field is computed only when
// asked for (CEL wrappers' operator[]), all of them only when a whole map is serialized.
interface MapKind<S> {
  keys(s: S): string[];
  get(s: S, k: string): Cel | undefined;
}

type Cel =
  | { t: 'bytes'; v: Buffer }
  // a string's bytes in this encoding (headers are byte strings: latin1), encoded only
  // when copied out (./vm.ts copyToPointerSize does the same for header values)
  | { t: 'str'; v: string; enc: 'utf8' | 'latin1' }
  | { t: 'int'; v: bigint }
  | { t: 'uint'; v: bigint }
  | { t: 'bool'; v: boolean }
  | { t: 'ts'; v: bigint }
  | { t: 'dur'; v: bigint }
  | { t: 'map'; kind: MapKind<any>; s: any }
  | { t: 'msg' }
  | { t: 'null' };

const str = (s: string): Cel => ({ t: 'str', v: s, enc: 'utf8' });
const hdr = (s: string | undefined): Cel | undefined => (s === undefined ? undefined : { t: 'str', v: s, enc: 'latin1' });
const int = (n: number | bigint): Cel => ({ t: 'int', v: BigInt(n) });
const map = <S>(kind: MapKind<S>, s: S): Cel => ({ t: 'map', kind, s });
const fixed = (keys: string[]) => (): string[] => keys;

const HEADERS: MapKind<HeaderMap | null> = {
  keys: (m) => (m ? m.uniqueKeys() : []),
  get: (m, k) => hdr(m?.getAll(k)),
};

interface Req { info: StreamInfo; headers: HeaderMap | null }
const REQUEST: MapKind<Req> = {
  keys: fixed(['headers', 'time', 'size', 'total_size', 'duration', 'protocol', 'path', 'url_path', 'host', 'scheme', 'method', 'referer', 'id', 'useragent', 'query']),
  get({ info, headers }, k) {
    switch (k) {
      case 'headers':
        return map(HEADERS, headers);
      case 'time':
        return { t: 'ts', v: msToNs(info.startTimeMs) };
      case 'size': {
        const cl = headers?.get('content-length');
        if (cl !== undefined) return /^\d+$/.test(cl) ? int(BigInt(cl)) : undefined;
        return int(info.bytesReceived);
      }
      case 'total_size':
        return int(info.bytesReceived + (headers ? headers.byteSize() : 0));
      case 'duration':
        return info.requestCompleteMs === undefined ? undefined : { t: 'dur', v: msToNs(info.requestCompleteMs) };
      case 'protocol':
        return info.protocol === undefined ? undefined : str(info.protocol);
    }
    if (!headers) return undefined;
    switch (k) {
      case 'path':
        return hdr(headers.get(':path'));
      case 'url_path': {
        const p = headers.get(':path') ?? '';
        const q = p.indexOf('?');
        return hdr(q < 0 ? p : p.slice(0, q));
      }
      case 'host':
        return hdr(headers.get(':authority'));
      case 'scheme':
        return hdr(headers.get(':scheme'));
      case 'method':
        return hdr(headers.get(':method'));
      case 'referer':
        return hdr(headers.get('referer'));
      case 'id':
        return hdr(headers.get('x-request-id'));
      case 'useragent':
        return hdr(headers.get('user-agent'));
      case 'query': {
        const p = headers.get(':path') ?? '';
        const q = p.indexOf('?');
        if (q < 0) return str('');
        const rest = p.slice(q + 1);
        const h = rest.indexOf('#');
        return hdr(h < 0 ? rest : rest.slice(0, h));
      }
    }
    return undefined;
  },
};

interface Resp { info: StreamInfo; headers: HeaderMap | null; trailers: HeaderMap | null }
const RESPONSE: MapKind<Resp> = {
  keys: fixed(['code', 'code_details', 'flags', 'grpc_status', 'headers', 'trailers', 'size', 'total_size']),
  get({ info, headers, trailers }, k) {
    switch (k) {
      case 'code':
        return info.responseCode === undefined ? undefined : int(info.responseCode);
      case 'code_details':
        return info.responseCodeDetails === undefined ? undefined : str(info.responseCodeDetails);
      case 'flags':
        return int(info.responseFlags);
      case 'grpc_status': {
        const g = trailers?.get('grpc-status') ?? headers?.get('grpc-status');
        return g !== undefined && /^\d+$/.test(g) ? int(Number(g)) : undefined;
      }
      case 'headers':
        return map(HEADERS, headers);
      case 'trailers':
        return map(HEADERS, trailers);
      case 'size':
        return int(info.bytesSent);
      case 'total_size':
        return int(info.bytesSent + (headers ? headers.byteSize() : 0) + (trailers ? trailers.byteSize() : 0));
    }
    return undefined;
  },
};

const CONNECTION: MapKind<StreamInfo> = {
  keys: fixed(['mtls', 'requested_server_name', 'id']),
  get(info, k) {
    if (k === 'mtls') return { t: 'bool', v: false };
    if (k === 'requested_server_name') return str(info.requestedServerName);
    if (k === 'id') return info.connectionId === undefined ? undefined : { t: 'uint', v: BigInt(info.connectionId) };
    return undefined; // no TLS: tls_version, certificates... are absent
  },
};

const UPSTREAM: MapKind<StreamInfo> = {
  keys: fixed(['address', 'port', 'local_address', 'transport_failure_reason']),
  get(info, k) {
    if (!info.upstreamHost) return undefined; // no upstreamInfo yet
    if (k === 'address') return str(addressString(info.upstreamHost));
    if (k === 'port') return int(info.upstreamHost.port);
    if (k === 'local_address') return info.upstreamLocal ? str(addressString(info.upstreamLocal)) : undefined;
    if (k === 'transport_failure_reason') return str(info.upstreamTransportFailureReason);
    return undefined;
  },
};

const peer = (local: boolean): MapKind<StreamInfo> => ({
  keys: fixed(['address', 'port']),
  get(info, k) {
    const a = local ? info.downstreamLocal : info.downstreamRemote;
    if (k === 'address') return str(addressString(a));
    if (k === 'port') return int(a.port);
    return undefined;
  },
});
const SOURCE = peer(false);
const DESTINATION = peer(true);

const FILTER_STATE: MapKind<StreamInfo> = {
  keys: (info) => [...info.filterState.keys()],
  get(info, k) {
    const v = info.filterState.get(k);
    return v ? { t: 'bytes', v } : undefined;
  },
};

const EMPTY: MapKind<null> = { keys: fixed([]), get: () => undefined };

const XDS: MapKind<StreamInfo | null> = {
  keys: fixed(['cluster_name', 'route_name', 'filter_chain_name']),
  get(info, k) {
    if (k === 'cluster_name') return info?.clusterName === undefined ? undefined : str(info.clusterName);
    if (k === 'route_name') return info?.hasRoute ? str(info.routeName ?? '') : undefined;
    if (k === 'filter_chain_name') return str('');
    return undefined;
  },
};

function findValue(ctx: ContextBase, name: string): Cel | undefined {
  const info = ctx.streamInfo;
  // StreamActivation::FindValue
  if (name === 'xds') return map(XDS, info);
  if (info) {
    const fc = ctx as FilterContext;
    switch (name) {
      case 'request':
        return map(REQUEST, { info, headers: fc.requestHeaders ?? fc.accessLogRequestHeaders });
      case 'response':
        return map(RESPONSE, {
          info,
          headers: fc.responseHeaders ?? fc.accessLogResponseHeaders,
          trailers: fc.responseTrailers ?? fc.accessLogResponseTrailers,
        });
      case 'connection':
        return map(CONNECTION, info);
      case 'upstream':
        return map(UPSTREAM, info);
      case 'source':
        return map(SOURCE, info);
      case 'destination':
        return map(DESTINATION, info);
      case 'metadata':
        return { t: 'msg' }; // empty dynamic metadata message
      case 'filter_state':
        return map(FILTER_STATE, info);
      case 'upstream_filter_state':
        return map(EMPTY, null);
    }
  }
  // Context property tokens
  switch (name) {
    case 'plugin_name':
      return ctx.plugin ? str(ctx.plugin.name) : undefined;
    case 'plugin_root_id':
      return str(ctx.rootId);
    case 'plugin_vm_id':
      return str(ctx.vm.vmId);
    case 'connection_id':
      return info?.connectionId === undefined ? undefined : { t: 'uint', v: BigInt(info.connectionId) };
  }
  if (info) {
    const v = info.filterState.get(`wasm.${name}`);
    if (v) return { t: 'bytes', v };
  }
  return undefined;
}

// A value as proxy_get_property hands it over: bytes, or a string to be encoded in
// `enc` when copied into the VM (no intermediate Buffer: ./vm.ts copyToPointerSize); or,
// as a number, the WasmResult of a lookup that failed (never Ok). No result object is
// made per call.
export type PropertyValue = Buffer | { v: string; enc: 'utf8' | 'latin1' };
export type PropertyResult = PropertyValue | WasmResultCode;

function serialize(v: Cel): PropertyResult {
  switch (v.t) {
    case 'bytes':
      return v.v;
    case 'str':
      return v;
    case 'int':
    case 'ts':
    case 'dur': {
      const b = Buffer.alloc(8);
      b.writeBigInt64LE(BigInt.asIntN(64, v.v));
      return b;
    }
    case 'uint': {
      const b = Buffer.alloc(8);
      b.writeBigUInt64LE(BigInt.asUintN(64, v.v));
      return b;
    }
    case 'bool':
      return Buffer.from([v.v ? 1 : 0]);
    case 'msg':
      return Buffer.alloc(0);
    case 'map': {
      const pairs: Pair[] = [];
      for (const k of v.kind.keys(v.s)) {
        const val = v.kind.get(v.s, k);
        if (!val) continue;
        const b = serialize(val);
        if (typeof b === 'number') return WasmResult.SerializationFailure;
        pairs.push([k, b instanceof Uint8Array ? b.toString('latin1') : Buffer.from(b.v, b.enc).toString('latin1')]);
      }
      return encodePairs(pairs);
    }
    default:
      return WasmResult.SerializationFailure;
  }
}

// One path segment as a string: short ASCII decoded in JS (a Buffer toString is a call
// into C++ costing more than the rest of the lookup), anything else as UTF-8 (the same
// string either way).
function segment(b: Buffer, start: number, end: number): string {
  if (end - start > 32) return b.toString('utf8', start, end);
  let s = '';
  for (let i = start; i < end; i++) {
    const c = b[i];
    if (c >= 0x80) return b.toString('utf8', start, end);
    s += String.fromCharCode(c);
  }
  return s;
}

// The path split on NUL bytes, as Envoy's getProperty walks it (a trailing NUL ends the
// last segment; an empty path has none).
function split(b: Buffer, ptr: number, size: number): string[] {
  const parts: string[] = [];
  const stop = ptr + size;
  let start = ptr;
  while (start < stop) {
    let end = start;
    while (end < stop && b[end] !== 0) end++;
    parts.push(segment(b, start, end));
    start = end + 1;
  }
  return parts;
}

// Paths already split, by where the module keeps them. Envoy splits a path into
// string_views of the module's memory (no allocation); building a string per segment per
// call is harness work Envoy does not do, so a path is split once and kept with its bytes
// under its address: a module passes its constant paths from the same place every time
// (tandem's filter: upstream.address, response.flags, ...). A hit is checked byte for byte
// (the memory may hold something else now: then it is split again and replaces the entry);
// a path longer than PATH_CACHE_BYTES, or at a new address once PATH_CACHE_SIZE are kept,
// is split every time.
const PATH_CACHE_SIZE = 256;
const PATH_CACHE_BYTES = 128;
const paths = new Map<number, { bytes: Buffer; parts: string[] }>();

function pathParts(b: Buffer, ptr: number, size: number): string[] {
  if (size > PATH_CACHE_BYTES) return split(b, ptr, size);
  const hit = paths.get(ptr);
  if (hit !== undefined && hit.bytes.length === size) {
    const k = hit.bytes;
    let i = 0;
    while (i < size && k[i] === b[ptr + i]) i++;
    if (i === size) return hit.parts;
  }
  const parts = split(b, ptr, size);
  if (hit !== undefined || paths.size < PATH_CACHE_SIZE) paths.set(ptr, { bytes: Buffer.from(b.subarray(ptr, ptr + size)), parts });
  return parts;
}

/**
 * The property at the path in `mem[ptr, ptr + size)`, the module's bytes read in place
 * (Envoy's getMemory: a view, no copy; the lookup makes no call into the VM).
 */
export function getProperty(ctx: ContextBase, mem: Buffer, ptr: number, size: number): PropertyResult {
  const parts = pathParts(mem, ptr, size);
  if (parts.length === 0) return serialize({ t: 'null' });
  let value = findValue(ctx, parts[0]);
  if (!value) return WasmResult.NotFound;
  for (let i = 1; i < parts.length; i++) {
    if (value.t !== 'map') return WasmResult.NotFound;
    const field: Cel | undefined = value.kind.get(value.s, parts[i]);
    if (!field) return WasmResult.NotFound;
    value = field;
  }
  return serialize(value);
}
