// Root id `experiment`: the sticky weighted split on Envoy. Glue only: facts in
// through EnvoyFacts, the core decides, the decision goes out as header mutations.
// Changing a request header makes Envoy (ABI <= 0.2.1) clear the route cache, so
// the route matching on the variant header sees the new value.
import { resolvedConfiguration } from "./secret-refs";
import { CONTINUE, FilterRoot, FilterStream } from "./contexts";
import { ExperimentRuntime } from "../core/experiment/experiment";
import { configureExperiment } from "../core/policy";
import { Bytes, utf8 } from "../core/text/bytes";
import { EnvoyFacts, PAIRS_THRESHOLD } from "./facts";
import { Fact } from "../core/request/facts";
import {
  LOG_INFO, REQUEST_HEADERS, RESPONSE_HEADERS, addHeader, getHeader, log, nowMs, releaseHeld, removeHeader, replaceHeader,
} from "./host";
import { EXPOSE_HEADER } from "../core/experiment/settings";
import { ERROR_NONE } from "../core/breaker/settings";
import { murmur3_32 } from "../core/hash/hash";
import { EnvoyGuards } from "./guard-store";
import { STATUS, outcomeAtHeaders, outcomeAtLog, parseStatus, upstreamCalled } from "./outcome";
import { TaggingRuntime } from "../core/tagging/tagging";
import { TAGS, decideTags, setTags } from "./tagging-filter";
import { faultLatency, readFaultMark } from "./fault-mark";
import { requestLatencyMs } from "../core/breaker/tries";
import { ConfigRejections, define } from "./metrics";
import { CounterBuffer, FlushTimer } from "./counter-buffer";
import { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM, incrementMetric, recordMetric } from "./host";
import { ExperimentSettings } from "../core/experiment/settings";
import { PROBE, STATE_CLOSED, STATE_OPEN } from "../core/contract";
import {
  ASSIGNMENTS_TOTAL, CODE_CLASSES, GUARD_STATE, GUARD_TRIPS, L_CODE_CLASS, L_EXPERIMENT, L_POLICY, L_REASON, L_SOURCE, L_VARIANT,
  PLUGIN_EXPERIMENT, REASON_LABELS, REQUESTS_TOTAL, REQUEST_DURATION, SOURCE_LABELS, S_ISSUED, codeClassIndex, reasonLabelIndex,
  sourceLabelIndex, ANSWERED_FAULT, ANSWERED_UPSTREAM, requestReasonIndex,
} from "../core/metrics/catalog";
import { answeredByDetails } from "./reply-details";
import { LOG_YES } from "../core/decision-log/sample";
import { DecisionLogTicket, writeDecisionLine } from "./decision-log";

const SET_COOKIE = utf8("set-cookie");
// The headers tandem owns that the facts' pairs walk looks for (EnvoyFacts.watch).
const W_VARIANT = 0;
const W_TAGS = 1;
const EXPOSE = utf8(EXPOSE_HEADER);
export const CONFIG_REJECTED = "tandem: experiment configuration rejected: ";
// "tandem: guard state of variant <name> <shared-data name>", one line per guard at configure.
export const GUARD_STATE_AT = "tandem: guard state of variant ";

const configRejections = new ConfigRejections(PLUGIN_EXPERIMENT);
const REASONS = REASON_LABELS.length;     // a decision's reasons, and fallback / fault (catalog requestReasonIndex)
const CLASSES = CODE_CLASSES.length;
const SOURCES = SOURCE_LABELS.length;

