// The HTTP filter callbacks of one Wasm filter on one stream, combining Envoy's
// Context::decodeHeaders/decodeData/encodeHeaders/encodeData/log/onDestroy
// (source/extensions/common/wasm/context.cc) with the VM-side checks of proxy-wasm-cpp-host
// ContextBase::onRequestHeaders & co (src/context.cc):
// - on_context_create(ctx, root) runs lazily on the first request callback (onCreate);
// - CHECK_FAIL_HTTP: when the VM has failed (trap) a stream whose filter is in the chain
//   either passes it (PluginBase::fail_open_, the legacy fail_open only) or gets a 503 local
//   reply, body "", details "wasm_fail_stream" (Context::failStream), and pauses; this is
//   also the stream whose callback trapped. failure_policy FAIL_OPEN (Istio >= 1.25) leaves
//   fail_open_ false: only NEW streams skip the failed VM (createContext, http-stream.ts);
// - StopIteration from a headers callback becomes StopAllIterationAndWatermark (ABI 0.2.x
//   default; cpp-host #434), any value above 4 too; after send_local_response the status is
//   forced to StopAllIterationAndWatermark (stopNextIteration); ContinueAndEndStream (2) is
//   treated as Continue by Envoy's convertFilterHeadersStatus;
// - the request-header pointer is dropped when on_request_headers returns Continue, so the
//   headers are not reachable from later callbacks;
// - on_log runs with the final maps (access-log phase); a filter that never saw the request
//   (an earlier filter replied locally) gets on_context_create right before on_log;
// - on_done then on_delete when the stream is destroyed (after on_log).

import { FilterDataStatus, FilterHeadersStatus, FilterTrailersStatus } from './abi-status.js';
import type { BodyBuffer, FilterContext } from './context.js';
import type { ResponseBodyBuffer } from './response-body.js';
import type { HeaderMap } from './header-map.js';

/** Normalized outcome of a headers/data callback. */
export type FilterResult = 'continue' | 'stop';

function isFailed(ctx: FilterContext): boolean {
  return ctx.wasmMissing || ctx.vm.failed;
}

/** CHECK_FAIL: PluginBase::fail_open_ → continue; else one 503 local reply, then stop. */
function checkFail(ctx: FilterContext): FilterResult {
  if (ctx.plugin!.failOpen) return 'continue';
  if (!ctx.streamFailed) {
    if (!ctx.failureLocalReplySent) {
      ctx.callbacks.sendLocalReply(ctx, 503, '', [], 14 /* Unavailable */, 'wasm_fail_stream');
      ctx.failureLocalReplySent = true;
    }
    ctx.streamFailed = true;
  }
  return 'stop';
}

/** ContextBase::onCreate */
export function onCreate(ctx: FilterContext): void {
  const vm = ctx.vm;
  if (!isFailed(ctx) && !ctx.inVmContextCreated && vm.fns.proxy_on_context_create) {
    vm.invoke(ctx, 'proxy_on_context_create', vm.fns.proxy_on_context_create, ctx.id, ctx.root.id);
    vm.afterVmCall();
  }
  ctx.inVmContextCreated = true;
}

function headersStatus(ctx: FilterContext, r: number): FilterResult {
  // convertVmCallResultToFilterHeadersStatus + Envoy convertFilterHeadersStatus
  if (ctx.vm.stopIteration || r > FilterHeadersStatus.StopAllIterationAndWatermark) return 'stop';
  if (r === FilterHeadersStatus.Continue || r === FilterHeadersStatus.ContinueAndEndStream) return 'continue';
  return 'stop';
}

function dataStatus(ctx: FilterContext, r: number): FilterResult {
  if (ctx.vm.stopIteration || r > FilterDataStatus.StopIterationNoBuffer) return 'stop';
  return r === FilterDataStatus.Continue ? 'continue' : 'stop';
}

