// Root id `circuit-breaker`: the breaker (spec.circuitBreaker) and its fallback
// (spec.fallback) on Envoy. Configuration: the circuitBreaker fields plus `fallback`
// (wasm/core/breaker/policy.ts, the core's parser and messages). States live in shared
// data (./breaker-store.ts) so all worker VMs run one breaker per key.
//
// Per stream:
//   request headers  (read in one proxy_get_header_map_pairs, see W_* below)
//                    a CORS preflight (OPTIONS with Access-Control-Request-Method,
//                    ../core/request/preflight.ts) passes untouched, counted only in
//                    tandem_breaker_preflights; any other request:
//                    key -> admit (allow() on the shared state; a CAS write only when it
//                    changed). Rejected: the fallback answers (respond: local reply with
//                    Retry-After; reroute: the variant / upstream header is set so the
//                    route table picks the target) or, without one, a local 503
//                    "circuit breaker open" with Retry-After (the Kong plugin's answer).
//   response headers the :status and the time of the first response byte. A half-open
//                    probe's outcome is recorded here (status, time to first byte), not
//                    at the stream's end: a stream (server-sent events, a WebSocket's
//                    101, a long download) would hold its permit until it ends and the
//                    breaker re-open after halfOpen.maxWaitMs (docs/policy.md "Streams").
//                    With
//                    `fallback.on: [upstreamFailure]` and an idempotent method, a failed
//                    call (a failure status, or Envoy's own 503/504 for a refused, reset
//                    or timed-out upstream, told apart by response.flags) is answered by
//                    the `respond` fallback instead (a `reroute` cannot apply once the
//                    upstream was called: the response passes).
//   log              the outcome is recorded once (on_log also runs for resets and
//                    client disconnects): the status, a transport error from
//                    response.flags (read for 5xx or when no response passed), latency
//                    = first response byte (else stream end) - request start, on the host
//                    clock. Rejected and rerouted calls record nothing; neither do the
//                    forced modes, which never touch shared data.
//
// Key (circuitBreaker.key), as the Kong plugin derives it (wasm/core/breaker/runtime.ts):
//   upstream    the first value of request header x-tandem-variant when non-empty —
//               what the `experiment` filter earlier in the chain set (it removes client
//               copies) — else the :authority. The breaker does not know a custom
//               experiment.variantHeader: with one, use key header:<that header>.
//               Without an experiment filter the header is whatever the client sent.
//   route       the empty key: one state for everything this filter instance sees (a
//               WasmPlugin cannot be scoped to a route).
//   header:<n>  the first value of request header <n> (absent: the empty key).
import { LocalReply } from "./local-reply";
import { faultLatency, readFaultMark } from "./fault-mark";
import { requestLatencyMs } from "../core/breaker/tries";
import { CONTINUE, FilterRoot, FilterStream, STOP_ITERATION } from "./contexts";
import { configureBreakerSettings } from "../core/breaker/policy";
import { parseJson } from "../core/json/json";
import { Bytes, utf8 } from "../core/text/bytes";
import { murmur3_32 } from "../core/hash/hash";
import {
  BreakerMode, BreakerSettings, ERROR_NONE, FallbackKind,
  FallbackSettings, KeyKind, OUTCOME_FAILURE,
} from "../core/breaker/settings";
import { classify, retryAfterSeconds } from "../core/breaker/machine";
import { cacheOnOutcome, effectsOnReject, fallbackOnOutcome } from "../core/breaker/fallback";
import { CacheStream, FilterCache } from "./cache-fallback";
import { variantToUpstream } from "../core/breaker/upstream-names";
import { BreakerStore } from "./breaker-store";
import { BreakerStats, CacheStats, ConfigRejections, FilterCounters } from "./metrics";
import { PLUGIN_BREAKER } from "../core/metrics/catalog";
import { isGrpcContentType } from "../core/request/grpc";
import { PREFLIGHT_HEADER, isOptionsMethod } from "../core/request/preflight";
import { EFFECT_CACHE_FIRST, EFFECT_REROUTE, EFFECT_RESPOND, GRPC_STATUS_BASE, PROBE, REJECT_BODY, REJECT_CONTENT_TYPE, REJECT_GRPC_STATUS, REJECT_STATUS, UPSTREAM_HEADER as UPSTREAM, VARIANT_HEADER as VARIANT } from "../core/contract";
import { LogOutcome, RESPONSE_FLAGS, STATUS, errorOfFlags, grpcStatusOfHeaders, outcomeAtHeaders, outcomeAtLog, parseStatus } from "./outcome";
import {
  LOG_INFO, LOG_WARN, REQUEST_HEADERS, RESPONSE_HEADERS,
  getHeader, getPropertyI64, log, nowMs, pluginConfiguration, releaseHeld,
  removeHeader, replaceHeader,
} from "./host";
import { EnvoyFacts } from "./facts";
import { Needs } from "../core/request/facts";

