// Root id `experiment`: the sticky weighted split on Envoy. Glue only: facts in
// through EnvoyFacts, the core decides, the decision goes out as header mutations.
// Changing a request header makes Envoy (ABI <= 0.2.1) clear the route cache, so
// the route matching on the variant header sees the new value.
import { CONTINUE, FilterRoot, FilterStream } from "./contexts";
import { ExperimentRuntime } from "../core/experiment/experiment";
import { configureExperiment } from "../core/policy";
import { Bytes, utf8 } from "../core/text/bytes";
import { EnvoyFacts, PAIRS_THRESHOLD } from "./facts";
import { Fact } from "../core/request/facts";
import {
  LOG_ERROR, LOG_INFO, REQUEST_HEADERS, RESPONSE_HEADERS, addHeader, getHeader, log, nowMs, pluginConfiguration, releaseHeld, removeHeader,
} from "./host";
import { EXPOSE_HEADER } from "../core/experiment/settings";
import { ERROR_NONE } from "../core/breaker/settings";
import { murmur3_32 } from "../core/hash/hash";
import { EnvoyGuards } from "./guard-store";
import { STATUS, outcomeAtLog, parseStatus, upstreamCalled } from "./outcome";
import { TaggingRuntime } from "../core/tagging/tagging";
import { decideTags, setTags } from "./tagging-filter";
import { faultLatency, readFaultMark } from "./fault-mark";
import { ConfigRejections, define } from "./metrics";
import { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM, NO_METRIC, incrementMetric, recordMetric } from "./host";
import { ExperimentSettings } from "../core/experiment/settings";
import { STATE_CLOSED, STATE_OPEN } from "../core/contract";
import {
  ASSIGNMENTS_TOTAL, CODE_CLASSES, GUARD_STATE, GUARD_TRIPS, L_CODE_CLASS, L_EXPERIMENT, L_POLICY, L_REASON, L_SOURCE, L_VARIANT,
  PLUGIN_EXPERIMENT, REASON_LABELS, REQUESTS_TOTAL, REQUEST_DURATION, RL_RULE, SOURCE_LABELS, S_ISSUED, codeClassIndex, reasonLabelIndex,
  sourceLabelIndex,
} from "../core/metrics/catalog";

const SET_COOKIE = utf8("set-cookie");
const EXPOSE = utf8(EXPOSE_HEADER);
export const CONFIG_REJECTED = "tandem: experiment configuration rejected: ";
// "tandem: guard state of variant <name> <shared-data name>", one line per guard at configure.
export const GUARD_STATE_AT = "tandem: guard state of variant ";

const configRejections = new ConfigRejections(PLUGIN_EXPERIMENT);
const REASONS = RL_RULE + 1;              // reasons a decision gives (catalog REASON_LABELS 0..RL_RULE)
const CLASSES = CODE_CLASSES.length;
const SOURCES = SOURCE_LABELS.length;

// The experiment's stats, defined at configure for every label value the policy can
// produce (./metrics.ts): requests by [variant][reason][class], latency by variant,
// assignments by [variant][source] (the policy's source kinds and "issued"), guard
// state and trips by guard.
class ExperimentStats {
  requests: StaticArray<u32> = new StaticArray<u32>(0);
  duration: StaticArray<u32> = new StaticArray<u32>(0);
  assignments: StaticArray<u32> = new StaticArray<u32>(0);
  guardState: StaticArray<u32> = new StaticArray<u32>(0);
  guardTrips: StaticArray<u32> = new StaticArray<u32>(0);
  constructor(s: ExperimentSettings) {
    const v = s.variants.length;
    this.requests = new StaticArray<u32>(v * REASONS * CLASSES);
    this.duration = new StaticArray<u32>(v);
    this.assignments = new StaticArray<u32>(v * SOURCES);
    const kinds = new StaticArray<bool>(SOURCES);
    for (let i = 0; i < s.sources.length; i++) kinds[<i32>s.sources[i].kind] = true;
    kinds[S_ISSUED] = true;
    for (let i = 0; i < v; i++) {
      const name = s.variants[i].name;
      for (let r = 0; r < REASONS; r++) for (let c = 0; c < CLASSES; c++) {
        this.requests[(i * REASONS + r) * CLASSES + c] = define(METRIC_COUNTER, REQUESTS_TOTAL,
          [L_POLICY, L_EXPERIMENT, L_VARIANT, L_REASON, L_CODE_CLASS], [s.policy, s.name, name, REASON_LABELS[r], CODE_CLASSES[c]]);
      }
      this.duration[i] = define(METRIC_HISTOGRAM, REQUEST_DURATION, [L_POLICY, L_EXPERIMENT, L_VARIANT], [s.policy, s.name, name]);
      for (let k = 0; k < SOURCES; k++) {
        this.assignments[i * SOURCES + k] = kinds[k]
          ? define(METRIC_COUNTER, ASSIGNMENTS_TOTAL, [L_POLICY, L_EXPERIMENT, L_VARIANT, L_SOURCE], [s.policy, s.name, name, SOURCE_LABELS[k]])
          : NO_METRIC;
      }
    }
    const g = s.guards.length;
    this.guardState = new StaticArray<u32>(g);
    this.guardTrips = new StaticArray<u32>(g);
    for (let i = 0; i < g; i++) {
      const name = s.variants[s.guards[i].variant].name;
      this.guardState[i] = define(METRIC_GAUGE, GUARD_STATE, [L_POLICY, L_EXPERIMENT, L_VARIANT], [s.policy, s.name, name]);
      this.guardTrips[i] = define(METRIC_COUNTER, GUARD_TRIPS, [L_POLICY, L_EXPERIMENT, L_VARIANT], [s.policy, s.name, name]);
    }
  }
}

