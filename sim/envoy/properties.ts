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

type Cel =
  | { t: 'bytes'; v: Buffer }
  | { t: 'int'; v: bigint }
  | { t: 'uint'; v: bigint }
  | { t: 'bool'; v: boolean }
  | { t: 'ts'; v: bigint }
  | { t: 'dur'; v: bigint }
  | { t: 'map'; get(key: string): Cel | undefined; entries(): Array<[string, Cel]> }
  | { t: 'msg' }
  | { t: 'null' };

const str = (s: string, enc: BufferEncoding = 'utf8'): Cel => ({ t: 'bytes', v: Buffer.from(s, enc) });
const hdr = (s: string | undefined): Cel | undefined => (s === undefined ? undefined : str(s, 'latin1'));
const int = (n: number | bigint): Cel => ({ t: 'int', v: BigInt(n) });

function lazyMap(keys: string[], get: (k: string) => Cel | undefined): Cel {
  return {
    t: 'map',
    get,
    entries: () => keys.map((k) => [k, get(k)] as [string, Cel | undefined]).filter((e): e is [string, Cel] => !!e[1]),
  };
}

function headersMap(map: HeaderMap | null): Cel {
  const keys = map ? map.uniqueKeys() : [];
  return lazyMap(keys, (k) => hdr(map?.getAll(k)));
}

function requestMap(info: StreamInfo, headers: HeaderMap | null): Cel {
  const keys = ['headers', 'time', 'size', 'total_size', 'duration', 'protocol', 'path', 'url_path', 'host', 'scheme', 'method', 'referer', 'id', 'useragent', 'query'];
  return lazyMap(keys, (k) => {
    switch (k) {
      case 'headers':
        return headersMap(headers);
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
        return str(q < 0 ? p : p.slice(0, q), 'latin1');
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
        return str(h < 0 ? rest : rest.slice(0, h), 'latin1');
      }
    }
    return undefined;
  });
}

function responseMap(info: StreamInfo, headers: HeaderMap | null, trailers: HeaderMap | null): Cel {
  const keys = ['code', 'code_details', 'flags', 'grpc_status', 'headers', 'trailers', 'size', 'total_size'];
  return lazyMap(keys, (k) => {
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
        return headersMap(headers);
      case 'trailers':
        return headersMap(trailers);
      case 'size':
        return int(info.bytesSent);
      case 'total_size':
        return int(info.bytesSent + (headers ? headers.byteSize() : 0) + (trailers ? trailers.byteSize() : 0));
    }
    return undefined;
  });
}

function connectionMap(info: StreamInfo): Cel {
  return lazyMap(['mtls', 'requested_server_name', 'id'], (k) => {
    if (k === 'mtls') return { t: 'bool', v: false };
    if (k === 'requested_server_name') return str(info.requestedServerName);
    if (k === 'id') return info.connectionId === undefined ? undefined : { t: 'uint', v: BigInt(info.connectionId) };
    return undefined; // no TLS: tls_version, certificates... are absent
  });
}

function upstreamMap(info: StreamInfo): Cel | undefined {
  return lazyMap(['address', 'port', 'local_address', 'transport_failure_reason'], (k) => {
    if (!info.upstreamHost) return undefined; // no upstreamInfo yet
    if (k === 'address') return str(addressString(info.upstreamHost));
    if (k === 'port') return int(info.upstreamHost.port);
    if (k === 'local_address') return info.upstreamLocal ? str(addressString(info.upstreamLocal)) : undefined;
    if (k === 'transport_failure_reason') return str(info.upstreamTransportFailureReason);
    return undefined;
  });
}

function peerMap(info: StreamInfo, local: boolean): Cel {
  return lazyMap(['address', 'port'], (k) => {
    const a = local ? info.downstreamLocal : info.downstreamRemote;
    if (k === 'address') return str(addressString(a));
    if (k === 'port') return int(a.port);
    return undefined;
  });
}

function filterStateMap(info: StreamInfo): Cel {
  return lazyMap([...info.filterState.keys()], (k) => {
    const v = info.filterState.get(k);
    return v ? { t: 'bytes', v } : undefined;
  });
}

function xdsMap(info: StreamInfo | null): Cel {
  return lazyMap(['cluster_name', 'route_name', 'filter_chain_name'], (k) => {
    if (k === 'cluster_name') return info?.clusterName === undefined ? undefined : str(info.clusterName);
    if (k === 'route_name') return info?.hasRoute ? str(info.routeName ?? '') : undefined;
    if (k === 'filter_chain_name') return str('');
    return undefined;
  });
}

function findValue(ctx: ContextBase, name: string): Cel | undefined {
  const info = ctx.streamInfo;
  // StreamActivation::FindValue
  if (name === 'xds') return xdsMap(info);
  if (info) {
    const fc = ctx as FilterContext;
    const reqHeaders = fc.requestHeaders ?? fc.accessLogRequestHeaders;
    const respHeaders = fc.responseHeaders ?? fc.accessLogResponseHeaders;
    const respTrailers = fc.responseTrailers ?? fc.accessLogResponseTrailers;
    switch (name) {
      case 'request':
        return requestMap(info, reqHeaders);
      case 'response':
        return responseMap(info, respHeaders, respTrailers);
      case 'connection':
        return connectionMap(info);
      case 'upstream':
        return upstreamMap(info);
      case 'source':
        return peerMap(info, false);
      case 'destination':
        return peerMap(info, true);
      case 'metadata':
        return { t: 'msg' }; // empty dynamic metadata message
      case 'filter_state':
        return filterStateMap(info);
      case 'upstream_filter_state':
        return lazyMap([], () => undefined);
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

function serialize(v: Cel): { result: WasmResultCode; value?: Buffer } {
  switch (v.t) {
    case 'bytes':
      return { result: WasmResult.Ok, value: v.v };
    case 'int':
    case 'ts':
    case 'dur': {
      const b = Buffer.alloc(8);
      b.writeBigInt64LE(BigInt.asIntN(64, v.v));
      return { result: WasmResult.Ok, value: b };
    }
    case 'uint': {
      const b = Buffer.alloc(8);
      b.writeBigUInt64LE(BigInt.asUintN(64, v.v));
      return { result: WasmResult.Ok, value: b };
    }
    case 'bool':
      return { result: WasmResult.Ok, value: Buffer.from([v.v ? 1 : 0]) };
    case 'msg':
      return { result: WasmResult.Ok, value: Buffer.alloc(0) };
    case 'map': {
      const pairs: Pair[] = [];
      for (const [k, val] of v.entries()) {
        const s = serialize(val);
        if (s.result !== WasmResult.Ok) return { result: WasmResult.SerializationFailure };
        pairs.push([k, s.value!.toString('latin1')]);
      }
      return { result: WasmResult.Ok, value: encodePairs(pairs) };
    }
    default:
      return { result: WasmResult.SerializationFailure };
  }
}

export function getProperty(ctx: ContextBase, path: Buffer): { result: WasmResultCode; value?: Buffer } {
  let value: Cel = { t: 'null' };
  let first = true;
  let start = 0;
  while (start < path.length) {
    let end = path.indexOf(0, start);
    if (end < 0) end = path.length;
    const part = path.toString('utf8', start, end);
    start = end + 1;
    if (first) {
      first = false;
      const top = findValue(ctx, part);
      if (!top) return { result: WasmResult.NotFound };
      value = top;
    } else if (value.t === 'map') {
      const field: Cel | undefined = value.get(part);
      if (!field) return { result: WasmResult.NotFound };
      value = field;
    } else {
      return { result: WasmResult.NotFound };
    }
  }
  return serialize(value);
}
