// Host-side contexts, mirroring proxy-wasm-cpp-host ContextBase and Envoy's
// Extensions::Common::Wasm::Context (source/extensions/common/wasm/context.{h,cc}).
// A VM has one VM context (id 0, used for _initialize and malloc), one root context per plugin
// (created by start(plugin), receives on_vm_start/on_configure/on_tick) and one context per
// HTTP stream and filter. Which header maps and buffers a host call can reach depends on the
// callback currently running, exactly as in Envoy:
// - request headers are readable/writable only while on_request_headers runs (or while the
//   filter keeps the request paused); Envoy drops its pointer when the callback returns
//   Continue, so in on_response_headers a request-header call gets BadArgument
//   (get_header_map_pairs gets Ok with an empty map);
// - response headers likewise only during on_response_headers;
// - in on_log the maps are the final ones, read-only (mutations are BadArgument, a missing
//   map is NotFound);
// - PluginConfiguration is only available while on_configure (and the root's
//   on_context_create) runs: NotFound elsewhere.

import { BufferType, MapType, StreamType, WasmResult, type WasmResultCode } from './abi-status.js';
import type { HeaderMap } from './header-map.js';
import type { Pair } from './pairs.js';
import type { StreamInfo } from './stream-info.js';
import type { WasmVm } from './vm.js';

/** envoy.extensions.wasm.v3.FailurePolicy (FAIL_RELOAD's reload is not modelled: README). */
export type FailurePolicy = 'FAIL_CLOSED' | 'FAIL_OPEN' | 'FAIL_RELOAD';

export interface PluginConfig {
  /** Envoy's config.name (Istio: "<namespace>.<WasmPlugin name>"); the plugin_name property. */
  name: string;
  rootId: string;
  vmId: string;
  vmConfiguration: string;
  configuration: string;
  /**
   * proxy-wasm PluginBase::fail_open_, read by CHECK_FAIL for a stream whose filter is in the
   * chain when its VM fails. Envoy's Plugin (source/extensions/common/wasm/plugin.h) passes
   * only the legacy `fail_open` field: with `failure_policy` alone it is false.
   */
  failOpen: boolean;
  /**
   * Envoy PluginConfig::failure_policy_ (source/extensions/common/wasm/wasm.cc): the legacy
   * fail_open makes it FAIL_OPEN, else failure_policy, UNSPECIFIED = FAIL_CLOSED. Read by
   * PluginConfig::createContext for a NEW stream on a failed VM: FAIL_OPEN adds no filter,
   * otherwise a Wasm-less context answers 503.
   */
  failurePolicy: FailurePolicy;
  /** cpp-host PluginBase::key(): root id + configuration (+ vm key) — identifies a root context. */
  key: string;
}

export function makePlugin(p: Omit<PluginConfig, 'key'>): PluginConfig {
  return { ...p, key: `${p.rootId}||${p.configuration}||${p.vmId}||${p.vmConfiguration}` };
}

/** What Envoy's decoder/encoder filter callbacks provide to a stream's Wasm contexts. */
export interface StreamCallbacks {
  readonly info: StreamInfo;
  /** decoder_callbacks_->sendLocalReply, already deferred until after the VM call returns. */
  sendLocalReply(
    from: FilterContext,
    code: number,
    body: string,
    headers: Pair[],
    grpcStatus: number | null,
    details: string,
  ): void;
  continueDecoding(from: FilterContext): void;
  continueEncoding(from: FilterContext): void;
  resetStream(from: FilterContext, details: string): void;
  /** The stream was reset (its filters are being destroyed: Envoy's Context::destroyed_). */
  isReset?(): boolean;
  /** decoder_callbacks_->downstreamCallbacks()->clearRouteCache(). */
  clearRouteCache(): void;
}

/** A body (or other) buffer with Envoy's Buffer::copyFrom rules. */
export class BodyBuffer {
  constructor(
    public data: Buffer,
    readonly mutable: boolean,
  ) {}
  get size(): number {
    return this.data.length;
  }
  /** Envoy Buffer::copyFrom (context.cc): replace a prefix, or append at/after the end. */
  copyFrom(start: number, length: number, bytes: Buffer): WasmResultCode {
    if (!this.mutable) return WasmResult.BadArgument;
    if (start === 0) {
      this.data = Buffer.concat([bytes, this.data.subarray(Math.min(length, this.data.length))]);
      return WasmResult.Ok;
    }
    if (start >= this.data.length) {
      this.data = Buffer.concat([this.data, bytes]);
      return WasmResult.Ok;
    }
    return WasmResult.BadArgument;
  }
}

const EMPTY_BUFFER = new BodyBuffer(Buffer.alloc(0), false);

