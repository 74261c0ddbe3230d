// The host functions Envoy links into a module, with their Wasm signatures.
// Source: proxy-wasm-cpp-host src/wasm.cc WasmBase::registerCallbacks and
// include/proxy-wasm/exports.h (FOR_ALL_HOST_FUNCTIONS, FOR_ALL_WASI_FUNCTIONS), at the
// revision Envoy 1.33–1.37 embed (before cpp-host #533, April 2026, which added ~25 more
// WASI stubs for the Go SDK). Signatures follow exports.cc: Word → i32, uint64_t/int64_t → i64.
// A module importing anything not in this table — e.g. proxy_clear_route_cache under ABI 0.2.x —
// fails to link: "Failed to load Wasm module due to a missing import: env.<name>".

import type { AbiVersion } from './abi-status.js';
import type { FuncSig, ValType } from './wasm-binary.js';

function sig(spec: string): FuncSig {
  const [p, r] = spec.split(':');
  const map = (c: string): ValType => (c === 'I' ? 'i64' : 'i32');
  return { params: [...p].map(map), results: [...r].map(map) };
}

/** env.proxy_* registered for every ABI version. */
const PROXY_COMMON: Record<string, string> = {
  log: 'iii:i',
  get_status: 'iii:i',
  set_property: 'iiii:i',
  get_property: 'iiii:i',
  send_local_response: 'iiiiiiii:i',
  get_shared_data: 'iiiii:i',
  set_shared_data: 'iiiii:i',
  register_shared_queue: 'iii:i',
  resolve_shared_queue: 'iiiii:i',
  dequeue_shared_queue: 'iii:i',
  enqueue_shared_queue: 'iii:i',
  get_header_map_value: 'iiiii:i',
  add_header_map_value: 'iiiii:i',
  replace_header_map_value: 'iiiii:i',
  remove_header_map_value: 'iii:i',
  get_header_map_pairs: 'iii:i',
  set_header_map_pairs: 'iii:i',
  get_header_map_size: 'ii:i',
  get_buffer_status: 'iii:i',
  get_buffer_bytes: 'iiiii:i',
  set_buffer_bytes: 'iiiii:i',
  http_call: 'iiiiiiiiii:i',
  grpc_call: 'iiiiiiiiiiii:i',
  grpc_stream: 'iiiiiiiii:i',
  grpc_close: 'i:i',
  grpc_cancel: 'i:i',
  grpc_send: 'iiii:i',
  set_tick_period_milliseconds: 'i:i',
  get_current_time_nanoseconds: 'i:i',
  define_metric: 'iiii:i',
  increment_metric: 'iI:i',
  record_metric: 'iI:i',
  get_metric: 'ii:i',
  set_effective_context: 'i:i',
  done: ':i',
  call_foreign_function: 'iiiiii:i',
};

const PROXY_BY_ABI: Record<AbiVersion, Record<string, string>> = {
  '0.1.0': { get_configuration: 'ii:i', continue_request: ':i', continue_response: ':i', clear_route_cache: ':i' },
  '0.2.0': { continue_stream: 'i:i', close_stream: 'i:i' },
  '0.2.1': { continue_stream: 'i:i', close_stream: 'i:i', get_log_level: 'i:i' },
};

/** Also registered in "env" for every module (emscripten support). */
const ENV_EXTRA: Record<string, string> = {
  pthread_equal: 'ii:i',
  emscripten_notify_memory_growth: 'i:',
};

/** FOR_ALL_WASI_FUNCTIONS, registered under both wasi_unstable and wasi_snapshot_preview1. */
export const WASI_FUNCTIONS: Record<string, string> = {
  fd_write: 'iiii:i',
  fd_read: 'iiii:i',
  fd_seek: 'iIii:i',
  fd_close: 'i:i',
  fd_fdstat_get: 'ii:i',
  fd_fdstat_set_flags: 'ii:i',
  environ_get: 'ii:i',
  environ_sizes_get: 'ii:i',
  args_get: 'ii:i',
  args_sizes_get: 'ii:i',
  clock_time_get: 'iIi:i',
  random_get: 'ii:i',
  sched_yield: ':i',
  poll_oneoff: 'iiii:i',
  proc_exit: 'i:',
  path_open: 'iiiiiIIii:i',
  fd_prestat_get: 'ii:i',
  fd_prestat_dir_name: 'iii:i',
};