export const CONFIG_REJECTED = "tandem: circuit-breaker configuration rejected: ";

// Where a reroute fallback points the route table (docs/policy.md): a route matching
// the variant header picks the variant's subset; one matching x-tandem-upstream picks
// that upstream (subset / cluster) directly.
export const VARIANT_HEADER = utf8(VARIANT);
export const UPSTREAM_HEADER = utf8(UPSTREAM);
const AUTHORITY = utf8(":authority");
const METHOD = utf8(":method");
const CONTENT_TYPE = utf8("content-type");
const PREFLIGHT = utf8(PREFLIGHT_HEADER);
const NONE = new StaticArray<u8>(0);
// The request headers the filter may read, by index into EnvoyFacts' watched names: the
// whole map comes in one proxy_get_header_map_pairs per request (the first read) and one
// walk finds them all, instead of one proxy_get_header_map_value each (2 to 4 a request:
// the preflight check, the key, :method and content-type for a fallback). W_KEY is the
// key:header:<n> header (empty name, never found, for other keys), read as named (a
// key header `host` is not :authority here, as before).
const W_PREFLIGHT = 0;
const W_METHOD = 1;
const W_CONTENT_TYPE = 2;
const W_VARIANT = 3;
const W_AUTHORITY = 4;
const W_KEY = 5;
const W_UPSTREAM = 6;
// response_code_details of tandem's local replies
import { ANSWER_BY_FALLBACK, ANSWER_NAME, DETAILS_OPEN, DETAILS_UPSTREAM_FAILURE } from "./reply-details";
// The answer to a rejected call when no fallback applies: the core's (../core/contract.ts).
const DEFAULT_STATUS: u32 = <u32>REJECT_STATUS;
const DEFAULT_BODY = utf8(REJECT_BODY);
const DEFAULT_CONTENT_TYPE = utf8(REJECT_CONTENT_TYPE);

// The filter's operational counters (./metrics.ts FilterCounters; Envoy exports them as
// wasmcustom.<name>), by index; the labelled tandem_breaker_* series are BreakerStats.
const C_REJECTED = 0;         // calls the breaker rejected (enforce / forced_open)
const C_DRY_RUN = 1;          // calls dry_run admitted that enforce would have rejected
const C_TRANSITIONS = 2;      // state transitions (counted by the worker whose write made them)
const C_CAS_RETRIES = 3;      // shared-data writes retried after a CAS mismatch
const C_CAS_EXHAUSTED = 4;    // operations given up after MAX_TRIES mismatches (failed open)
const C_UPSTREAM_FALLBACK = 5; // upstream failures answered by the fallback
const C_PREFLIGHTS = 6;       // CORS preflights let pass untouched (../core/request/preflight.ts)
const counters = new FilterCounters([
  "tandem_breaker_rejected", "tandem_breaker_dry_run_rejected", "tandem_breaker_transitions",
  "tandem_breaker_cas_retries", "tandem_breaker_cas_exhausted", "tandem_breaker_upstream_fallback",
  "tandem_breaker_preflights",
]);

const configRejections = new ConfigRejections(PLUGIN_BREAKER);

