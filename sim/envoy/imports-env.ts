// The "env" host functions (proxy_*), with the argument checks and result codes of
// proxy-wasm-cpp-host src/exports.cc and the Envoy behaviour behind them
// (source/extensions/common/wasm/context.cc). Order of checks matters and is kept:
// map/buffer type > MAX → BadArgument before any memory is read; unreadable input or
// unwritable output memory → InvalidMemoryAccess; returned data is malloc'ed in the module.

import { BufferType, CalloutType, LogLevel, MapType, StreamType, WasmResult } from './abi-status.js';
import { FilterContext, RootContext, type ContextBase } from './context.js';
import { HeaderMap } from './header-map.js';
import { decodePairs, listsSize, writeLists, type Pair } from './pairs.js';
import { getProperty } from './properties.js';
import { setNsOfMs } from './stream-info.js';
import type { WasmVm } from './vm.js';

const W = WasmResult;

export interface HttpCallRequest {
  cluster: string;
  headers: Pair[];
  body: Buffer;
  trailers: Pair[];
  timeoutMs: number;
}
export interface HttpCallResponseData {
  headers: Pair[];
  body: Buffer;
  trailers: Pair[];
}

/** What the surrounding proxy provides to the VM (Envoy's cluster manager etc.). */
export interface HostEnv {
  hasCluster(name: string): boolean;
  /** Starts an async call; `done(null)` reports a reset/failure. */
  httpCall(req: HttpCallRequest, done: (resp: HttpCallResponseData | null) => void): { cancel(): void };
  /** proxy_set_tick_period_milliseconds changed for a root context. */
  onTickPeriod?(vm: WasmVm, root: RootContext): void;
}

/** Envoy foreign functions we model (source/extensions/common/wasm/foreign.cc). */
const FOREIGN: Record<string, (ctx: ContextBase, args: Buffer) => { result: number; data?: Buffer }> = {
  // Envoy >= 1.33: lets a module clear the route cache explicitly.
  clear_route_cache: (ctx) => {
    if (ctx instanceof FilterContext) ctx.callbacks.clearRouteCache();
    return { result: W.Ok };
  },
};