/** "module.name" → signature for everything Envoy would link for this ABI version. */
export function registeredHostFunctions(abi: AbiVersion): Map<string, FuncSig> {
  const out = new Map<string, FuncSig>();
  for (const [n, s] of Object.entries({ ...PROXY_COMMON, ...PROXY_BY_ABI[abi] })) out.set(`env.proxy_${n}`, sig(s));
  for (const [n, s] of Object.entries(ENV_EXTRA)) out.set(`env.${n}`, sig(s));
  for (const [n, s] of Object.entries(WASI_FUNCTIONS)) {
    out.set(`wasi_unstable.${n}`, sig(s));
    out.set(`wasi_snapshot_preview1.${n}`, sig(s));
  }
  return out;
}

/**
 * Host calls allowed while _initialize/_start/main run (src/wasm.cc WasmBase::startVm);
 * anything else traps with "restricted_callback".
 */
export const ALLOWED_DURING_START = new Set<string>([
  'env.emscripten_notify_memory_growth',
  'env.proxy_log',
  ...['fd_write', 'args_sizes_get', 'args_get', 'environ_sizes_get', 'environ_get', 'fd_prestat_get', 'fd_prestat_dir_name', 'clock_time_get', 'random_get', 'fd_fdstat_get', 'fd_fdstat_set_flags'].flatMap(
    (n) => [`wasi_unstable.${n}`, `wasi_snapshot_preview1.${n}`],
  ),
]);

/** Host calls allowed while the host runs the module's malloc (include/proxy-wasm/wasm.h allocMemory). */
export const ALLOWED_DURING_MALLOC = new Set<string>([
  'env.proxy_log',
  ...['fd_write', 'clock_time_get'].flatMap((n) => [`wasi_unstable.${n}`, `wasi_snapshot_preview1.${n}`]),
]);

/**
 * Module exports the host looks up, with the signature it requires
 * (include/proxy-wasm/wasm.h WasmCallVoid<N>/WasmCallWord<N>). A mismatching export fails the
 * VM with "Bad function signature for: <name>".
 */
export function expectedExports(abi: AbiVersion): Map<string, FuncSig> {
  const w = (n: number) => sig(`${'i'.repeat(n)}:i`);
  const v = (n: number) => sig(`${'i'.repeat(n)}:`);
  const m = new Map<string, FuncSig>([
    ['_initialize', v(0)],
    ['_start', v(0)],
    ['main', w(2)],
    ['__main_void', w(0)],
    ['malloc', w(1)],
    ['proxy_on_memory_allocate', w(1)],
    ['proxy_validate_configuration', w(2)],
    ['proxy_on_vm_start', w(2)],
    ['proxy_on_configure', w(2)],
    ['proxy_on_tick', v(1)],
    ['proxy_on_context_create', v(2)],
    ['proxy_on_new_connection', w(1)],
    ['proxy_on_downstream_data', w(3)],
    ['proxy_on_upstream_data', w(3)],
    ['proxy_on_downstream_connection_close', v(2)],
    ['proxy_on_upstream_connection_close', v(2)],
    ['proxy_on_request_body', w(3)],
    ['proxy_on_request_trailers', w(2)],
    ['proxy_on_request_metadata', w(2)],
    ['proxy_on_response_body', w(3)],
    ['proxy_on_response_trailers', w(2)],
    ['proxy_on_response_metadata', w(2)],
    ['proxy_on_http_call_response', v(5)],
    ['proxy_on_grpc_receive', v(3)],
    ['proxy_on_grpc_close', v(3)],
    ['proxy_on_grpc_receive_initial_metadata', v(3)],
    ['proxy_on_grpc_receive_trailing_metadata', v(3)],
    ['proxy_on_queue_ready', v(2)],
    ['proxy_on_done', w(1)],
    ['proxy_on_log', v(1)],
    ['proxy_on_delete', v(1)],
  ]);
  const headersArity = abi === '0.1.0' ? 2 : 3;
  m.set('proxy_on_request_headers', w(headersArity));
  m.set('proxy_on_response_headers', w(headersArity));
  if (abi !== '0.1.0') m.set('proxy_on_foreign_function', v(3));
  return m;
}
