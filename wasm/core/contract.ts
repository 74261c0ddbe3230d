// The contract between the core and its hosts, declared once. This file is written in
// the part of TypeScript that AssemblyScript also compiles (no AssemblyScript types, no
// casts), so the core, the Envoy filter (asc) and the Node side (core-js/, cli/, the Kong
// plugins: tsc and esbuild) all import these very declarations: there is no copy to
// drift. test/core-js/contract.test.ts fails when a product file declares one of these
// values again instead of importing it.

// ---- headers tandem owns (docs/policy.md) ----
export const VARIANT_HEADER = "x-tandem-variant";       // the variant the experiment chose; a reroute's variant
export const UPSTREAM_HEADER = "x-tandem-upstream";     // a reroute's upstream
export const EXPOSE_HEADER = "x-tandem-decision";       // response header with the decision (experiment.expose)
export const TAGS_HEADER = "x-tandem-experiments";      // the tagging experiments' variants
export const CACHE_HEADER = "x-tandem-fallback";        // on an answer the cache fallback served ...
export const CACHE_HEADER_VALUE = "cache";              // ... with this value
export const AGE_HEADER = "age";                        // its age in seconds (RFC 9111 5.1)

// ---- plugin config fields the plan adds to a part's config (wasm/core/plan.ts) ----
// The breaker's {variant: upstream} for key: upstream (wasm/core/breaker/upstream-names.ts).
export const UPSTREAM_NAMES_FIELD = "upstreamNames";

// ---- request facts the core asks the gateway for (wasm/core/request/facts.ts) ----
export const enum Fact {
  Header = 0,   // a request header by lowercase name
  Path = 1,     // the request target: path and query string, as sent (":path")
  Host = 2,     // the Host / :authority header, port included
  Method = 3,
  ClientIp = 4, // the downstream peer address, without port
  Entropy = 5,  // per-request random bytes the gateway already has (x-request-id / Kong request id)
}

// ---- experiment decisions ----
// Why a variant was chosen; rule i is REASON_RULE0 + i.
export const REASON_SPLIT = 0;
export const REASON_RAMP = 1;
export const REASON_OVERRIDE = 2;
export const REASON_GUARD = 3;     // the variant's canary guard is open: its users went to guard.to
export const REASON_RULE0 = 4;
// The key source of a decision beyond stickiness.sources' indices.
export const KEY_SOURCE_NEW_ID = -1;      // a new id from the entropy fact
export const KEY_SOURCE_NEEDS_ENTROPY = -2; // no key, no entropy fact: fetch it and decide again
// The request carries Access-Control-Request-Method and the method (a NEED_ON_DEMAND
// need) was not given: fetch it and decide again (wasm/core/request/preflight.ts).
export const KEY_SOURCE_NEEDS_METHOD = -3;
// The name of a Method need an adapter may leave absent until the core asks for it
// (KEY_SOURCE_NEEDS_METHOD): Kong fetches the method with an RPC only then.
export const NEED_ON_DEMAND = "on-demand";
// The header that makes an OPTIONS request a CORS preflight (wasm/core/request/preflight.ts).
export const PREFLIGHT_HEADER = "access-control-request-method";

// ---- breaker states, transitions, admissions, outcomes (wasm/core/breaker/) ----
export const STATE_CLOSED = 0;
export const STATE_OPEN = 1;
export const STATE_HALF_OPEN = 2;
// Their names, and the transitions' reasons: ./contract-names.ts.
// Admission flags.
export const ADMITTED = 1;
export const PERMITTED = 2;
export const PROBE = 4;
// The breaker would admit a half-open probe but was not told whether the request is
// long-lived (request/long-lived.ts): read the request's headers and ask again.
export const NEEDS_FACTS = 8;
// How an adapter admits (BreakerRuntime.allow `probing`): PROBES_AT_HEADERS = the
// adapter decides a probe at its response headers (Envoy), so any request may probe;
// FACTS_READ = the request's headers were passed as facts. Kong passes FACTS_READ or 0.
export const PROBES_AT_HEADERS = 1;
export const FACTS_READ = 2;
// A fact table's length for a fact the Node binding did not write: the core asks for it
// (import env.tandem_fact) only when it reads it (wasm/core/api.ts TableFacts).
export const FACT_ASK = -2;
// Transport errors an adapter reports with an outcome.
export const ERROR_NONE = 0;
export const ERROR_CONNECT = 1;   // connection refused / failed / no healthy upstream
export const ERROR_RESET = 2;     // connection reset or closed before a full response
export const ERROR_TIMEOUT = 3;   // upstream timed out
export const ERROR_CONNECT_OR_RESET = 4; // either, not told apart (Kong/nginx: 502): a failure if either is listed
// A gRPC reply's outcome: an adapter that saw a grpc-status (trailers, or the headers of
// a trailers-only reply) reports status GRPC_STATUS_BASE + grpc-status to record(), so
// the core classifies it by failure.grpcStatuses instead of the HTTP :status (always 200
// for gRPC over Envoy). Statuses 0-16 (grpc/grpc doc/statuscodes.md); others are not gRPC.
export const GRPC_STATUS_BASE = 1000;
export const GRPC_STATUS_HEADER = "grpc-status";     // a gRPC reply's status: trailers, or the headers of a trailers-only reply
export const GRPC_MESSAGE_HEADER = "grpc-message";
export const GRPC_STATUS_MAX = 16;
// How an outcome counted.
export const OUTCOME_SUCCESS = 0;
export const OUTCOME_FAILURE = 1;
export const OUTCOME_IGNORED = 2;  // neither: does not enter any window
export const OUTCOME_KEY_GONE = -1; // the key was evicted between admission and outcome
// What answers a rejected call (or a failed upstream, with fallback.on upstreamFailure).
export const enum FallbackKind { None = 0, Respond = 1, Reroute = 2 }
// The answer to a rejected call no fallback takes, on both gateways (plus Retry-After).
export const REJECT_STATUS = 503;
export const REJECT_BODY = "circuit breaker open";
export const REJECT_CONTENT_TYPE = "text/plain; charset=utf-8";
// ... and to a gRPC request (../request/grpc.ts): a trailers-only 200 with this
// grpc-status (UNAVAILABLE: a client may retry) and the body as grpc-message.
export const REJECT_GRPC_STATUS = 14;
export const GRPC_CONTENT_TYPE = "application/grpc";

