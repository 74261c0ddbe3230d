// Root-context timers on a virtual clock: what `proxy_set_tick_period_milliseconds`
// arms in Envoy (source/extensions/common/wasm/wasm.cc Wasm::setTickPeriod: a
// dispatcher timer per root context, re-created when the period changes, 0 stops it;
// Wasm::tickHandler calls on_tick and re-enables the timer with the period), driven by
// `advance` instead of wall time, so `tandem simulate` and tests replay delays exactly.
import type { RootContext } from './context.js';
import type { WasmVm } from './vm.js';

interface Timer { vm: WasmVm; root: RootContext; period: number; armedAt: number }

export class VirtualTicks {
  private readonly timers = new Map<RootContext, Timer>();

  constructor(private readonly now: () => number, private readonly setNow: (ms: number) => void) {}

  /** HostEnv.onTickPeriod: the root's period changed (set from any of its contexts). */
  arm(vm: WasmVm, root: RootContext): void {
    if (root.tickPeriodMs > 0) this.timers.set(root, { vm, root, period: root.tickPeriodMs, armedAt: this.now() });
    else this.timers.delete(root);
  }

  /**
   * The earliest time a timer fires, Infinity when none is armed; with `of`, only the
   * timers of root contexts it accepts (e.g. one root id's: the timer a delayed stream
   * waits for, while other roots' timers fire on the way).
   */
  nextAt(of?: (root: RootContext) => boolean): number {
    let t = Infinity;
    for (const x of this.timers.values()) if (!of || of(x.root)) t = Math.min(t, x.armedAt + x.period);
    return t;
  }

  /**
   * Moves the clock until every timer armed now has fired once (and any timer due on
   * the way): what a reader sees one tick period after the last request, e.g. a stats
   * scrape after the filters' periodic flushes (Wasm::tickHandler). Nothing armed: the
   * clock stays.
   */
  fireArmed(): void {
    let t = -Infinity;
    for (const x of this.timers.values()) t = Math.max(t, x.armedAt + x.period);
    if (t > -Infinity) this.advance(Math.max(t, this.now()));
  }

  /** Moves the clock to `to`, firing every timer due on the way, in time order. */
  advance(to: number): void {
    for (;;) {
      let next: Timer | null = null;
      for (const x of this.timers.values()) if (!next || x.armedAt + x.period < next.armedAt + next.period) next = x;
      if (!next || next.armedAt + next.period > to) break;
      const at = next.armedAt + next.period;
      this.setNow(at);
      next.vm.tick(next.root);
      // not re-armed (or stopped) during on_tick: the timer runs on with its period
      const cur = this.timers.get(next.root);
      if (cur === next && cur.armedAt < at) cur.armedAt = at;
      if (next.vm.failed || next.root.tickPeriodMs === 0) this.timers.delete(next.root);
    }
    this.setNow(to);
  }
}