export class BreakerRoot extends FilterRoot {
  settings: BreakerSettings | null = null;
  stats: BreakerStats | null = null;   // tandem_breaker_* (./metrics.ts)
  store: BreakerStore | null = null;
  key: Bytes = new Bytes();
  scratch: Bytes = new Bytes();
  // The default answer to a rejected call, and the `respond` fallback (null: none).
  defaultReply: LocalReply = new LocalReply(DEFAULT_STATUS, DEFAULT_BODY, true).add(ANSWER_NAME, ANSWER_BY_FALLBACK).add(CONTENT_TYPE, DEFAULT_CONTENT_TYPE).seal();
  fallbackReply: LocalReply | null = null;
  // The same answers to a gRPC request (../core/request/grpc.ts): no content-type.
  defaultGrpcReply: LocalReply = new LocalReply(DEFAULT_STATUS, DEFAULT_BODY, true, REJECT_GRPC_STATUS).add(ANSWER_NAME, ANSWER_BY_FALLBACK).seal();
  fallbackGrpcReply: LocalReply | null = null;
  rerouteHeader: StaticArray<u8> | null = null;   // reroute: header and value to set
  rerouteValue: StaticArray<u8> = new StaticArray<u8>(0);
  // The cache fallback (./cache-fallback.ts), when spec.fallback has one.
  cache: FilterCache | null = null;
  cacheStats: CacheStats | null = null;   // tandem_cache_lookups_total, with a cache
  // The request headers above (W_*): no needs of the core's, only watched names.
  facts: EnvoyFacts = new EnvoyFacts();
  needs: Needs = new Needs();

  onConfigure(size: u32): bool {
    const text = pluginConfiguration(size);
    const res = configureBreakerSettings(parseJson(text));
    const s = res.settings;
    if (s === null) return configRejections.refuse(CONFIG_REJECTED, res.error);
    counters.define();
    this.stats = new BreakerStats(s.policy, s.maxKeys);
    // configId: the same text gives the same id in every worker VM.
    const configId = murmur3_32(changetype<usize>(text), text.length << 1, 0x74616e64);
    const store = new BreakerStore(s, configId);
    this.settings = s;
    this.store = store;
    const w = new StaticArray<StaticArray<u8>>(7);
    w[W_PREFLIGHT] = PREFLIGHT;
    w[W_METHOD] = METHOD;
    w[W_CONTENT_TYPE] = CONTENT_TYPE;
    w[W_VARIANT] = VARIANT_HEADER;
    w[W_AUTHORITY] = AUTHORITY;
    w[W_KEY] = s.keyKind == KeyKind.Header ? s.keyHeaderBytes : NONE;
    w[W_UPSTREAM] = UPSTREAM_HEADER;
    this.facts.watch(w);
    this.prepareReplies(s.fallback);
    const f = s.fallback;
    const c = f !== null ? f.cache : null;
    this.cache = c !== null ? new FilterCache(c, configId) : null;
    this.cacheStats = c !== null ? new CacheStats(s.policy) : null;
    log(LOG_INFO, "tandem: circuit-breaker configured, states in shared data " + store.prefix() + "<slot>");
    if (this.cache !== null) log(LOG_INFO, "tandem: cache fallback entries in shared data " + (this.cache as FilterCache).store.prefix() + "<i|e><n>");
    return true;
  }

  // Request header W_* of this request (the first read fetches the map); valid until
  // releaseHeld().
  header(i: i32): Bytes {
    const f = this.facts;
    f.readAll();
    return f.watchedValue(i);
  }

  // Whether the request is gRPC (its content-type).
  isGrpcRequest(): bool {
    const b = this.header(W_CONTENT_TYPE);
    return b.len > 0 && isGrpcContentType(b.ptr, b.len);
  }

  // Whether the request is a CORS preflight (../core/request/preflight.ts).
  isPreflight(): bool {
    if (!this.header(W_PREFLIGHT).present) return false;
    const m = this.header(W_METHOD);
    return m.present && isOptionsMethod(m.ptr, m.len);
  }