// The experiment's stats, defined at configure for every label value the policy can
// produce (./metrics.ts): requests by [variant][reason][class] and assignments by
// [variant][source] (the policy's source kinds and "issued") are counters held in
// `counters` (./counter-buffer.ts: per request no host call, flushed by the root's
// tick); latency by variant (a histogram: one proxy_record_metric per sample, the only
// way to hand Envoy a sample); guard state (a gauge, written when the value this VM
// last wrote changes) and trips by guard.
class ExperimentStats {
  counters: CounterBuffer;
  assignmentsAt: i32;                    // slot of assignments [0][0]; requests start at 0
  duration: StaticArray<u32> = new StaticArray<u32>(0);
  guardState: StaticArray<u32> = new StaticArray<u32>(0);
  guardWritten: StaticArray<i32> = new StaticArray<i32>(0);   // -1: never written by this VM
  guardTrips: StaticArray<u32> = new StaticArray<u32>(0);
  constructor(s: ExperimentSettings) {
    const v = s.variants.length;
    const at = v * REASONS * CLASSES;
    const counters = new CounterBuffer(at + v * SOURCES);
    this.counters = counters;
    this.assignmentsAt = at;
    const ids = counters.ids;
    this.duration = new StaticArray<u32>(v);
    const kinds = new StaticArray<bool>(SOURCES);
    for (let i = 0; i < s.sources.length; i++) kinds[<i32>s.sources[i].kind] = true;
    kinds[S_ISSUED] = true;
    for (let i = 0; i < v; i++) {
      const name = s.variants[i].name;
      for (let r = 0; r < REASONS; r++) for (let c = 0; c < CLASSES; c++) {
        ids[(i * REASONS + r) * CLASSES + c] = define(METRIC_COUNTER, REQUESTS_TOTAL,
          [L_POLICY, L_EXPERIMENT, L_VARIANT, L_REASON, L_CODE_CLASS], [s.policy, s.name, name, REASON_LABELS[r], CODE_CLASSES[c]]);
      }
      this.duration[i] = define(METRIC_HISTOGRAM, REQUEST_DURATION, [L_POLICY, L_EXPERIMENT, L_VARIANT], [s.policy, s.name, name]);
      for (let k = 0; k < SOURCES; k++) {
        if (kinds[k]) ids[this.assignmentsAt + i * SOURCES + k] = define(METRIC_COUNTER, ASSIGNMENTS_TOTAL,
          [L_POLICY, L_EXPERIMENT, L_VARIANT, L_SOURCE], [s.policy, s.name, name, SOURCE_LABELS[k]]);
      }
    }
    const g = s.guards.length;
    this.guardState = new StaticArray<u32>(g);
    this.guardWritten = new StaticArray<i32>(g);
    this.guardTrips = new StaticArray<u32>(g);
    for (let i = 0; i < g; i++) {
      const name = s.variants[s.guards[i].variant].name;
      this.guardState[i] = define(METRIC_GAUGE, GUARD_STATE, [L_POLICY, L_EXPERIMENT, L_VARIANT], [s.policy, s.name, name]);
      this.guardWritten[i] = -1;
      this.guardTrips[i] = define(METRIC_COUNTER, GUARD_TRIPS, [L_POLICY, L_EXPERIMENT, L_VARIANT], [s.policy, s.name, name]);
    }
  }

  // tandem_guard_state of guard `gi`: 1 while not closed. A transition this VM made is
  // always written (the gauge is shared by every worker VM, and another may have written
  // since); the state a request merely saw only when it differs from what this VM wrote
  // last (writing it on every guarded request would be a host call for an unchanged value).
  guard(gi: i32, state: i32, transition: bool): void {
    const v = state != STATE_CLOSED ? 1 : 0;
    if (!transition && unchecked(this.guardWritten[gi]) == v) return;
    unchecked(this.guardWritten[gi] = v);
    recordMetric(unchecked(this.guardState[gi]), <u64>v);
  }
}

export class ExperimentRoot extends FilterRoot {
  runtime: ExperimentRuntime | null = null;
  stats: ExperimentStats | null = null;  // null: metrics off (config `metrics: false`)
  flushTimer: FlushTimer = new FlushTimer();
  facts: EnvoyFacts = new EnvoyFacts();
  guards: EnvoyGuards | null = null;     // canary guard states in shared data
  tags: TaggingRuntime | null = null;    // spec.experiments
  hasFaults: bool = true;                // a fault-injection filter may share the policy (config hasFaults)
  scratch: Bytes = new Bytes();

