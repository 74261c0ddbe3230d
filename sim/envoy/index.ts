// Envoy runtime harness: a Proxy-Wasm host on Node's V8 that behaves like Envoy's
// envoy.filters.http.wasm (runtime envoy.wasm.runtime.v8), plus a loopback HTTP proxy.
// See README.md in this directory for the modelled semantics and the known differences.

export { startEnvoy, type EnvoyGateway, type EnvoyOptions } from './proxy.js';
export { WasmHost, compileModule, type FilterSpec, type HostOptions } from './host.js';
export type { Stream, HeadersResult, BodyResult, LocalReplyResult } from './stream.js';
export { SharedData, processSharedData } from './shared-data.js';
export { StatsStore, CUSTOM_STAT_NAMESPACE } from './metrics.js';
export { WasmLoadError, type LogEntry, type FailState } from './vm.js';
export type { RouteSpec } from './routes.js';
export type { Pair } from './pairs.js';
export { encodePairs, decodePairs } from './pairs.js';
export {
  WasmResult,
  MapType,
  BufferType,
  StreamType,
  LogLevel,
  MetricType,
  ResponseFlag,
  responseFlagsToString,
} from './abi-status.js';
export { compileAssemblyScript } from './asc.js';
export { VirtualTicks } from './virtual-ticks.js';