  private prepareReplies(f: FallbackSettings | null): void {
    this.fallbackReply = null;
    this.fallbackGrpcReply = null;
    this.rerouteHeader = null;
    if (f === null) return;
    if (f.kind == FallbackKind.Respond) {
      const r = new LocalReply(<u32>f.status, f.bodyBytes, f.retryAfter);
      for (let i = 0; i < f.headers.length; i++) r.add(f.headers[i].nameBytes, f.headers[i].valueBytes);
      r.add(ANSWER_NAME, ANSWER_BY_FALLBACK);
      const g = new LocalReply(<u32>f.status, f.bodyBytes, f.retryAfter, f.grpcStatus);
      for (let i = 0; i < f.headers.length; i++) g.add(f.headers[i].nameBytes, f.headers[i].valueBytes);
      g.add(ANSWER_NAME, ANSWER_BY_FALLBACK);
      this.fallbackGrpcReply = g.seal();
      if (f.contentTypeBytes.length > 0) r.add(CONTENT_TYPE, f.contentTypeBytes);
      this.fallbackReply = r.seal();
    } else if (f.kind == FallbackKind.Reroute) {
      if (f.variant.length > 0) { this.rerouteHeader = VARIANT_HEADER; this.rerouteValue = utf8(f.variant); }
      else { this.rerouteHeader = UPSTREAM_HEADER; this.rerouteValue = utf8(f.upstream); }
    }
  }

  // The request's breaker key into this.key (bytes valid until releaseHeld()).
  readKey(): void {
    const s = this.settings as BreakerSettings;
    const k = this.key;
    if (s.keyKind == KeyKind.Upstream) {
      const v = this.header(W_VARIANT);
      k.set(v.ptr, v.len);
      if (k.len > 0) variantToUpstream(s, k);   // the variant's upstream, as the policy names it
      else { const a = this.header(W_AUTHORITY); k.set(a.ptr, a.len); }
    } else if (s.keyKind == KeyKind.Header) {
      const h = this.header(W_KEY);
      k.set(h.ptr, h.len);
    } else {
      k.clear();
    }
    if (k.len < 0) k.set(0, 0);
  }

  // Metrics (and a warning when CAS gave up) for what the last store operation did;
  // `key`: the key whose state changed ("" when none did).
  account(key: string): void {
    const st = this.store as BreakerStore;
    if (st.transitions > 0) (this.stats as BreakerStats).transition(key, st.fromState, <i32>st.state.state);
    if (st.casRetries > 0) counters.add(C_CAS_RETRIES, st.casRetries);
    if (st.exhausted) {
      counters.add(C_CAS_EXHAUSTED);
      log(LOG_WARN, "tandem: circuit-breaker gave up on " + st.slotName(st.slot) + " after repeated CAS mismatches (failed open)");
    }
    // Transitions are counted, not logged: a log line per transition would be built
    // from strings on the request path (and the module has a size budget).
    if (st.transitions > 0) counters.add(C_TRANSITIONS, st.transitions);
  }

  newStream(id: u32): FilterStream {
    return new BreakerStream(id, this);
  }
}

const PHASE_NONE: u8 = 0;      // no breaker decision (not configured)
const PHASE_TRACKED: u8 = 1;   // admitted and permitted: the outcome will be recorded
const PHASE_UNTRACKED: u8 = 2; // admitted without a permit (dry_run would-reject, failed open)
const PHASE_REJECTED: u8 = 3;  // rejected (answered or rerouted by the fallback)
const PHASE_DONE: u8 = 4;      // outcome recorded

class BreakerStream extends FilterStream {
  phase: u8 = PHASE_NONE;
  failureFallback: u8 = <u8>FallbackKind.None;  // what answers if the upstream fails
  grpc: bool = false;                            // a gRPC request (read only when tandem may answer it)
  replaced: bool = false;
  flags: i32 = 0;
  generation: u32 = 0;
  slot: i32 = 0;
  hashA: u32 = 0;
  hashB: u32 = 0;
  keyLen: i32 = 0;
  status: i32 = -1;
  startMs: f64 = 0;
  firstByteMs: f64 = -1;
  cache: CacheStream | null = null;   // the cache fallback's state, when configured

  constructor(id: u32, public root: BreakerRoot) { super(id); }