  // Returning false makes Envoy reject this configuration and keep the previous one.
  onConfigure(size: u32): bool {
    // "{vault://env/..}" secrets resolved (./secret-refs.ts)
    const text = resolvedConfiguration(size, configRejections, CONFIG_REJECTED);
    if (text === null) return false;
    const res = configureExperiment(text);
    const s = res.settings;
    if (s === null) return configRejections.refuse(CONFIG_REJECTED, res.error);
    const rt = new ExperimentRuntime(s);
    this.flushCounters();   // the previous configuration's counts are Envoy's before its stats go
    this.stats = s.metrics ? new ExperimentStats(s) : null;
    this.guards = null;
    if (s.guards.length > 0) {
      // The same text gives the same names in every worker VM (./guard-store.ts).
      const g = new EnvoyGuards(s.guards, murmur3_32(changetype<usize>(text), text.length << 1, 0x67726431));
      rt.gate = g;
      this.guards = g;
    }
    this.runtime = rt;
    this.hasFaults = s.hasFaults;
    const tags = res.tags;
    this.tags = tags !== null ? new TaggingRuntime(tags) : null;
    let headerNeeds = 0;
    // (the core's rare reads, a preflight's method and a new gRPC user's content-type, do
    // not make every request fetch all headers; the guards' long-lived-request headers are
    // never read here: probes are decided at the response headers,
    // ExperimentRuntime.probesAtHeaders)
    for (let i = 0; i < s.needs.list.length; i++) {
      if (s.needs.list[i].kind != Fact.ClientIp && i != s.upgradeSlot && i != s.acceptSlot) headerNeeds++;
    }
    this.facts.usePairs = headerNeeds - s.rareNeeds >= PAIRS_THRESHOLD;
    // With the pairs read, the walk also tells whether the client sent tandem's own
    // headers (W_VARIANT, W_TAGS): a header it did not send needs no remove.
    const watched = new StaticArray<StaticArray<u8>>(2);
    watched[W_VARIANT] = s.variantHeaderBytes;
    watched[W_TAGS] = TAGS;
    this.facts.watch(watched);
    log(LOG_INFO, "tandem: experiment " + s.name + " configured");
    // Where each guard's state lives (operators read it; `tandem simulate --via envoy` too).
    const g = this.guards;
    if (g !== null) {
      for (let i = 0; i < s.guards.length; i++) {
        log(LOG_INFO, GUARD_STATE_AT + unchecked(s.variants[s.guards[i].variant]).name + " " + g.stores[i].slotName(0));
      }
    }
    return true;
  }

  newStream(id: u32): FilterStream {
    return new ExperimentStream(id, this);
  }

  // A counter moved: the next tick hands it to Envoy.
  counted(slot: i32): void {
    (this.stats as ExperimentStats).counters.add(slot);
    this.flushTimer.ensure();
  }

  private flushCounters(): bool {
    const st = this.stats;
    return st !== null && st.counters.flush();
  }

  onTick(): void {
    this.flushTimer.ticked(this.flushCounters());
  }

  // Envoy shuts the root down (configuration removed or replaced, VM going): the counts
  // not yet flushed are handed over now rather than lost.
  onDone(): void {
    this.flushCounters();
  }
}

class ExperimentStream extends FilterStream {
  setCookie: StaticArray<u8> | null = null;
  expose: StaticArray<u8> | null = null;   // owned by the settings: no copy
  // A canary guard tracks this request: where its state is and the admission, for
  // the outcome recorded in onLog (as the circuit-breaker filter records its own).
  guard: i32 = -1;
  guardFlags: i32 = 0;
  guardGeneration: u32 = 0;
  slot: i32 = 0;
  hashA: u32 = 0;
  hashB: u32 = 0;
  startMs: f64 = 0;
  firstByteMs: f64 = -1;
  status: i32 = -1;
  // Metrics: the decided variant (-1: none, or metrics off) and the reason label index.
  mVariant: i32 = -1;
  mReason: i32 = 0;
  // The decision log (./decision-log.ts): this request is sampled (null: not).
  logged: DecisionLogTicket | null = null;

  constructor(id: u32, public root: ExperimentRoot) { super(id); }