export abstract class ContextBase {
  /** Last buffer handed to the VM (Envoy's Context::buffer_, also CallData). */
  callData: BodyBuffer = EMPTY_BUFFER;
  inVmContextCreated = false;
  destroyed = false;

  constructor(
    readonly vm: WasmVm,
    readonly id: number,
    readonly plugin: PluginConfig | null,
  ) {}

  abstract get isRoot(): boolean;
  abstract get rootContext(): RootContext | null;
  /** Stream info, null for VM and root contexts (getRequestStreamInfo() without callbacks). */
  get streamInfo(): StreamInfo | null {
    return null;
  }
  get rootId(): string {
    return this.plugin?.rootId ?? '';
  }

  getConstMap(_type: number): HeaderMap | null {
    return null;
  }
  getMap(_type: number): HeaderMap | null {
    return null;
  }
  /** Returns null where Envoy's getBuffer returns nullptr (→ NotFound). */
  getBuffer(type: number): BodyBuffer | null {
    switch (type) {
      case BufferType.CallData:
        return this.callData;
      case BufferType.VmConfiguration:
        return new BodyBuffer(Buffer.from(this.vm.vmConfiguration, 'utf8'), false);
      case BufferType.PluginConfiguration:
        return null; // only a root context inside on_configure has temp_plugin_
      case BufferType.HttpCallResponseBody: {
        const resp = this.rootContext?.httpCallResponse;
        return resp ? new BodyBuffer(resp.body, false) : null;
      }
      case BufferType.HttpRequestBody:
      case BufferType.HttpResponseBody:
      case BufferType.DownstreamData:
      case BufferType.UpstreamData:
      case BufferType.GrpcReceiveBuffer:
        // Envoy returns buffer_.set(nullptr): a present, empty buffer.
        return EMPTY_BUFFER;
      default:
        return null;
    }
  }

  setProperty(_path: string, _value: Buffer): WasmResultCode {
    return WasmResult.NotFound; // no stream info outside HTTP streams
  }

  sendLocalResponse(_code: number, _body: string, _headers: Pair[], _grpc: number, _details: string): void {}
  continueStream(type: number): WasmResultCode {
    if (type === StreamType.Downstream) return WasmResult.Ok;
    if (type === StreamType.Upstream) return WasmResult.Unimplemented;
    if (type > StreamType.MAX) return WasmResult.BadArgument;
    return WasmResult.Ok;
  }
  closeStream(type: number): WasmResultCode {
    return type > StreamType.MAX ? WasmResult.BadArgument : WasmResult.Ok;
  }
}

export class VmContext extends ContextBase {
  get isRoot(): boolean {
    return false;
  }
  get rootContext(): RootContext | null {
    return null;
  }
}

export interface HttpCallResponse {
  headers: HeaderMap;
  body: Buffer;
  trailers: HeaderMap | null;
}

export class RootContext extends ContextBase {
  /** Plugin configuration while on_configure (and the root on_context_create) runs. */
  tempPluginConfig: string | null = null;
  statusCode = 0;
  statusMessage = '';
  httpCallResponse: HttpCallResponse | null = null;
  tickPeriodMs = 0;
  /** on_done returned false: waiting for proxy_done before on_delete. */
  pendingDone = false;
  /** Replaced by a newer configuration; shut down when the last stream using it ends. */
  retired = false;
  activeStreams = 0;
  readonly httpCalls = new Map<number, { cancel(): void }>();

  get isRoot(): boolean {
    return true;
  }
  get rootContext(): RootContext {
    return this;
  }

  /** Only the http_call response maps exist outside streams (during on_http_call_response). */
  getConstMap(type: number): HeaderMap | null {
    if (type === MapType.HttpCallResponseHeaders) return this.httpCallResponse?.headers ?? null;
    if (type === MapType.HttpCallResponseTrailers) return this.httpCallResponse?.trailers ?? null;
    return null;
  }

  getBuffer(type: number): BodyBuffer | null {
    if (type === BufferType.PluginConfiguration) {
      return this.tempPluginConfig === null
        ? null
        : new BodyBuffer(Buffer.from(this.tempPluginConfig, 'utf8'), false);
    }
    return super.getBuffer(type);
  }
}

export class FilterContext extends ContextBase {
  requestHeaders: HeaderMap | null = null;
  responseHeaders: HeaderMap | null = null;
  requestTrailers: HeaderMap | null = null;
  responseTrailers: HeaderMap | null = null;
  requestBody: BodyBuffer | null = null;
  responseBody: BodyBuffer | null = null;
  /** Context::buffering_response_body_: the last on_response_body said StopIterationAndBuffer. */
  bufferingResponseBody = false;
  endOfStream = false;
  accessLogPhase = false;
  accessLogRequestHeaders: HeaderMap | null = null;
  accessLogResponseHeaders: HeaderMap | null = null;
  accessLogResponseTrailers: HeaderMap | null = null;
  failureLocalReplySent = false;
  streamFailed = false;
  /** A failed-closed filter is an Envoy Context built with a null Wasm (wasm_filter.h createFilter). */
  readonly wasmMissing: boolean;