  onRequestHeaders(_n: u32, _eos: bool): u32 {
    const root = this.root;
    const s = root.settings;
    const store = root.store;
    if (s === null || store === null) return CONTINUE;
    root.needs.begin(root.facts);
    // A CORS preflight passes untouched in every mode: not admitted, never counted.
    if (root.isPreflight()) { releaseHeld(); counters.add(C_PREFLIGHTS); return CONTINUE; }
    const now = nowMs();
    this.startMs = now;
    const f = s.fallback;
    // Read while the map's bytes are held (from the one pairs read, no host call): a
    // rejected call's answer depends on it, and so does an upstream-failure fallback's.
    const grpc = root.isGrpcRequest();
    if (f !== null && f.onUpstreamFailure) {
      // What to do should this call's upstream fail: decided now, while :method is at hand.
      const m = root.header(W_METHOD);
      this.failureFallback = <u8>fallbackOnOutcome(f, OUTCOME_FAILURE, m.ptr, m.len);
      if (this.failureFallback == <u8>FallbackKind.Respond) this.grpc = grpc;
    }
    // And whether a client sent the header the reroute routes on.
    const upstreamSent = !root.facts.sawAll() || root.facts.watchedPresent(W_UPSTREAM);
    const forced = s.mode >= BreakerMode.ForcedOpen;
    if (!forced) root.readKey();
    const k = root.key;
    const adm = store.admit(k.ptr, k.len, now);
    // The key as text only when a metric needs it (a transition or a rejection).
    const keyText = store.transitions > 0 || !adm.admitted ? (forced ? "" : String.UTF8.decodeUnsafe(k.ptr, <usize>k.len)) : "";
    releaseHeld();
    // The cache fallback's key (its own reads, ./cache-fallback.ts; it releases what it
    // held, so after the map above is done with).
    const cache = root.cache;
    if (cache !== null) {
      const cs = new CacheStream();
      cache.requestKey(cs);
      if (cs.key !== null) this.cache = cs;
    }
    root.account(keyText);
    this.flags = adm.flags;
    this.generation = adm.generation;
    this.slot = store.slot;
    this.hashA = store.hashA;
    this.hashB = store.hashB;
    this.keyLen = store.keyLen;
    if (adm.admitted) {
      this.phase = adm.permitted && !forced ? PHASE_TRACKED : PHASE_UNTRACKED;
      if (!adm.permitted && !store.exhausted) counters.add(C_DRY_RUN);
      // Clients must not pick an upstream through the header the reroute routes on (a
      // remove only when the map read shows a copy, or could not tell).
      if (root.rerouteHeader === UPSTREAM_HEADER && upstreamSent) removeHeader(REQUEST_HEADERS, UPSTREAM_HEADER);
      return CONTINUE;
    }
    this.phase = PHASE_REJECTED;
    counters.add(C_REJECTED);
    (root.stats as BreakerStats).rejection(keyText);
    // The core's effects (../core/breaker/fallback.ts effectsOnReject): the cache first
    // when it covers `open` (a miss goes on), then the reroute or a local reply.
    const e = effectsOnReject(f);
    const cs = this.cache;
    if ((e & EFFECT_CACHE_FIRST) != 0) {
      const hit = cs !== null && (root.cache as FilterCache).serve(cs, now);
      (root.cacheStats as CacheStats).count(hit);
      if (hit) return STOP_ITERATION;
    }
    if ((e & EFFECT_REROUTE) != 0) {
      const rh = root.rerouteHeader as StaticArray<u8>;
      // All client copies go, then tandem's value: one replace (Envoy's setCopy, remove +
      // addCopy since Envoy 1.19: experiment-filter.ts says where).
      replaceHeader(REQUEST_HEADERS, rh, root.rerouteValue);
      return CONTINUE;
    }
    const reply = (e & EFFECT_RESPOND) != 0
      ? (grpc ? root.fallbackGrpcReply : root.fallbackReply) as LocalReply
      : (grpc ? root.defaultGrpcReply : root.defaultReply);
    reply.send(DETAILS_OPEN, retryAfterSeconds(adm.retryAfterMs));
    return STOP_ITERATION;
  }