// ---- result areas the Node binding reads after a call (i32 slots) ----
// Breaker: after allow / record (wasm/core/breaker/runtime.ts).
export const R_FLAGS = 0;        // admission flags
export const R_GENERATION = 1;   // u32: the generation to hand back to record
export const R_STATE = 2;        // the key's state after the call
export const R_PREV_STATE = 3;   // its state before the call
export const R_TRANSITION = 4;   // 1 when the call made the state transition (reason in R_REASON)
export const R_REASON = 5;       // the reason of the key's last transition
export const R_RETRY_AFTER = 6;  // rejections: Retry-After seconds, -1 = none
export const R_FALLBACK = 7;     // rejections: what answers (FallbackKind; None = the default reject)
export const R_OUTCOME = 8;      // record: OUTCOME_*, OUTCOME_KEY_GONE when the key was evicted meanwhile
export const R_EFFECTS = 9;      // admissions: what the adapter does with the request (EFFECT_* below)
export const R_REPLY_RETRY_AFTER = 10; // the local reply's Retry-After seconds, -1: none (the reply takes none, or no seconds)
export const R_KEY_PTR = 11;     // admissions: the key's bytes (address, length), valid until the
export const R_KEY_LEN = 12;     //   next call on the same plan: the adapter reads the key text only if it wants it
export const R_TICKET_ENTRY = 13; // admissions: the key's entry in the state table and the serial of
export const R_TICKET_SERIAL = 14; //  its stay there (u32): record by ticket, without the key (TICKET_*)
export const RESULT_SLOTS = 15;
// A ticket names one key's stay in one table entry: serial * TICKET_ENTRIES + entry (an
// integer below 2^48: exact as a JavaScript number). Serials are never reused by a module
// instance (u32: 2^32 keys created), so a ticket outlives neither an eviction nor its plan.
export const TICKET_ENTRIES = 65536;  // > any entry index (breaker/settings.ts MAX_KEYS)
// A record by ticket whose key was evicted since: nothing changed, nothing reported; the
// adapter records by the key instead (it may have been admitted again since).
export const OUTCOME_TICKET_STALE = -2;
// The lean admission (tandem_breaker_admit), one i32: flags (ADMITTED ...) in bits 0-3,
// the effects (EFFECT_*) from CALL_EFFECTS_SHIFT, CALL_TRANSITION when the call changed the
// state, and a CORS preflight's pass (CALL_PREFLIGHT, CALL_NEEDS_METHOD: nothing admitted).
export const CALL_FLAGS = 15;
export const CALL_EFFECTS_SHIFT = 4;
export const CALL_EFFECTS = 31;      // after the shift
export const CALL_TRANSITION = 512;
export const CALL_PASS_SHIFT = 10;   // breaker/runtime.ts PREFLIGHT_* << this:
export const CALL_PREFLIGHT = 1024;  //   PREFLIGHT_YES: a CORS preflight, passed untouched
export const CALL_NEEDS_METHOD = 2048; // PREFLIGHT_NEEDS_METHOD: admit again with the method
// The effects of the breaker's request step, flags; none: forward the request untouched.
// The adapter applies them in this order, deciding nothing (plugins/circuit-breaker/
// handler.ts, cli/simulate/via-core.ts; wasm/filter/breaker-filter.ts from the same
// core function, ./breaker/fallback.ts effectsOnReject).
export const EFFECT_TRACK = 1;       // forward; hand the admission back with the outcome (Kong: a ticket to log)
export const EFFECT_CACHE_FIRST = 2; // a servable cache fallback entry answers first; a miss goes on
export const EFFECT_REROUTE = 4;     // apply the plan's reroute: set the variant header, choose the upstream
export const EFFECT_REPLY = 8;       // answer with a local reply, Retry-After R_REPLY_RETRY_AFTER:
export const EFFECT_RESPOND = 16;    //   the respond fallback's with this flag, else the default rejection
                                     //   (also the answer to a reroute the gateway cannot make: Kong's unknown Upstream)