export class ExperimentRoot extends FilterRoot {
  runtime: ExperimentRuntime | null = null;
  stats: ExperimentStats | null = null;  // null: metrics off (config `metrics: false`)
  facts: EnvoyFacts = new EnvoyFacts();
  guards: EnvoyGuards | null = null;     // canary guard states in shared data
  tags: TaggingRuntime | null = null;    // spec.experiments
  scratch: Bytes = new Bytes();

  // Returning false makes Envoy reject this configuration and keep the previous one.
  onConfigure(size: u32): bool {
    const text = pluginConfiguration(size);
    const res = configureExperiment(text);
    const s = res.settings;
    if (s === null) {
      configRejections.count();
      log(LOG_ERROR, CONFIG_REJECTED + res.error);
      return false;
    }
    const rt = new ExperimentRuntime(s);
    this.stats = s.metrics ? new ExperimentStats(s) : null;
    this.guards = null;
    if (s.guards.length > 0) {
      // The same text gives the same names in every worker VM (./guard-store.ts).
      const g = new EnvoyGuards(s.guards, murmur3_32(changetype<usize>(text), text.length << 1, 0x67726431));
      rt.gate = g;
      this.guards = g;
    }
    this.runtime = rt;
    const tags = res.tags;
    this.tags = tags !== null ? new TaggingRuntime(tags) : null;
    let headerNeeds = 0;
    for (let i = 0; i < s.needs.list.length; i++) if (s.needs.list[i].kind != Fact.ClientIp) headerNeeds++;
    this.facts.usePairs = headerNeeds >= PAIRS_THRESHOLD;
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
      incrementMetric(unchecked(st.assignments[d.variant * SOURCES + src]), 1);
      if (d.guard >= 0) recordMetric(unchecked(st.guardState[d.guard]), d.guardState != STATE_CLOSED ? 1 : 0);
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
    // Every client copy goes (the header is tandem's, even when no variant is set), then
    // the variant is added. Envoy's replace (HeaderMapImpl::setCopy = remove + addCopy since
    // Envoy 1.19, envoy#16209) would drop every copy too, but it cannot express "remove, add
    // nothing", and remove + add keeps that one path for both cases.
    removeHeader(REQUEST_HEADERS, s.variantHeaderBytes);
    if (d.variant >= 0) addHeader(REQUEST_HEADERS, s.variantHeaderBytes, unchecked(s.variants[d.variant]).nameBytes);
    if (d.stripOverride) removeHeader(REQUEST_HEADERS, s.overrideHeaderBytes);
    setTags(this.root.tags, tagLen);
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
    if ((this.guard >= 0 || this.mVariant >= 0) && this.firstByteMs < 0) {
      this.firstByteMs = nowMs();
      const b = this.root.scratch;
      getHeader(RESPONSE_HEADERS, STATUS, b);
      this.status = parseStatus(b);
      releaseHeld();
    }
    const c = this.setCookie;
    if (c !== null) addHeader(RESPONSE_HEADERS, SET_COOKIE, c);
    const e = this.expose;
    if (e !== null) addHeader(RESPONSE_HEADERS, EXPOSE, e);
    return CONTINUE;
  }

  // The guarded call's outcome, as the circuit-breaker filter derives it: the status,
  // (0, ignored, when no upstream was called),
  // a transport error from response.flags (for 5xx or no response), latency to the
  // first response byte (else to the stream's end) on the host clock.
  onLog(): void {
    const gi = this.guard;
    const guards = this.root.guards;
    const st = this.root.stats;
    const mv = this.mVariant;
    if ((gi < 0 || guards === null) && (mv < 0 || st === null)) return;
    this.guard = -1;
    this.mVariant = -1;
    const o = outcomeAtLog(this.status, this.root.scratch);
    const clientStatus = this.status >= 0 ? this.status : o.status;
    // Answered before any upstream was picked (a later filter's local reply, e.g. the
    // circuit breaker's): the variant was never called, the outcome says nothing about
    // it (Kong's log phase sees no tries: the same).
    if (o.error == ERROR_NONE && !upstreamCalled(this.root.scratch)) o.status = 0;
    // A fault that stands in for the upstream (scope: upstream) is its outcome.
    const m = readFaultMark(this.root.scratch);
    if (m.present && m.upstream && m.abortStatus > 0) { o.status = m.abortStatus; o.error = ERROR_NONE; }
    const end = this.firstByteMs >= 0 ? this.firstByteMs : nowMs();
    const latency = faultLatency(m, end - this.startMs);
    if (gi >= 0 && guards !== null) {
      guards.record(gi, this.slot, this.hashA, this.hashB, this.guardFlags, this.guardGeneration, o.status, o.error, latency, end);
      if (st !== null) {
        const gs = unchecked(guards.stores[gi]);
        const to = <i32>gs.state.state;
        if (gs.transitions > 0) {
          recordMetric(unchecked(st.guardState[gi]), to != STATE_CLOSED ? 1 : 0);
          if (to == STATE_OPEN) incrementMetric(unchecked(st.guardTrips[gi]), 1);
        }
      }
    }
    if (mv < 0 || st === null) return;
    const c = <i32>codeClassIndex(clientStatus);
    if (c >= 0) incrementMetric(unchecked(st.requests[(mv * REASONS + this.mReason) * CLASSES + c]), 1);
    // Upstream latency, when an upstream answered or failed (Kong: a try was made).
    if (o.status > 0 || o.error != ERROR_NONE) {
      const us = Math.round(latency * 1000);
      // µs - 1: a sample on a bucket bound stays in that bucket (catalog ENVOY_DURATION_SCALE)
      recordMetric(unchecked(st.duration[mv]), us >= 1 ? <u64>us - 1 : 0);
    }
  }
}