export function createEnvImports(vm: WasmVm): Record<string, (...a: never[]) => unknown> {
  const mem = vm.mem;
  const abi01 = vm.abi === '0.1.0';

  const getMapValue = (type: number, kp: number, ks: number, vpp: number, vsp: number): number => {
    if (type >>> 0 > MapType.MAX) return W.BadArgument;
    const ctx = vm.ctx();
    const key = mem.name(kp, ks);
    if (key === null) return W.InvalidMemoryAccess;
    const map = ctx.getConstMap(type);
    let value: string | undefined;
    if (!map) {
      // Maps may be absent in the access-log phase; elsewhere the map is "not available".
      if (ctx instanceof FilterContext && ctx.accessLogPhase) {
        if (!abi01) return W.NotFound;
        value = '';
      } else {
        return W.BadArgument;
      }
    } else {
      value = map.get(key);
      if (value === undefined) {
        if (!abi01) return W.NotFound;
        value = '';
      }
    }
    return vm.copyToPointerSize(value, vpp, vsp) ? W.Ok : W.InvalidMemoryAccess;
  };

  const mutateMap = (type: number, kp: number, ks: number, vp: number, vs: number, op: 'add' | 'replace'): number => {
    if (type >>> 0 > MapType.MAX) return W.BadArgument;
    const ctx = vm.ctx();
    const key = mem.latin1(kp, ks);
    const value = mem.latin1(vp, vs);
    if (key === null || value === null) return W.InvalidMemoryAccess;
    const map = ctx.getMap(type);
    if (!map) return W.BadArgument;
    if (op === 'add') map.add(key, value);
    else map.setCopy(key, value);
    (ctx as FilterContext).onHeadersModified(type);
    return W.Ok;
  };

  const continueStream = (type: number): number => {
    if (type >>> 0 > StreamType.MAX) return W.BadArgument;
    return vm.ctx().continueStream(type >>> 0);
  };

  const env = {
    // ---- logging, time, status ----
    proxy_log(level: number, ptr: number, size: number): number {
      if (level >>> 0 > LogLevel.MAX) return W.BadArgument;
      if (!mem.inRange(ptr, size)) return W.InvalidMemoryAccess;
      if (level < vm.logLevel) return W.Ok; // below the logger level: ENVOY_LOG drops it
      vm.log(level, mem.utf8(ptr, size)!, vm.ctx().rootId);
      return W.Ok;
    },
    proxy_get_log_level(ptr: number): number {
      return mem.setWord(ptr, vm.logLevel) ? W.Ok : W.InvalidMemoryAccess;
    },
    proxy_get_current_time_nanoseconds(ptr: number): number {
      return setNsOfMs(mem, ptr, vm.clock()) ? W.Ok : W.InvalidMemoryAccess;
    },
    proxy_set_tick_period_milliseconds(period: number): number {
      const root = vm.ctx().rootContext;
      if (root) {
        root.tickPeriodMs = period >>> 0;
        vm.env?.onTickPeriod?.(vm, root);
      }
      return W.Ok;
    },
    proxy_get_status(codePtr: number, ptrPtr: number, sizePtr: number): number {
      const ctx = vm.ctx();
      const root = ctx.rootContext;
      const code = root?.statusCode ?? 0;
      const msg = root?.statusMessage ?? '';
      if (!mem.setWord(codePtr, code)) return W.InvalidMemoryAccess;
      return vm.copyToPointerSize(Buffer.from(msg, 'utf8'), ptrPtr, sizePtr) ? W.Ok : W.InvalidMemoryAccess;
    },

    // ---- properties ----
    proxy_get_property(pathPtr: number, pathSize: number, vpp: number, vsp: number): number {
      const ctx = vm.ctx();
      if (!mem.inRange(pathPtr, pathSize)) return W.InvalidMemoryAccess;
      const v = getProperty(ctx, mem.bytes(), pathPtr >>> 0, pathSize >>> 0); // read in place, as Envoy's getMemory
      if (typeof v === 'number') return v;
      const ok = v instanceof Uint8Array ? vm.copyToPointerSize(v, vpp, vsp) : vm.copyToPointerSize(v.v, vpp, vsp, v.enc);
      return ok ? W.Ok : W.InvalidMemoryAccess;
    },
    proxy_set_property(kp: number, ks: number, vp: number, vs: number): number {
      const ctx = vm.ctx();
      const key = mem.latin1(kp, ks);
      const value = mem.get(vp, vs);
      if (key === null || value === null) return W.InvalidMemoryAccess;
      return ctx.setProperty(key, value);
    },

    // ---- stream control ----
    proxy_send_local_response(
      code: number,
      dp: number,
      ds: number,
      bp: number,
      bs: number,
      hp: number,
      hs: number,
      grpc: number,
    ): number {
      const ctx = vm.ctx();
      const details = mem.utf8(dp, ds);
      const body = mem.latin1(bp, bs);
      const headerBytes = mem.get(hp, hs);
      if (details === null || body === null || headerBytes === null) return W.InvalidMemoryAccess;
      ctx.sendLocalResponse(code >>> 0, body, decodePairs(headerBytes), grpc >>> 0, details);
      vm.stopIteration = true;
      return W.Ok;
    },
    proxy_continue_stream: continueStream,
    proxy_close_stream(type: number): number {
      if (type >>> 0 > StreamType.MAX) return W.BadArgument;
      return vm.ctx().closeStream(type >>> 0);
    },
    proxy_set_effective_context(id: number): number {
      if (!vm.contexts.has(id >>> 0)) return W.BadArgument;
      vm.effectiveId = id >>> 0;
      return W.Ok;
    },
    proxy_done(): number {
      return vm.done(vm.ctx());
    },

    // ---- ABI 0.1.0 only ----
    proxy_get_configuration(ptrPtr: number, sizePtr: number): number {
      const ctx = vm.ctx();
      const cfg = ctx instanceof RootContext && ctx.tempPluginConfig !== null ? ctx.tempPluginConfig : vm.vmConfiguration;
      return vm.copyToPointerSize(Buffer.from(cfg, 'utf8'), ptrPtr, sizePtr) ? W.Ok : W.InvalidMemoryAccess;
    },
    proxy_continue_request(): number {
      return vm.ctx().continueStream(StreamType.Request);
    },
    proxy_continue_response(): number {
      return vm.ctx().continueStream(StreamType.Response);
    },
    proxy_clear_route_cache(): number {
      const ctx = vm.ctx();
      if (ctx instanceof FilterContext) ctx.callbacks.clearRouteCache();
      return W.Ok;
    },

    // ---- header maps ----
    proxy_get_header_map_value: getMapValue,
    proxy_add_header_map_value(type: number, kp: number, ks: number, vp: number, vs: number): number {
      return mutateMap(type, kp, ks, vp, vs, 'add');
    },
    proxy_replace_header_map_value(type: number, kp: number, ks: number, vp: number, vs: number): number {
      return mutateMap(type, kp, ks, vp, vs, 'replace');
    },
    proxy_remove_header_map_value(type: number, kp: number, ks: number): number {
      if (type >>> 0 > MapType.MAX) return W.BadArgument;
      const ctx = vm.ctx();
      const key = mem.latin1(kp, ks);
      if (key === null) return W.InvalidMemoryAccess;
      const map = ctx.getMap(type);
      if (!map) return W.BadArgument;
      map.remove(key);
      (ctx as FilterContext).onHeadersModified(type);
      return W.Ok;
    },
    proxy_get_header_map_pairs(type: number, ptrPtr: number, sizePtr: number): number {
      if (type >>> 0 > MapType.MAX) return W.BadArgument;
      const ctx = vm.ctx();
      const map = ctx.getConstMap(type); // Envoy: a missing map serializes as no pairs, Ok
      if (!map || map.size === 0) {
        return vm.copyToPointerSize('', ptrPtr, sizePtr) ? W.Ok : W.InvalidMemoryAccess;
      }
      const wire = map.encodedPairs;
      const size = wire ? wire.length : listsSize(map.keys, map.values);
      const ptr = vm.alloc(size);
      if (ptr === 0) return W.InvalidMemoryAccess;
      if (wire) wire.copy(mem.bytes(), ptr);
      else writeLists(map.keys, map.values, mem.bytes(), ptr);
      if (!mem.setWord(ptrPtr, ptr)) return W.InvalidMemoryAccess;
      if (!mem.setWord(sizePtr, size)) return W.InvalidMemoryAccess;
      return W.Ok;
    },
    proxy_set_header_map_pairs(type: number, ptr: number, size: number): number {
      if (type >>> 0 > MapType.MAX) return W.BadArgument;
      const ctx = vm.ctx();
      const data = mem.get(ptr, size);
      if (data === null) return W.InvalidMemoryAccess;
      const pairs = decodePairs(data);
      const map = ctx.getMap(type);
      if (!map) return W.BadArgument;
      map.clear();
      for (const [k, v] of pairs) map.add(k, v);
      (ctx as FilterContext).onHeadersModified(type);
      return W.Ok;
    },
    proxy_get_header_map_size(type: number, resultPtr: number): number {
      if (type >>> 0 > MapType.MAX) return W.BadArgument;
      const map = vm.ctx().getMap(type);
      if (!map) return W.BadArgument;
      return mem.setWord(resultPtr, map.byteSize()) ? W.Ok : W.InvalidMemoryAccess;
    },

    // ---- buffers ----
    proxy_get_buffer_bytes(type: number, start: number, length: number, ptrPtr: number, sizePtr: number): number {
      if (type >>> 0 > BufferType.MAX) return W.BadArgument;
      const buf = vm.ctx().getBuffer(type >>> 0);
      if (!buf) return W.NotFound;
      start >>>= 0;
      length >>>= 0;
      if (start > buf.size) length = 0;
      else if (start + length > buf.size) length = buf.size - start;
      if (length === 0) {
        return mem.setWord(ptrPtr, 0) && mem.setWord(sizePtr, 0) ? W.Ok : W.InvalidMemoryAccess;
      }
      return vm.copyToPointerSize(buf.data.subarray(start, start + length), ptrPtr, sizePtr) ? W.Ok : W.InvalidMemoryAccess;
    },
    proxy_get_buffer_status(type: number, lengthPtr: number, flagsPtr: number): number {
      if (type >>> 0 > BufferType.MAX) return W.BadArgument;
      const buf = vm.ctx().getBuffer(type >>> 0);
      if (!buf) return W.NotFound;
      if (!mem.setWord(lengthPtr, buf.size)) return W.InvalidMemoryAccess;
      if (!mem.setWord(flagsPtr, 0)) return W.InvalidMemoryAccess;
      return W.Ok;
    },
    proxy_set_buffer_bytes(type: number, start: number, length: number, dp: number, ds: number): number {
      if (type >>> 0 > BufferType.MAX) return W.BadArgument;
      const buf = vm.ctx().getBuffer(type >>> 0);
      if (!buf) return W.NotFound;
      const data = mem.get(dp, ds);
      if (data === null) return W.InvalidMemoryAccess;
      return buf.copyFrom(start >>> 0, length >>> 0, data);
    },

    // ---- shared data and queues ----
    proxy_get_shared_data(kp: number, ks: number, vpp: number, vsp: number, casPtr: number): number {
      const key = mem.latin1(kp, ks);
      if (key === null) return W.InvalidMemoryAccess;
      const entry = vm.sharedData.get(vm.vmId, key);
      if (!entry) return W.NotFound;
      if (!vm.copyToPointerSize(entry.value, vpp, vsp)) return W.InvalidMemoryAccess;
      if (!mem.setWord(casPtr, entry.cas)) return W.InvalidMemoryAccess;
      return W.Ok;
    },
    proxy_set_shared_data(kp: number, ks: number, vp: number, vs: number, cas: number): number {
      const key = mem.latin1(kp, ks);
      const value = mem.get(vp, vs);
      if (key === null || value === null) return W.InvalidMemoryAccess;
      return vm.sharedData.set(vm.vmId, key, value, cas >>> 0);
    },
    proxy_register_shared_queue(np: number, ns: number, tokenPtr: number): number {
      const ctx = vm.ctx();
      const name = mem.latin1(np, ns);
      if (name === null) return W.InvalidMemoryAccess;
      // on_queue_ready goes to the root context (for a stream context: its parent root).
      const target = ctx.isRoot ? ctx.id : (ctx.rootContext?.id ?? 0);
      const token = vm.sharedData.queues.register(vm.vmId, name, vm, target);
      return mem.setWord(tokenPtr, token) ? W.Ok : W.InvalidMemoryAccess;
    },
    proxy_resolve_shared_queue(vp: number, vs: number, np: number, ns: number, tokenPtr: number): number {
      const vmIdArg = mem.latin1(vp, vs);
      const name = mem.latin1(np, ns);
      if (vmIdArg === null || name === null) return W.InvalidMemoryAccess;
      const token = vm.sharedData.queues.resolve(vmIdArg === '' ? vm.vmId : vmIdArg, name);
      if (vm.failed || token === 0) return W.NotFound;
      return mem.setWord(tokenPtr, token) ? W.Ok : W.InvalidMemoryAccess;
    },
    proxy_dequeue_shared_queue(token: number, ptrPtr: number, sizePtr: number): number {
      const r = vm.sharedData.queues.dequeue(token >>> 0);
      if (r.result !== W.Ok) return r.result;
      return vm.copyToPointerSize(r.data!, ptrPtr, sizePtr) ? W.Ok : W.InvalidMemoryAccess;
    },
    proxy_enqueue_shared_queue(token: number, dp: number, ds: number): number {
      const data = mem.get(dp, ds);
      if (data === null) return W.InvalidMemoryAccess;
      return vm.sharedData.queues.enqueue(token >>> 0, data);
    },

    // ---- metrics ----
    proxy_define_metric(type: number, np: number, ns: number, idPtr: number): number {
      const name = mem.utf8(np, ns);
      if (name === null) return W.InvalidMemoryAccess;
      const r = vm.metrics.define(type >>> 0, name);
      if (r.result !== W.Ok) return r.result;
      return mem.setWord(idPtr, r.id!) ? W.Ok : W.InvalidMemoryAccess;
    },
    proxy_increment_metric(id: number, offset: bigint): number {
      return vm.metrics.increment(id >>> 0, BigInt.asIntN(64, offset));
    },
    proxy_record_metric(id: number, value: bigint): number {
      return vm.metrics.record(id >>> 0, BigInt.asUintN(64, value));
    },
    proxy_get_metric(id: number, ptr: number): number {
      const r = vm.metrics.get(id >>> 0);
      if (r.result !== W.Ok) return r.result;
      return mem.setU64(ptr, r.value!) ? W.Ok : W.InvalidMemoryAccess;
    },

    // ---- callouts ----
    proxy_http_call(
      up: number,
      us: number,
      hp: number,
      hs: number,
      bp: number,
      bs: number,
      tp: number,
      ts: number,
      timeout: number,
      tokenPtr: number,
    ): number {
      const ctx = vm.ctx();
      const root = ctx.rootContext;
      const uri = mem.latin1(up, us);
      const body = mem.get(bp, bs);
      const headerBytes = mem.get(hp, hs);
      const trailerBytes = mem.get(tp, ts);
      if (uri === null || body === null || headerBytes === null || trailerBytes === null) return W.InvalidMemoryAccess;
      const headers = decodePairs(headerBytes);
      const trailers = decodePairs(trailerBytes);
      if (!mem.setWord(tokenPtr, 0)) return W.InvalidMemoryAccess;
      // Context::httpCall
      if ((timeout | 0) < 0) return W.BadArgument;
      if (!root || !vm.env || !vm.env.hasCluster(uri)) return W.BadArgument;
      const probe = HeaderMap.fromPairs(headers, 'request');
      if (!probe.has(':path') || !probe.has(':method') || !probe.has(':authority')) return W.BadArgument;
      const token = vm.nextHttpCallToken();
      const handle = vm.env.httpCall({ cluster: uri, headers, body, trailers, timeoutMs: timeout >>> 0 }, (resp) => {
        if (!root.httpCalls.delete(token) || !vm.contexts.has(root.id)) return;
        if (resp) {
          root.httpCallResponse = {
            headers: HeaderMap.fromPairs(resp.headers, 'response'),
            body: resp.body,
            trailers: resp.trailers.length ? HeaderMap.fromPairs(resp.trailers, 'trailers') : null,
          };
          vm.onHttpCallResponse(root, token, resp.headers.length, resp.body.length, resp.trailers.length);
          root.httpCallResponse = null;
        } else {
          root.statusCode = W.BrokenConnection;
          root.statusMessage = 'reset';
          vm.onHttpCallResponse(root, token, 0, 0, 0);
          root.statusCode = 0;
          root.statusMessage = '';
        }
      });
      root.httpCalls.set(token, handle);
      mem.setWord(tokenPtr, token);
      return W.Ok;
    },
    proxy_grpc_call(sp: number, ss: number, snp: number, sns: number, mp: number, ms: number, imp: number, ims: number, rp: number, rs: number): number {
      const service = mem.latin1(sp, ss);
      if (service === null || mem.get(snp, sns) === null || mem.get(mp, ms) === null || mem.get(imp, ims) === null || mem.get(rp, rs) === null) {
        return W.InvalidMemoryAccess;
      }
      // Not a serialized GrpcService and no such cluster → ParseFailure (Context::grpcCall).
      if (!vm.env?.hasCluster(service)) return W.ParseFailure;
      return W.Unimplemented; // gRPC callouts are not modelled by this harness
    },
    proxy_grpc_stream(sp: number, ss: number, snp: number, sns: number, mp: number, ms: number, imp: number, ims: number): number {
      const service = mem.latin1(sp, ss);
      if (service === null || mem.get(snp, sns) === null || mem.get(mp, ms) === null || mem.get(imp, ims) === null) {
        return W.InvalidMemoryAccess;
      }
      if (!vm.env?.hasCluster(service)) return W.ParseFailure;
      return W.Unimplemented;
    },
    proxy_grpc_cancel(token: number): number {
      const t = (token >>> 0) & 3;
      return t === CalloutType.GrpcCall || t === CalloutType.GrpcStream ? W.NotFound : W.BadArgument;
    },
    proxy_grpc_close(token: number): number {
      const t = (token >>> 0) & 3;
      return t === CalloutType.GrpcCall || t === CalloutType.GrpcStream ? W.NotFound : W.BadArgument;
    },
    proxy_grpc_send(token: number, mp: number, ms: number): number {
      if (mem.get(mp, ms) === null) return W.InvalidMemoryAccess;
      return ((token >>> 0) & 3) === CalloutType.GrpcStream ? W.NotFound : W.BadArgument;
    },
    proxy_call_foreign_function(np: number, ns: number, ap: number, as: number, rp: number, rsp: number): number {
      const ctx = vm.ctx();
      const name = mem.latin1(np, ns);
      if (name === null) return W.InvalidMemoryAccess;
      const args = mem.get(ap, as);
      if (args === null) return W.InvalidMemoryAccess;
      const f = FOREIGN[name];
      if (!f) return W.NotFound;
      const r = f(ctx, args);
      let address = 0;
      const size = r.data?.length ?? 0;
      if (r.data && rp >>> 0 !== 0) {
        address = vm.alloc(size);
        if (address) mem.set(address, r.data);
      }
      if (rp >>> 0 !== 0 && !mem.setWord(rp, address)) return W.InvalidMemoryAccess;
      if (rsp >>> 0 !== 0 && !mem.setWord(rsp, size)) return W.InvalidMemoryAccess;
      return r.result;
    },

    // ---- emscripten helpers Envoy always registers ----
    pthread_equal(a: number, b: number): number {
      return a === b ? 1 : 0;
    },
    emscripten_notify_memory_growth(_index: number): void {},
  };
  return env as unknown as Record<string, (...a: never[]) => unknown>;
}
