// Numeric constants of the Proxy-Wasm ABI as Envoy's host uses them.
// Sources: proxy-wasm/spec abi-versions/v0.2.1/README.md ("Types"), and the C++ host enums
// (proxy_wasm_common.h / proxy_wasm_enums.h, mirrored in proxy-wasm-rust-sdk src/types.rs).
// The spec omits BadExpression=5, ResultMismatch=9 and BrokenConnection=11, which the host
// still returns (e.g. BrokenConnection as the status of a failed http_call).

export const WasmResult = {
  Ok: 0,
  NotFound: 1,
  BadArgument: 2,
  SerializationFailure: 3,
  ParseFailure: 4,
  BadExpression: 5,
  InvalidMemoryAccess: 6,
  Empty: 7,
  CasMismatch: 8,
  ResultMismatch: 9,
  InternalFailure: 10,
  BrokenConnection: 11,
  Unimplemented: 12,
} as const;
export type WasmResultCode = (typeof WasmResult)[keyof typeof WasmResult];

/** proxy_map_type_t. exports.cc rejects `type > MAX` with BadArgument before touching memory. */
export const MapType = {
  RequestHeaders: 0,
  RequestTrailers: 1,
  ResponseHeaders: 2,
  ResponseTrailers: 3,
  GrpcReceiveInitialMetadata: 4,
  GrpcReceiveTrailingMetadata: 5,
  HttpCallResponseHeaders: 6,
  HttpCallResponseTrailers: 7,
  MAX: 7,
} as const;

/** proxy_buffer_type_t (8 is CallData / FOREIGN_FUNCTION_ARGUMENTS). */
export const BufferType = {
  HttpRequestBody: 0,
  HttpResponseBody: 1,
  DownstreamData: 2,
  UpstreamData: 3,
  HttpCallResponseBody: 4,
  GrpcReceiveBuffer: 5,
  VmConfiguration: 6,
  PluginConfiguration: 7,
  CallData: 8,
  MAX: 8,
} as const;

export const StreamType = { Request: 0, Response: 1, Downstream: 2, Upstream: 3, MAX: 3 } as const;

/** spdlog levels; Envoy's Context::log switches on them (source/extensions/common/wasm/context.cc). */
export const LogLevel = { trace: 0, debug: 1, info: 2, warn: 3, error: 4, critical: 5, MAX: 5 } as const;
export const LOG_LEVEL_NAMES = ['trace', 'debug', 'info', 'warn', 'error', 'critical'] as const;
export type LogLevelName = (typeof LOG_LEVEL_NAMES)[number];

export const MetricType = { Counter: 0, Gauge: 1, Histogram: 2, MAX: 2 } as const;
/** Metric ids carry their type in the low 2 bits (cpp-host wasm.h kMetricTypeMask / kMetricIdIncrement). */
export const METRIC_TYPE_MASK = 0x3;
export const METRIC_ID_INCREMENT = 0x4;

/** proxy-wasm FilterHeadersStatus as returned by proxy_on_{request,response}_headers. */
export const FilterHeadersStatus = {
  Continue: 0,
  StopIteration: 1,
  ContinueAndEndStream: 2,
  StopAllIterationAndBuffer: 3,
  StopAllIterationAndWatermark: 4,
} as const;

export const FilterDataStatus = {
  Continue: 0,
  StopIterationAndBuffer: 1,
  StopIterationAndWatermark: 2,
  StopIterationNoBuffer: 3,
} as const;

export const FilterTrailersStatus = { Continue: 0, StopIteration: 1 } as const;

/** Callout token types (cpp-host wasm.h CalloutType): the low 2 bits of an http/grpc token. */
export const CalloutType = { HttpCall: 0, GrpcCall: 1, GrpcStream: 2 } as const;

export type AbiVersion = '0.1.0' | '0.2.0' | '0.2.1';

/** WASI errno values used by the cpp-host WASI shims (src/exports.cc). */
export const WasiErrno = {
  SUCCESS: 0,
  BADF: 8,
  FAULT: 21,
  INVAL: 28,
  NOENT: 44,
  NOSYS: 52,
  NOTSUP: 58,
} as const;

/**
 * Envoy's legacy response flag bits (envoy/stream_info/stream_info.h, also what
 * `response.flags` returns through CEL as an int64).
 */
export const ResponseFlag = {
  FailedLocalHealthCheck: 0x1,
  NoHealthyUpstream: 0x2,
  UpstreamRequestTimeout: 0x4, // UT
  LocalReset: 0x8, // LR
  UpstreamRemoteReset: 0x10, // UR
  UpstreamConnectionFailure: 0x20, // UF
  UpstreamConnectionTermination: 0x40, // UC
  UpstreamOverflow: 0x80, // UO
  NoRouteFound: 0x100, // NR
  DelayInjected: 0x200,
  FaultInjected: 0x400,
  RateLimited: 0x800,
  UnauthorizedExternalService: 0x1000,
  RateLimitServiceError: 0x2000,
  DownstreamConnectionTermination: 0x4000, // DC
  UpstreamRetryLimitExceeded: 0x8000,
  StreamIdleTimeout: 0x10000, // SI
  NoClusterFound: 0x1000000, // NC
} as const;

const FLAG_SHORT: Array<[number, string]> = [
  [ResponseFlag.FailedLocalHealthCheck, 'LH'],
  [ResponseFlag.NoHealthyUpstream, 'UH'],
  [ResponseFlag.UpstreamRequestTimeout, 'UT'],
  [ResponseFlag.LocalReset, 'LR'],
  [ResponseFlag.UpstreamRemoteReset, 'UR'],
  [ResponseFlag.UpstreamConnectionFailure, 'UF'],
  [ResponseFlag.UpstreamConnectionTermination, 'UC'],
  [ResponseFlag.UpstreamOverflow, 'UO'],
  [ResponseFlag.NoRouteFound, 'NR'],
  [ResponseFlag.DelayInjected, 'DI'],
  [ResponseFlag.FaultInjected, 'FI'],
  [ResponseFlag.RateLimited, 'RL'],
  [ResponseFlag.DownstreamConnectionTermination, 'DC'],
  [ResponseFlag.UpstreamRetryLimitExceeded, 'URX'],
  [ResponseFlag.StreamIdleTimeout, 'SI'],
  [ResponseFlag.NoClusterFound, 'NC'],
];

/** Access-log style short form ("UF,URX"), as %RESPONSE_FLAGS% prints it. */
export function responseFlagsToString(flags: number): string {
  const out: string[] = [];
  for (const [bit, s] of FLAG_SHORT) if (flags & bit) out.push(s);
  return out.length ? out.join(',') : '-';
}