  onRequestHeaders(_n: u32, _eos: bool): u32 {
    const rt = this.root.runtime;
    if (rt === null) return CONTINUE;
    const s = rt.settings;
    this.root.facts.begin();
    const st = this.root.stats;
    const now = s.clock || st !== null ? nowMs() : 0;
    const d = rt.decide(this.root.facts, now);
    if (st !== null && d.variant >= 0) {
      this.mVariant = d.variant;
      this.mReason = <i32>reasonLabelIndex(d.reason);
      this.startMs = now;
      const ks = d.keySource;
      const src = <i32>sourceLabelIndex(ks >= 0 ? <i32>unchecked(s.sources[ks]).kind : 0, ks < 0);
      this.root.counted(st.assignmentsAt + d.variant * SOURCES + src);
      if (d.guard >= 0) st.guard(d.guard, d.guardState, false);
    }
    if (d.variant >= 0 && d.log == LOG_YES) {
      // Sampled: the id the core sampled (already read at a percent below 100), the
      // source; the clock only when the decision did not read it (sampled requests only).
      this.logged = DecisionLogTicket.of(s, d);
      if (!(s.clock || st !== null)) this.startMs = nowMs();
      else this.startMs = now;
    }
    const tagLen = decideTags(this.root.tags, rt, d, now);   // before any header changes
    if (d.guardTracked) {
      const store = unchecked((this.root.guards as EnvoyGuards).stores[d.guard]);
      this.guard = d.guard;
      this.guardFlags = d.guardFlags;
      this.guardGeneration = d.guardGeneration;
      this.slot = store.slot;
      this.hashA = store.hashA;
      this.hashB = store.hashB;
      this.startMs = now;
    }
    // Every client copy of the variant header goes (the header is tandem's, even when no
    // variant is set). With a variant: one replace, Envoy's setCopy, which since Envoy 1.19
    // (envoy#16209 removed the runtime flag that kept the other copies) is remove(key) +
    // addCopy(key, value): every copy gone, tandem's value added last, what remove + add
    // did in two calls (source/extensions/common/wasm/context.cc
    // Context::replaceHeaderMapValue -> source/common/http/header_map_impl.cc
    // HeaderMapImpl::setCopy; sim/envoy/header-map.ts HeaderMap.setCopy). Without one: a
    // remove, unless the facts read the whole map and it has no copy (no host call then).
    const facts = this.root.facts;
    const sawAll = facts.sawAll();
    if (d.variant >= 0) replaceHeader(REQUEST_HEADERS, s.variantHeaderBytes, unchecked(s.variants[d.variant]).nameBytes);
    else if (!sawAll || facts.watchedPresent(W_VARIANT)) removeHeader(REQUEST_HEADERS, s.variantHeaderBytes);
    if (d.stripOverride) removeHeader(REQUEST_HEADERS, s.overrideHeaderBytes);
    setTags(this.root.tags, tagLen, !sawAll || facts.watchedPresent(W_TAGS));
    this.expose = d.expose;
    if (d.setCookieLen > 0) {
      const c = new StaticArray<u8>(d.setCookieLen);
      memory.copy(changetype<usize>(c), changetype<usize>(d.setCookie), d.setCookieLen);
      this.setCookie = c;
    }
    releaseHeld();
    return CONTINUE;
  }

  onResponseHeaders(_n: u32, _eos: bool): u32 {
    if ((this.guard >= 0 || this.mVariant >= 0 || this.logged !== null) && this.firstByteMs < 0) {
      this.firstByteMs = nowMs();
      const b = this.root.scratch;
      getHeader(RESPONSE_HEADERS, STATUS, b);
      this.status = parseStatus(b);
      releaseHeld();
      // A guard probe is decided here (status, time to first byte), as the breaker's
      // half-open probes are: a stream must not hold a probe until it ends
      // (docs/policy.md "Streams"). Other guarded calls are recorded in on_log.
      if (this.guard >= 0 && (this.guardFlags & PROBE) != 0) {
        const o = outcomeAtHeaders(this.status, b);
        const status = o.status;
        const error = o.error;
        this.recordGuard(error == ERROR_NONE && !upstreamCalled(b) ? 0 : status, error, this.firstByteMs);
      }
    }
    const c = this.setCookie;
    if (c !== null) addHeader(RESPONSE_HEADERS, SET_COOKIE, c);
    const e = this.expose;
    if (e !== null) addHeader(RESPONSE_HEADERS, EXPOSE, e);
    return CONTINUE;
  }

  // A guard probe's outcome at its response headers (status: 0 when no upstream was
  // called), with a fault standing in for the upstream as in on_log; on_log then counts
  // the metrics only.
  private recordGuard(status: i32, error: i32, end: f64): void {
    const gi = this.guard;
    this.guard = -1;
    const m = readFaultMark(this.root.scratch, this.root.hasFaults);
    if (m.present && m.upstream && m.abortStatus > 0) { status = m.abortStatus; error = ERROR_NONE; }
    this.recordGuardAt(gi, status, error, faultLatency(m, requestLatencyMs(this.startMs, this.startMs, end - this.startMs)), end);
  }

