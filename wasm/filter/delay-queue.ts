// Streams a fault delays, ordered by when they resume: a binary min-heap on the due
// time (ms, host clock). push / pop O(log n); the root's tick pops every stream due.
// A stream the client reset while paused is marked `gone` (onDone) and dropped when it
// reaches the top: no search on reset, no resume of a dead stream.
import { SharedDelays } from "./delay-gate";

export class Delayed {
  gone: bool = false;
  // gate: where this delay holds a maxActive place (null: its fault has no maxActive)
  constructor(public streamId: u32, public dueMs: f64, public fault: i32, public abortStatus: i32, public gate: SharedDelays | null) {}

  // The delay is over (resumed, or its stream ended while paused): never resume it, give
  // its place back, once.
  release(): void {
    if (this.gone) return;
    this.gone = true;
    const g = this.gate;
    if (g !== null) g.give(this.fault);
  }
}

export class DelayQueue {
  private heap: Array<Delayed> = new Array<Delayed>(0);

  get size(): i32 { return this.heap.length; }

  // The earliest due time, Infinity when empty.
  get nextDue(): f64 { return this.heap.length > 0 ? unchecked(this.heap[0]).dueMs : Infinity; }

  push(d: Delayed): void {
    const h = this.heap;
    h.push(d);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (unchecked(h[p]).dueMs <= d.dueMs) break;
      unchecked(h[i] = h[p]);
      i = p;
    }
    unchecked(h[i] = d);
  }

  pop(): Delayed {
    const h = this.heap;
    const top = unchecked(h[0]);
    const last = h.pop();
    const n = h.length;
    if (n > 0) {
      let i = 0;
      while (true) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && unchecked(h[r]).dueMs < unchecked(h[l]).dueMs ? r : l;
        if (unchecked(h[c]).dueMs >= last.dueMs) break;
        unchecked(h[i] = h[c]);
        i = c;
      }
      unchecked(h[i] = last);
    }
    return top;
  }
}
