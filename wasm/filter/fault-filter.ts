// Root id `fault-injection`: targeted delays and aborts on Envoy (spec.faults). Glue
// only: facts in through EnvoyFacts, the core decides (wasm/core/fault), effects out.
//   delay: on_request_headers answers StopIteration; the stream waits in this root's
//          DelayQueue and resumes from the root's tick (proxy_set_effective_context +
//          proxy_continue_stream), no busy wait: the tick is armed for the earliest due
//          stream only while streams are delayed (period = ms until it is due, re-armed
//          after each tick), so precision is the host timer's (Envoy: 1 ms dispatcher
//          timers, Wasm::setTickPeriod), and an idle root costs nothing.
//   abort: a local reply with the fault's status, headers and body (after the delay
//          when both apply), as Envoy's fault filter does (FaultFilter::abortWithStatus).
//   A stream the client resets while delayed gets on_done: it is marked gone, its
//   maxActive place given back at once, and it is never resumed.
// maxActive is counted across worker VMs in shared data (./delay-gate.ts), as Envoy's own
// fault filter counts max_active_faults process-wide: the core asks the gate when a
// delay's coin won, the gate takes a place by compare-and-swap, the stream gives it back
// when it resumes or ends while paused.
import { resolvedConfiguration } from "./secret-refs";
import { CONTINUE, STOP_ITERATION, FilterRoot, FilterStream } from "./contexts";
import * as imports from "@solo-io/proxy-runtime/assembly/imports";
import { FaultRuntime } from "../core/fault/fault";
import { configureFaults } from "../core/fault/policy";
import { utf8 } from "../core/text/bytes";
import { EnvoyFacts } from "./facts";
import { LocalReply } from "./local-reply";
import { Delayed, DelayQueue } from "./delay-queue";
import { SharedDelays } from "./delay-gate";
import { murmur3_32 } from "../core/hash/hash";
import { markFault } from "./fault-mark";
import { ConfigRejections, FilterCounters, define } from "./metrics";
import { FAULTS_TOTAL, FAULT_KINDS, L_KIND, L_POLICY, PLUGIN_FAULT } from "../core/metrics/catalog";
import { SCOPE_UPSTREAM } from "../core/fault/settings";
import {
  LOG_INFO, METRIC_COUNTER, NO_METRIC, REQUEST_HEADERS, incrementMetric, log, nowMs, releaseHeld, removeHeader,
} from "./host";

export const CONFIG_REJECTED = "tandem: fault-injection configuration rejected: ";
const CONTENT_TYPE = utf8("content-type");
const NO_BODY = new StaticArray<u8>(0);
import { ANSWER_BY_FAULT, ANSWER_NAME, DETAILS_ABORT } from "./reply-details";   // response code details (%RESPONSE_CODE_DETAILS%)
const STREAM_REQUEST = 0;                           // proxy-wasm WasmStreamType::Request
// The host clock is ns as f64 ms (~256 ns steps at today's epoch): a stream due within
// this much of now is due, so a whole-ms timer is not re-armed for a rounding residue.
const DUE_SLACK_MS: f64 = 0.001;

// The filter's operational counters (./metrics.ts FilterCounters), by index (Envoy's
// FaultFilterStats are declared once per filter config); the labelled
// tandem_faults_total series are FaultRoot's.
const C_DELAYS = 0;      // requests delayed
const C_ABORTS = 1;      // requests aborted
const C_GONE = 2;        // delayed requests the client reset before they resumed
const counters = new FilterCounters(["tandem_fault_delays_injected", "tandem_fault_aborts_injected", "tandem_fault_delays_reset"]);

const configRejections = new ConfigRejections(PLUGIN_FAULT);

export class FaultRoot extends FilterRoot {
  runtime: FaultRuntime | null = null;
  facts: EnvoyFacts = new EnvoyFacts();
  replies: StaticArray<LocalReply> = new StaticArray<LocalReply>(0);   // per fault: its abort
  queue: DelayQueue = new DelayQueue();
  tickMs: u32 = 0;            // the period last set (0: no timer)
  mDelay: u32 = NO_METRIC;    // tandem_faults_total{policy, kind}
  mAbort: u32 = NO_METRIC;