  private recordGuardAt(gi: i32, status: i32, error: i32, latency: f64, end: f64): void {
    const guards = this.root.guards;
    if (guards === null) return;
    guards.record(gi, this.slot, this.hashA, this.hashB, this.guardFlags, this.guardGeneration, status, error, latency, end);
    const st = this.root.stats;
    if (st !== null) {
      const gs = unchecked(guards.stores[gi]);
      const to = <i32>gs.state.state;
      if (gs.transitions > 0) {
        st.guard(gi, to, true);
        if (to == STATE_OPEN) incrementMetric(unchecked(st.guardTrips[gi]), 1);
      }
    }
  }

  // The guarded call's outcome, as the circuit-breaker filter derives it: the status,
  // (0, ignored, when no upstream was called),
  // a transport error from response.flags (for 5xx or no response), latency to the
  // first response byte (else to the stream's end) on the host clock.
  onLog(): void {
    const gi = this.guard;
    const guards = this.root.guards;
    const st = this.root.stats;
    const mv = st !== null ? this.mVariant : -1;
    const lt = this.logged;
    if ((gi < 0 || guards === null) && mv < 0 && lt === null) return;
    this.guard = -1;
    this.mVariant = -1;
    this.logged = null;
    const scratch = this.root.scratch;
    let status: i32;
    let error: i32;
    let clientStatus = this.status;
    const called = upstreamCalled(scratch);
    if (gi < 0 && this.status > 0 && called) {
      // Metrics alone, a response seen, an upstream called: the latency sample is due
      // whatever the outcome's details (a gRPC code, the flags), so they are not read.
      status = this.status;
      error = ERROR_NONE;
    } else {
      const o = outcomeAtLog(this.status, scratch);
      status = o.status;
      error = o.error;
      if (clientStatus < 0) clientStatus = status;   // Envoy's own response code
      // Answered before any upstream was picked (a later filter's local reply, e.g. the
      // circuit breaker's): the variant was never called, the outcome says nothing about
      // it (Kong's log phase sees no tries: the same).
      if (error == ERROR_NONE && !called) status = 0;
    }
    // A fault that stands in for the upstream (scope: upstream) is its outcome (no mark
    // is read when no fault-injection filter shares the policy: config hasFaults false).
    const m = readFaultMark(scratch, this.root.hasFaults);
    if (m.present && m.upstream && m.abortStatus > 0) { status = m.abortStatus; error = ERROR_NONE; }
    const end = this.firstByteMs >= 0 ? this.firstByteMs : nowMs();
    // Envoy's router retries below the filters: this one span (request start to the
    // first response byte the filter saw) covers every try and backoff, the core's
    // definition of a request's latency (../core/breaker/tries.ts).
    const latency = faultLatency(m, requestLatencyMs(this.startMs, this.startMs, end - this.startMs));
    if (gi >= 0) this.recordGuardAt(gi, status, error, latency, end);
    if (mv < 0 && lt === null) return;
    const c = <i32>codeClassIndex(clientStatus);
    // Who answered: a fault's abort (the mark read above), else, when no upstream's
    // answer reached this filter (none called, or a reply sent straight to the codec),
    // the response code details tell the breaker's fallback (one property read, only
    // then: a request its upstream answered costs none).
    let by = ANSWERED_UPSTREAM;
    if (c >= 0 || lt !== null) {
      by = m.present && m.abortStatus > 0 ? ANSWERED_FAULT
        : !called || this.status < 0 ? answeredByDetails(scratch) : ANSWERED_UPSTREAM;
    }
    // Upstream latency, when an upstream answered or failed (Kong: a try was made).
    const upstreamLatency = status > 0 || error != ERROR_NONE;
    if (mv >= 0 && st !== null) {
      if (c >= 0) this.root.counted((mv * REASONS + <i32>requestReasonIndex(this.mReason, by)) * CLASSES + c);
      if (upstreamLatency) {
        const us = Math.round(latency * 1000);
        // µs - 1: a sample on a bucket bound stays in that bucket (catalog ENVOY_DURATION_SCALE)
        recordMetric(unchecked(st.duration[mv]), us >= 1 ? <u64>us - 1 : 0);
      }
    }
    if (lt !== null) writeDecisionLine(lt, by, clientStatus, upstreamLatency ? latency : -1);
  }
}