// The local replies by number (EFFECT_RESPOND set: REPLY_RESPOND).
export const REPLY_REJECT = 0;       // the answer to a rejection no fallback takes (plan.reject)
export const REPLY_RESPOND = 1;      // the respond fallback (plan.fallback)
// Canary guards: after an experiment decision / a guard record (wasm/core/api.ts).
export const G_GUARD = 0;        // the guard consulted, -1 none
export const G_FLAGS = 1;        // its admission flags
export const G_GENERATION = 2;   // u32
export const G_STATE = 3;        // the guard's state
export const G_TRACKED = 4;      // 1: record the outcome
export const G_TRANSITION = 5;   // record: 1 when it changed the state
export const G_REASON = 6;       // record: the reason of its last transition
export const GUARD_SLOTS = 8;
// Experiment: after a decision (wasm/core/api.ts tandem_experiment_decide), so the Node
// binding reads the whole decision from one view instead of one export call per field.
export const D_VARIANT = 0;        // the variant index, -1: out of the experiment's scope
export const D_REASON = 1;         // REASON_*
export const D_STRIP = 2;          // 1: the request carried the override header
export const D_TEXT = 3;           // pointer to the decision's text: Set-Cookie, then
export const D_COOKIE_LEN = 4;     //   x-tandem-decision, then x-tandem-experiments,
export const D_EXPOSE_LEN = 5;     //   these many bytes each (0: none)
export const D_TAGS_LEN = 6;
export const D_LOG = 7;            // the decision log: 0 not sampled, 1 sampled, 2 needs the request id (decision-log/sample.ts)
export const DECISION_SLOTS = 8;
// Faults: after a fault decision (wasm/core/api.ts tandem_fault_decide).
export const F_FAULT = 0;          // the fault that applies, -1 none
export const F_DELAY_MS = 1;       // its delay, ms; -1 none
export const F_ABORT_STATUS = 2;   // its abort status; 0 none
export const F_REASON = 3;         // why (wasm/core/fault/fault.ts WHY_*)
export const F_STRIP = 4;          // 1: remove the control header(s) before the upstream
export const F_NEEDS_ENTROPY = 5;  // 1: a coin needs the request id: decide again with it
export const FAULT_SLOTS = 8;

// ---- Envoy shared data (wasm/filter/breaker-store.ts) ----
// One value per slot, named <prefix><configId hex>:<slot hex>.
export const BREAKER_PREFIX = "tandem:cb:";
export const GUARD_PREFIX = "tandem:guard:";
// The cache fallback (wasm/filter/cache-store.ts): <prefix><configId hex>:i<set hex> for
// a set's index, <prefix><configId hex>:e<slot hex> for an entry (wasm/core/cache/).
export const CACHE_PREFIX = "tandem:fc:";
// maxActive of the fault-injection filter (wasm/filter/delay-gate.ts): one u32 count of a
// fault's delays in flight, named <prefix><configId hex>:<fault index hex>.
export const FAULT_ACTIVE_PREFIX = "tandem:fa:";
// Value: a 16-byte header (u8 version, u8 -, u16 key length, u32 hash A, u32 hash B,
// u32 configId), the breaker state (wasm/core/breaker/codec.ts), then the key bytes.
export const VALUE_VERSION = 1;
export const VALUE_HEADER = 16;
export const VALUE_KEY_LEN = 2;      // u16 offset in the value header
export const VALUE_HASH_A = 4;       // u32
export const VALUE_HASH_B = 8;       // u32
export const VALUE_CONFIG_ID = 12;   // u32
// Offsets in the breaker state (codec.ts layout), from VALUE_HEADER.
export const CODEC_STATE = 1;        // u8: STATE_*
export const CODEC_GENERATION = 8;   // u32
export const CODEC_MIN_BYTES = 12;   // a value shorter than VALUE_HEADER + this holds no state
export const CODEC_WINDOW_CALLS = 68;     // u32: calls in the window
export const CODEC_WINDOW_FAILURES = 72;  // u32: failures in the window