export function decodeHeaders(ctx: FilterContext, headers: HeaderMap, endOfStream: boolean): FilterResult {
  onCreate(ctx);
  ctx.requestHeaders = headers;
  ctx.endOfStream = endOfStream;
  const vm = ctx.vm;
  let result: FilterResult;
  if (isFailed(ctx)) {
    result = checkFail(ctx);
  } else if (!vm.fns.proxy_on_request_headers) {
    result = 'continue';
  } else {
    const fn = vm.fns.proxy_on_request_headers;
    const r =
      vm.abi === '0.1.0'
        ? vm.invoke(ctx, 'proxy_on_request_headers', fn, ctx.id, headers.size)
        : vm.invoke(ctx, 'proxy_on_request_headers', fn, ctx.id, headers.size, endOfStream ? 1 : 0);
    result = isFailed(ctx) ? checkFail(ctx) : headersStatus(ctx, r);
    vm.afterVmCall();
  }
  if (result === 'continue') ctx.requestHeaders = null;
  return result;
}

export function decodeData(ctx: FilterContext, body: BodyBuffer, endOfStream: boolean): FilterResult {
  if (!ctx.inVmContextCreated) return 'continue';
  ctx.requestBody = body;
  ctx.endOfStream = endOfStream;
  const vm = ctx.vm;
  let result: FilterResult;
  if (isFailed(ctx)) {
    result = checkFail(ctx);
  } else if (!vm.fns.proxy_on_request_body) {
    result = 'continue';
  } else {
    const r = vm.invoke(ctx, 'proxy_on_request_body', vm.fns.proxy_on_request_body, ctx.id, body.size, endOfStream ? 1 : 0);
    result = isFailed(ctx) ? checkFail(ctx) : dataStatus(ctx, r);
    vm.afterVmCall();
  }
  if (result === 'continue') ctx.requestBody = null;
  return result;
}

export function encodeHeaders(ctx: FilterContext, headers: HeaderMap, endOfStream: boolean): FilterResult {
  if (!ctx.inVmContextCreated || ctx.failureLocalReplySent) return 'continue';
  ctx.responseHeaders = headers;
  ctx.endOfStream = endOfStream;
  const vm = ctx.vm;
  let result: FilterResult;
  if (isFailed(ctx)) {
    result = checkFail(ctx);
  } else if (!vm.fns.proxy_on_response_headers) {
    result = 'continue';
  } else {
    const fn = vm.fns.proxy_on_response_headers;
    const r =
      vm.abi === '0.1.0'
        ? vm.invoke(ctx, 'proxy_on_response_headers', fn, ctx.id, headers.size)
        : vm.invoke(ctx, 'proxy_on_response_headers', fn, ctx.id, headers.size, endOfStream ? 1 : 0);
    result = isFailed(ctx) ? checkFail(ctx) : headersStatus(ctx, r);
    vm.afterVmCall();
  }
  if (result === 'continue') ctx.responseHeaders = null;
  return result;
}

/**
 * What an encoder filter's data callback asked for (Envoy's FilterDataStatus after
 * convertFilterDataStatus): the frame goes on, or it stops here and is buffered (streaming:
 * Watermark), or it stops and the filter keeps it (NoBuffer).
 */
export type DataResult = 'continue' | 'buffer' | 'watermark' | 'nobuffer';

function dataResult(ctx: FilterContext, r: number): DataResult {
  if (ctx.vm.stopIteration || r > FilterDataStatus.StopIterationNoBuffer) return 'nobuffer';
  if (r === FilterDataStatus.Continue) return 'continue';
  if (r === FilterDataStatus.StopIterationAndBuffer) return 'buffer';
  if (r === FilterDataStatus.StopIterationAndWatermark) return 'watermark';
  return 'nobuffer';
}

/**
 * Context::encodeData(data, end_stream), one data frame: while this filter is buffering (its
 * previous call said StopIterationAndBuffer) the frame is first added to the stream's
 * buffered body (addEncodedData → commonHandleBufferData), and proxy_on_response_body gets
 * the length of that whole buffer (getBuffer HttpResponseBody → modifyEncodingBuffer);
 * otherwise the frame alone. If adding it crossed the buffer limit and the stream was reset
 * (the `destroyed_` check), the VM is not called.
 */