  constructor(
    vm: WasmVm,
    id: number,
    readonly root: RootContext,
    readonly callbacks: StreamCallbacks,
    wasmMissing = false,
  ) {
    super(vm, id, root.plugin);
    this.wasmMissing = wasmMissing;
  }

  get isRoot(): boolean {
    return false;
  }
  get rootContext(): RootContext {
    return this.root;
  }
  get streamInfo(): StreamInfo {
    return this.callbacks.info;
  }

  /** Context::getMap: the maps a callback may modify. */
  getMap(type: number): HeaderMap | null {
    switch (type) {
      case MapType.RequestHeaders:
        return this.requestHeaders;
      case MapType.RequestTrailers:
        return this.requestTrailers;
      case MapType.ResponseHeaders:
        return this.responseHeaders;
      case MapType.ResponseTrailers:
        return this.responseTrailers;
      default:
        return null;
    }
  }

  /** Context::getConstMap: what a callback may read (access-log maps during on_log). */
  getConstMap(type: number): HeaderMap | null {
    switch (type) {
      case MapType.RequestHeaders:
        return this.accessLogPhase ? this.accessLogRequestHeaders : this.requestHeaders;
      case MapType.RequestTrailers:
        return this.accessLogPhase ? null : this.requestTrailers;
      case MapType.ResponseHeaders:
        return this.accessLogPhase ? this.accessLogResponseHeaders : this.responseHeaders;
      case MapType.ResponseTrailers:
        return this.accessLogPhase ? this.accessLogResponseTrailers : this.responseTrailers;
      case MapType.HttpCallResponseHeaders:
        return this.root.httpCallResponse?.headers ?? null;
      case MapType.HttpCallResponseTrailers:
        return this.root.httpCallResponse?.trailers ?? null;
      default:
        return null;
    }
  }

  getBuffer(type: number): BodyBuffer | null {
    if (type === BufferType.HttpRequestBody) return this.requestBody ?? EMPTY_BUFFER;
    if (type === BufferType.HttpResponseBody) return this.responseBody ?? EMPTY_BUFFER;
    return super.getBuffer(type);
  }

  /** Context::setProperty: stored as a CelState in filter state under "wasm.<path>". */
  setProperty(path: string, value: Buffer): WasmResultCode {
    this.callbacks.info.filterState.set(`wasm.${path}`, Buffer.from(value));
    return WasmResult.Ok;
  }

  /** Envoy: RequestHeaders modifications clear the route cache for ABI <= 0.2.1. */
  onHeadersModified(type: number): void {
    if (type === MapType.RequestHeaders) this.callbacks.clearRouteCache();
  }

  sendLocalResponse(code: number, body: string, headers: Pair[], grpc: number, details: string): void {
    // Context::sendLocalResponse defers the reply until the VM call returns and replaces
    // whitespace in the details with '_' (StringUtil::replaceAllEmptySpace).
    const cleanDetails = details.replace(/\s/g, '_');
    const grpcStatus = grpc >= 0 && grpc <= 16 ? grpc : null;
    this.vm.addAfterVmCallAction(() =>
      this.callbacks.sendLocalReply(this, code, body, headers, grpcStatus, cleanDetails),
    );
  }

  continueStream(type: number): WasmResultCode {
    switch (type) {
      case StreamType.Request:
        this.vm.addAfterVmCallAction(() => this.callbacks.continueDecoding(this));
        break;
      case StreamType.Response:
        this.vm.addAfterVmCallAction(() => this.callbacks.continueEncoding(this));
        break;
      case StreamType.Downstream:
        return WasmResult.Ok;
      case StreamType.Upstream:
        return WasmResult.Unimplemented;
      default:
        return WasmResult.BadArgument;
    }
    // Context::continueStream drops the request-side pointers for both Request and Response.
    this.requestHeaders = null;
    this.requestBody = null;
    this.requestTrailers = null;
    return WasmResult.Ok;
  }

  closeStream(type: number): WasmResultCode {
    switch (type) {
      case StreamType.Request:
      case StreamType.Response:
        if (this.callbacks.info.responseCodeDetails === undefined) {
          this.callbacks.info.responseCodeDetails = 'wasm_close_stream';
        }
        this.vm.addAfterVmCallAction(() => this.callbacks.resetStream(this, 'wasm_close_stream'));
        return WasmResult.Ok;
      case StreamType.Downstream:
      case StreamType.Upstream:
        return WasmResult.Ok;
      default:
        return WasmResult.BadArgument;
    }
  }
}
