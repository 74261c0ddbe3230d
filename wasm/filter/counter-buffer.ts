// Counter deltas held in the VM between ticks, so a request costs no host call for its
// counters: `add` is a store into linear memory; the root context's on_tick (every
// FLUSH_PERIOD_MS while anything is pending) hands each counter that moved to Envoy with
// one proxy_increment_metric, whatever the request rate. Costs: per request, 0 host
// calls; per tick, one host call per counter that moved since the last tick.
//
// Visibility: a count reaches Envoy's stats (and /stats/prometheus) at most one period
// after the request (docs/metrics.md). Deltas of a root context that Envoy shuts down
// (configuration removed or replaced: proxy_on_done on the root) are flushed then; a VM
// that fails (a trap: no more callbacks) loses what it had not flushed.
import * as imports from "@solo-io/proxy-runtime/assembly/imports";
import { NO_METRIC, incrementMetric } from "./host";

// Milliseconds between flushes: well under a Prometheus scrape interval (15 s typical),
// and 1 host call per moved counter per second per worker VM.
export const FLUSH_PERIOD_MS: u32 = 1000;

export class CounterBuffer {
  // slot -> Envoy metric id (NO_METRIC: not defined, counted nowhere)
  readonly ids: StaticArray<u32>;
  private readonly deltas: StaticArray<u64>;
  // slots with a delta, in the order they first moved since the last flush
  private readonly dirty: StaticArray<i32>;
  private dirtyCount: i32 = 0;

  constructor(size: i32) {
    this.ids = new StaticArray<u32>(size);
    this.deltas = new StaticArray<u64>(size);
    this.dirty = new StaticArray<i32>(size);
    for (let i = 0; i < size; i++) unchecked(this.ids[i] = NO_METRIC);
  }

  get pending(): bool { return this.dirtyCount > 0; }

  // One more on counter `slot` (0 <= slot < size, built at configure).
  add(slot: i32): void {
    const d = unchecked(this.deltas[slot]);
    if (d == 0) { unchecked(this.dirty[this.dirtyCount] = slot); this.dirtyCount++; }
    unchecked(this.deltas[slot] = d + 1);
  }

  // Hands every pending delta to Envoy; false when nothing was pending.
  flush(): bool {
    const n = this.dirtyCount;
    for (let i = 0; i < n; i++) {
      const slot = unchecked(this.dirty[i]);
      incrementMetric(unchecked(this.ids[slot]), <i64>unchecked(this.deltas[slot]));
      unchecked(this.deltas[slot] = 0);
    }
    this.dirtyCount = 0;
    return n > 0;
  }
}

// The flush timer of one root context: started by the first count after an idle
// period (one proxy_set_tick_period_milliseconds, from a stream callback: Envoy arms
// the stream's root context's timer, Context::setTickPeriod), kept while ticks find
// counts, stopped by a tick that finds none, so an idle root has no timer.
export class FlushTimer {
  running: bool = false;

  // After a count: make sure a tick will flush it.
  ensure(): void {
    if (this.running) return;
    this.running = true;
    imports.proxy_set_tick_period_milliseconds(FLUSH_PERIOD_MS);
  }

  // In on_tick: `flushed` says whether anything was pending.
  ticked(flushed: bool): void {
    if (flushed || !this.running) return;
    this.running = false;
    imports.proxy_set_tick_period_milliseconds(0);
  }
}