  onResponseHeaders(_n: u32, eos: bool): u32 {
    const cs = this.cache;
    const tracked = this.phase == PHASE_TRACKED;
    // Stored: answers to admitted calls (tracked or not); a rejected call's answer is ours.
    const storable = cs !== null && (tracked || this.phase == PHASE_UNTRACKED);
    if (this.replaced || this.firstByteMs >= 0 || (!tracked && !storable)) return CONTINUE;
    const root = this.root;
    const now = nowMs();
    const b = root.scratch;
    getHeader(RESPONSE_HEADERS, STATUS, b);
    const httpStatus = parseStatus(b);
    releaseHeld();
    if (tracked) {
      this.firstByteMs = now;
      this.status = httpStatus;
      if ((this.flags & PROBE) != 0) this.recordOutcome(outcomeAtHeaders(httpStatus, b));
      const s = root.settings as BreakerSettings;
      const f = s.fallback;
      // whether the cache answers a failed call (the core's cacheOnOutcome)
      const cacheOnFail = root.cache !== null && cacheOnOutcome(f, OUTCOME_FAILURE);
      if (this.failureFallback == <u8>FallbackKind.Respond || cacheOnFail) {
        // Envoy answers 503/504 itself when the upstream refused, reset or timed out; the
        // flags tell those apart from an upstream's own 5xx.
        let status = httpStatus;
        let error = status >= 500 ? errorOfFlags(getPropertyI64(RESPONSE_FLAGS, 0)) : ERROR_NONE;
        // A gRPC call fails in a trailers-only 200 (Envoy's own for a dead upstream: flags).
        if (this.grpc && status == 200) {
          const g = grpcStatusOfHeaders(b);
          if (g >= 0) { status = GRPC_STATUS_BASE + g; error = errorOfFlags(getPropertyI64(RESPONSE_FLAGS, 0)); }
        }
        const outcome = classify(s, status, error);
        if (outcome == OUTCOME_FAILURE) {
          // The cache first; a miss leaves it to the respond fallback (if any).
          if (cacheOnFail) {
            const hit = cs !== null && (root.cache as FilterCache).serve(cs as CacheStream, now);
            (root.cacheStats as CacheStats).count(hit);
            if (hit) {
              this.replaced = true;
              counters.add(C_UPSTREAM_FALLBACK);
              return STOP_ITERATION;
            }
          }
          if (this.failureFallback == <u8>FallbackKind.Respond) {
            this.replaced = true;
            counters.add(C_UPSTREAM_FALLBACK);
            ((this.grpc ? root.fallbackGrpcReply : root.fallbackReply) as LocalReply).send(DETAILS_UPSTREAM_FAILURE, -1);
            return STOP_ITERATION;
          }
        }
      }
    }
    if (storable) (root.cache as FilterCache).responseHead(cs as CacheStream, httpStatus, eos, now);
    return CONTINUE;
  }

  onResponseBody(size: u32, eos: bool): u32 {
    const cs = this.cache;
    if (cs !== null && cs.storing) (this.root.cache as FilterCache).responseBody(cs, <i32>size, eos, eos ? nowMs() : 0);
    return CONTINUE;
  }

  onLog(): void {
    if (this.phase != PHASE_TRACKED) return;
    this.recordOutcome(outcomeAtLog(this.status, this.root.scratch));
  }

  // Records the tracked call's outcome `o` once: a probe's at its response headers, any
  // other call's in on_log (which also runs for resets and client disconnects).
  private recordOutcome(o: LogOutcome): void {
    this.phase = PHASE_DONE;
    const root = this.root;
    const store = root.store;
    if (store === null) return;
    // A fault's abort (fault-injection runs after this filter): with scope upstream it
    // stands in for the upstream and is its outcome; with scope gateway no upstream was
    // called and it says nothing about it, as on Kong (no tries: plugins/shared/outcome.ts).
    // Found by test/parity/fault.parity.test.ts.
    // (no mark is read when no fault-injection filter shares the policy: config hasFaults false)
    const m = readFaultMark(root.scratch, (root.settings as BreakerSettings).hasFaults);
    if (m.present && m.abortStatus > 0) {
      o.status = m.upstream ? m.abortStatus : 0;
      o.error = ERROR_NONE;
    }
    // Latency: to the first response byte (the upstream's time, not the client's
    // download); without a response, to the end of the stream. The router retries below
    // the filters, so o is the last try's and the span covers every try and backoff: the
    // core's definition of a request's outcome under retries (../core/breaker/tries.ts).
    const end = this.firstByteMs >= 0 ? this.firstByteMs : nowMs();
    store.record(this.slot, this.hashA, this.hashB, this.keyLen, this.flags, this.generation,
      o.status, o.error, faultLatency(m, requestLatencyMs(this.startMs, this.startMs, end - this.startMs)), end);
    root.account(store.transitionKey);
  }
}