  onConfigure(size: u32): bool {
    // "{vault://env/..}" secrets resolved (./secret-refs.ts)
    const text = resolvedConfiguration(size, configRejections, CONFIG_REJECTED);
    if (text === null) return false;
    const res = configureFaults(text);
    const s = res.settings;
    if (s === null) return configRejections.refuse(CONFIG_REJECTED, res.error);
    counters.define();
    this.mDelay = define(METRIC_COUNTER, FAULTS_TOTAL, [L_POLICY, L_KIND], [s.policy, FAULT_KINDS[0]]);
    this.mAbort = define(METRIC_COUNTER, FAULTS_TOTAL, [L_POLICY, L_KIND], [s.policy, FAULT_KINDS[1]]);
    // Streams delayed under the previous configuration keep their due time and fault
    // index into... the new runtime's counts start at 0: they resume, uncounted.
    const rt = new FaultRuntime(s);
    // The same text gives the same names in every worker VM.
    rt.gate = new SharedDelays(s.faults.length, murmur3_32(changetype<usize>(text), text.length << 1, 0x666c7431));
    this.runtime = rt;
    const replies = new StaticArray<LocalReply>(s.faults.length);
    for (let i = 0; i < s.faults.length; i++) {
      const f = s.faults[i];
      const rp = f.reply;
      const body = rp !== null ? rp.bodyBytes : NO_BODY;
      const reply = new LocalReply(<u32>f.abortStatus, body, false);
      if (rp !== null) {
        if (rp.contentType.length > 0) reply.add(CONTENT_TYPE, rp.contentTypeBytes);
        for (let j = 0; j < rp.headers.length; j++) reply.add(utf8(rp.headers[j].name), utf8(rp.headers[j].value));
      }
      reply.add(ANSWER_NAME, ANSWER_BY_FAULT);
      replies[i] = reply.seal();
    }
    this.replies = replies;
    log(LOG_INFO, "tandem: fault-injection configured (" + s.faults.length.toString() + " faults)");
    return true;
  }

  newStream(id: u32): FilterStream {
    return new FaultStream(id, this);
  }

  delay(d: Delayed, now: f64): void {
    const first = d.dueMs < this.queue.nextDue;
    this.queue.push(d);
    if (first) this.arm(now);
  }

  // Resumes (or aborts) every delayed stream that is due, then re-arms the timer for
  // the next one, or stops it.
  onTick(): void {
    const now = nowMs();
    const q = this.queue;
    while (q.size > 0 && q.nextDue <= now + DUE_SLACK_MS) {
      const d = q.pop();
      if (d.gone) continue;
      d.release();
      if (imports.proxy_set_effective_context(d.streamId) != 0) continue;   // the stream is gone
      if (d.abortStatus > 0) this.abort(d.fault, d.abortStatus);
      else imports.proxy_continue_stream(STREAM_REQUEST);
    }
    this.arm(now);   // the next due stream's time from now, or no timer
  }

  // Envoy re-creates the timer on every set (Wasm::setTickPeriod), so setting the
  // period to "ms until the earliest due stream" fires the tick exactly then.
  private arm(now: f64): void {
    const next = this.queue.nextDue;
    const period: u32 = next == Infinity ? 0 : <u32>max(1, <i32>Math.ceil(next - now - DUE_SLACK_MS));
    if (period != this.tickMs || period > 0) {
      this.tickMs = period;
      imports.proxy_set_tick_period_milliseconds(period);
    }
  }

  abort(fault: i32, status: i32): void {
    const r = unchecked(this.replies[fault]);
    r.status = <u32>status;
    r.send(DETAILS_ABORT, -1);
    counters.add(C_ABORTS);
  }
}

class FaultStream extends FilterStream {
  delayed: Delayed | null = null;

  constructor(id: u32, public root: FaultRoot) { super(id); }

  onRequestHeaders(_n: u32, _eos: bool): u32 {
    const root = this.root;
    const rt = root.runtime;
    if (rt === null) return CONTINUE;
    const s = rt.settings;
    root.facts.begin();
    // The clock is a host call: read before the decision only when a fault has a
    // schedule (the core's `clock`), else only for a delay's due time.
    const now = s.clock ? nowMs() : 0;
    const d = rt.decide(root.facts, now);
    if (d.strip) for (let i = 0; i < s.stripNames.length; i++) removeHeader(REQUEST_HEADERS, unchecked(s.stripNames[i]));
    releaseHeld();
    if (d.fault < 0) return CONTINUE;
    markFault(unchecked(s.faults[d.fault]).scope == SCOPE_UPSTREAM, d.delayMs, d.abortStatus);
    // tandem_faults_total: counted when decided, as the Kong plugin counts them.
    if (d.delayMs >= 0) incrementMetric(root.mDelay, 1);
    if (d.abortStatus > 0) incrementMetric(root.mAbort, 1);
    if (d.delayMs >= 0) {
      // a fault with maxActive: the gate took this delay's place (given back by release)
      const gate = unchecked(s.faults[d.fault]).maxActive > 0 ? rt.gate as SharedDelays : null;
      const t = s.clock ? now : nowMs();
      const w = new Delayed(this.id, t + <f64>d.delayMs, d.fault, d.abortStatus, gate);
      this.delayed = w;
      root.delay(w, t);
      counters.add(C_DELAYS);
      return STOP_ITERATION;
    }
    root.abort(d.fault, d.abortStatus);
    return STOP_ITERATION;
  }

  // The client reset the stream (or it ended) while delayed: release its count now.
  onDone(): void {
    const w = this.delayed;
    if (w === null || w.gone) return;
    w.release();
    counters.add(C_GONE);
  }
}
