// Settings of a circuit breaker (spec.circuitBreaker) and its fallback (spec.fallback),
// built once per configuration by ./config.ts. Everything the hot path needs is
// precomputed here: rates as basis points, the status classification table, the
// effective minimum number of calls.
import { utf8 } from "../text/bytes";
import { NO_POLICY } from "../metrics/catalog";
import { CacheSettings } from "../cache/settings";

export const enum WindowType { Count = 0, Time = 1 }
export const enum BreakerMode { Enforce = 0, DryRun = 1, ForcedOpen = 2, ForcedClosed = 3 }
export const enum KeyKind { Upstream = 0, Route = 1, Header = 2 }

// What the gateway saw instead of a response (`record` input) and the classification
// of one outcome (`classify`): the ABI, in ../contract.ts.
export { ERROR_NONE, ERROR_CONNECT, ERROR_RESET, ERROR_TIMEOUT, OUTCOME_SUCCESS, OUTCOME_FAILURE, OUTCOME_IGNORED, FallbackKind } from "../contract";
import { ERROR_CONNECT, ERROR_RESET, ERROR_TIMEOUT, FallbackKind, GRPC_STATUS_MAX } from "../contract";
export { GRPC_STATUS_BASE, GRPC_STATUS_MAX } from "../contract";

// Defaults from issue 4.
export const DEFAULT_MAX_KEYS = 1024;
export const DEFAULT_COUNT_SIZE = 100;
export const DEFAULT_TIME_SIZE_MS = 10000;
export const DEFAULT_BUCKETS = 10;
export const DEFAULT_MINIMUM_CALLS = 20;
export const DEFAULT_FAILURE_RATE = 50;
export const DEFAULT_SLOW_RATE = 100;
export const DEFAULT_OPEN_MS = 30000;
export const DEFAULT_BACKOFF_MULTIPLIER = 2.0;
export const DEFAULT_BACKOFF_MAX_MS = 300000;   // or openDurationMs when that is longer
export const DEFAULT_PERMITTED_CALLS = 3;
export const DEFAULT_MAX_WAIT_MS = 30000;
export const DEFAULT_FALLBACK_STATUS = 503;
export const DEFAULT_FALLBACK_GRPC_STATUS = 14;   // UNAVAILABLE
// gRPC statuses that are failures by default: DEADLINE_EXCEEDED, INTERNAL, UNAVAILABLE
// (what gRPC itself raises for a slow, broken or unreachable server; application codes
// such as NOT_FOUND or INVALID_ARGUMENT say nothing about the upstream's health).
export const DEFAULT_GRPC_STATUSES: StaticArray<i32> = [4, 13, 14];
export const DEFAULT_CONTENT_TYPE = "text/plain; charset=utf-8";

// Bounds.
export const MAX_COUNT_SIZE = 10000;
export const MAX_TIME_SIZE_MS = 3600000;      // 1 hour
export const MAX_BUCKETS = 1000;
export const MAX_MINIMUM_CALLS = 1000000;
export const MAX_DURATION_MS = 86400000;      // 1 day: open, backoff max, max wait, slow call
export const MAX_PERMITTED_CALLS = 1000;
export const MAX_CONSECUTIVE = 10000;
export const MAX_KEYS = 65536;
export const MAX_BODY_BYTES = 65536;

// Status classification table: one entry per status 0..599.
export const STATUS_TABLE_SIZE = 600;

export class BreakerSettings {
  policy: string = NO_POLICY;    // the plugin config's policy name (metrics label)
  hasFaults: bool = true;        // the plugin config's `hasFaults` (false: no fault part shares the policy)
  keyKind: KeyKind = KeyKind.Upstream;
  keyHeader: string = "";                  // lowercase, for KeyKind.Header
  keyHeaderBytes: StaticArray<u8> = new StaticArray<u8>(0);
  // key: upstream — variant name -> its upstream's name, the key it counts under
  // (./upstream-names.ts); parallel arrays, empty: every variant keys by its own name.
  keyVariants: StaticArray<StaticArray<u8>> = new StaticArray<StaticArray<u8>>(0);
  keyUpstreams: StaticArray<StaticArray<u8>> = new StaticArray<StaticArray<u8>>(0);
  maxKeys: i32 = DEFAULT_MAX_KEYS;