export function encodeData(ctx: FilterContext, frame: BodyBuffer, endOfStream: boolean, buffered: ResponseBodyBuffer): DataResult {
  if (!ctx.inVmContextCreated || ctx.failureLocalReplySent) return 'continue';
  if (ctx.bufferingResponseBody) {
    buffered.move(frame);
    if (ctx.callbacks.isReset?.()) return 'buffer';
  }
  ctx.responseBody = ctx.bufferingResponseBody && buffered.buf ? buffered.buf : frame;
  ctx.endOfStream = endOfStream;
  const vm = ctx.vm;
  let result: DataResult;
  if (isFailed(ctx)) {
    result = checkFail(ctx) === 'continue' ? 'continue' : 'nobuffer';
  } else if (!vm.fns.proxy_on_response_body) {
    result = 'continue';
  } else {
    const r = vm.invoke(ctx, 'proxy_on_response_body', vm.fns.proxy_on_response_body, ctx.id, ctx.responseBody.size, endOfStream ? 1 : 0);
    result = isFailed(ctx) ? (checkFail(ctx) === 'continue' ? 'continue' : 'nobuffer') : dataResult(ctx, r);
    vm.afterVmCall();
  }
  ctx.bufferingResponseBody = result === 'buffer';
  if (result === 'continue') ctx.responseBody = null;
  return result;
}

/**
 * Context::encodeTrailers → proxy_on_response_trailers(context_id, trailers): the map is
 * the one the filter may read and change (Context::getMap ResponseTrailers) until it
 * returns; Stop pauses the stream like headers (convertVmCallResultToFilterTrailersStatus).
 */
export function encodeTrailers(ctx: FilterContext, trailers: HeaderMap): FilterResult {
  if (!ctx.inVmContextCreated || ctx.failureLocalReplySent) return 'continue';
  ctx.responseTrailers = trailers;
  const vm = ctx.vm;
  let result: FilterResult;
  if (isFailed(ctx)) {
    result = checkFail(ctx);
  } else if (!vm.fns.proxy_on_response_trailers) {
    result = 'continue';
  } else {
    const r = vm.invoke(ctx, 'proxy_on_response_trailers', vm.fns.proxy_on_response_trailers, ctx.id, trailers.size);
    result = isFailed(ctx) ? checkFail(ctx) : ctx.vm.stopIteration || r !== FilterTrailersStatus.Continue ? 'stop' : 'continue';
    vm.afterVmCall();
  }
  if (result === 'continue') ctx.responseTrailers = null;
  return result;
}

/** Context::log (access logger): on_log with the final request/response maps. */
export function log(ctx: FilterContext, req: HeaderMap | null, resp: HeaderMap | null, respTrailers: HeaderMap | null): void {
  if (!ctx.inVmContextCreated) onCreate(ctx);
  ctx.accessLogPhase = true;
  ctx.accessLogRequestHeaders = req;
  ctx.accessLogResponseHeaders = resp;
  ctx.accessLogResponseTrailers = respTrailers;
  const vm = ctx.vm;
  if (!isFailed(ctx) && vm.fns.proxy_on_log) {
    vm.invoke(ctx, 'proxy_on_log', vm.fns.proxy_on_log, ctx.id);
    vm.afterVmCall();
  }
  ctx.accessLogPhase = false;
  ctx.accessLogRequestHeaders = null;
  ctx.accessLogResponseHeaders = null;
  ctx.accessLogResponseTrailers = null;
}

/** Context::onDestroy → on_done, on_delete; then the host context goes away. */
export function destroy(ctx: FilterContext): void {
  const vm = ctx.vm;
  if (!ctx.destroyed && ctx.inVmContextCreated) {
    ctx.destroyed = true;
    if (!isFailed(ctx) && vm.fns.proxy_on_done) {
      vm.invoke(ctx, 'proxy_on_done', vm.fns.proxy_on_done, ctx.id);
      vm.afterVmCall();
    }
    if (!isFailed(ctx) && vm.fns.proxy_on_delete) {
      vm.invoke(ctx, 'proxy_on_delete', vm.fns.proxy_on_delete, ctx.id);
      vm.afterVmCall();
    }
  }
  ctx.requestHeaders = ctx.responseHeaders = ctx.requestTrailers = ctx.responseTrailers = null;
  ctx.requestBody = ctx.responseBody = null;
  if (!ctx.wasmMissing) vm.contexts.delete(ctx.id);
}