  windowType: WindowType = WindowType.Count;
  windowSize: i32 = DEFAULT_COUNT_SIZE;    // count window: outcomes kept
  windowSizeMs: f64 = DEFAULT_TIME_SIZE_MS; // time window: span
  buckets: i32 = DEFAULT_BUCKETS;          // time window: ring length
  bucketMs: f64 = DEFAULT_TIME_SIZE_MS / DEFAULT_BUCKETS;

  minimumCalls: i32 = DEFAULT_MINIMUM_CALLS;      // as configured
  effectiveMinimumCalls: i32 = DEFAULT_MINIMUM_CALLS; // count window: at most its size

  failureRateBp: i64 = DEFAULT_FAILURE_RATE * 100;  // percent x 100; opens when rate >= it
  slowCallDurationMs: f64 = 0;                      // 0 = slow calls not tracked
  slowRateBp: i64 = DEFAULT_SLOW_RATE * 100;
  consecutiveFailures: i32 = 0;                     // 0 = off

  openDurationMs: f64 = DEFAULT_OPEN_MS;
  backoffMultiplier: f64 = 1.0;                     // 1 = no backoff
  backoffMaxMs: f64 = DEFAULT_OPEN_MS;

  permittedCalls: i32 = DEFAULT_PERMITTED_CALLS;
  maxWaitMs: f64 = DEFAULT_MAX_WAIT_MS;

  // Classification: statusClass[status] is OUTCOME_*; statuses outside 100..599 are ignored.
  statusClass: StaticArray<u8> = new StaticArray<u8>(STATUS_TABLE_SIZE);
  // grpcClass[code] is OUTCOME_FAILURE or OUTCOME_SUCCESS for gRPC statuses 0-16.
  grpcClass: StaticArray<u8> = new StaticArray<u8>(GRPC_STATUS_MAX + 1);
  grpcStatuses: Array<i32> = [4, 13, 14];
  errorMask: i32 = (1 << ERROR_CONNECT) | (1 << ERROR_RESET) | (1 << ERROR_TIMEOUT);
  // The configured lists, for describe().
  statuses: Array<string> = ["5xx"];
  ignoreStatuses: Array<string> = [];
  errors: Array<string> = ["connect", "reset", "timeout"];

  mode: BreakerMode = BreakerMode.Enforce;

  fallback: FallbackSettings | null = null;

  // A fingerprint of the state layout (window type and shape): a state encoded under
  // other settings is not decoded into this one (./codec.ts).
  shape: u32 = 0;
}


export class FallbackHeader {
  nameBytes: StaticArray<u8>;
  valueBytes: StaticArray<u8>;
  constructor(public name: string, public value: string) {
    this.nameBytes = utf8(name);
    this.valueBytes = utf8(value);
  }
}

export class FallbackSettings {
  kind: FallbackKind = FallbackKind.None;
  // respond
  status: i32 = DEFAULT_FALLBACK_STATUS;
  headers: StaticArray<FallbackHeader> = new StaticArray<FallbackHeader>(0);
  body: string = "";
  bodyBytes: StaticArray<u8> = new StaticArray<u8>(0);
  contentType: string = "";               // "" when there is no body and none was set
  contentTypeBytes: StaticArray<u8> = new StaticArray<u8>(0);
  retryAfter: bool = true;                // false when `headers` sets retry-after itself
  grpcStatus: i32 = DEFAULT_FALLBACK_GRPC_STATUS;  // the answer to a gRPC request (../request/grpc.ts)
  // reroute
  variant: string = "";                   // one of variant / upstream is set
  upstream: string = "";
  // when (the respond / reroute; None with neither: the cache alone)
  onOpen: bool = false;
  onUpstreamFailure: bool = false;
  // the respond / reroute item's field path ("fallback", or "fallback[i]" in the list
  // form): what messages about it cite; "" with neither
  field: string = "";
  // the cache fallback (spec.fallback[].cache), tried before the respond / reroute for
  // the cases it covers; null when there is none
  cache: CacheSettings | null = null;
  cacheOnOpen: bool = false;
  cacheOnUpstreamFailure: bool = false;
}
