// Sliding windows of recorded outcomes with running totals (resilience4j's
// FixedSizeSlidingWindowMetrics and SlidingTimeWindowMetrics), sized once at
// configure time. Adding an outcome costs the same whatever the window size:
//   count window: a ring of the last `size` outcomes, 2 bits each (failed, slow);
//                 the outcome that falls out is subtracted from the totals.
//   time window:  a ring of `buckets` buckets, each bucketMs wide, holding counts;
//                 buckets that fall out of the window are subtracted lazily when time
//                 moves (each bucket once per window period; a jump of a whole window
//                 or more resets the totals at once). Unlike resilience4j's, it never
//                 reads a clock: the caller passes the time, and a time before the
//                 newest bucket counts as the newest bucket (the clock did not move).
import { countSteps } from "../text/steps";

export const BIT_FAILED: u32 = 1;
export const BIT_SLOW: u32 = 2;

export abstract class Window {
  calls: u32 = 0;      // outcomes in the window (ignored outcomes never enter)
  failures: u32 = 0;
  slow: u32 = 0;

  // Adds one outcome recorded at `tMs`.
  abstract add(tMs: f64, failed: bool, slow: bool): void;
  // Drops what is older than the window at `tMs` (time windows only).
  abstract advance(tMs: f64): void;
  // Empties the window (the breaker closed at `tMs`).
  abstract clear(tMs: f64): void;
}

@final
export class CountWindow extends Window {
  size: i32;
  head: i32 = 0;                 // next position to write; the oldest outcome when full
  ring: StaticArray<u8>;         // 4 outcomes per byte: outcome i at bits (i & 3) * 2

  constructor(size: i32) {
    super();
    this.size = size;
    this.ring = new StaticArray<u8>((size + 3) >> 2);
  }

  // @ts-ignore: decorator
  @inline get(i: i32): u32 {
    return (<u32>unchecked(this.ring[i >> 2]) >> (<u32>(i & 3) << 1)) & 3;
  }

  // @ts-ignore: decorator
  @inline put(i: i32, bits: u32): void {
    const shift = <u32>(i & 3) << 1;
    const b = <u32>unchecked(this.ring[i >> 2]);
    unchecked(this.ring[i >> 2] = <u8>((b & ~(3 << shift)) | (bits << shift)));
  }

  add(tMs: f64, failed: bool, slow: bool): void {
    const h = this.head;
    if (this.calls == <u32>this.size) {
      const old = this.get(h);
      this.failures -= old & BIT_FAILED;
      this.slow -= old >> 1;
    } else {
      this.calls++;
    }
    const bits = (failed ? BIT_FAILED : 0) | (slow ? BIT_SLOW : 0);
    this.put(h, bits);
    this.head = h + 1 == this.size ? 0 : h + 1;
    if (failed) this.failures++;
    if (slow) this.slow++;
  }

  advance(tMs: f64): void {}

  clear(tMs: f64): void {
    memory.fill(changetype<usize>(this.ring), 0, <usize>this.ring.length);
    this.head = 0;
    this.calls = 0;
    this.failures = 0;
    this.slow = 0;
  }
}

// Per bucket, three u32 counters: calls, failures, slow.
export const BUCKET_FIELDS = 3;

@final
export class TimeWindow extends Window {
  buckets: i32;
  bucketMs: f64;
  headEpoch: f64 = 0;            // floor(t / bucketMs) of the newest bucket
  counts: StaticArray<u32>;      // bucket of epoch e at slot e mod buckets

  constructor(buckets: i32, bucketMs: f64) {
    super();
    this.buckets = buckets;
    this.bucketMs = bucketMs;
    this.counts = new StaticArray<u32>(buckets * BUCKET_FIELDS);
  }

  // @ts-ignore: decorator
  @inline slotOf(epoch: f64): i32 {
    let m = <i32>(epoch % <f64>this.buckets);
    return m < 0 ? m + this.buckets : m;
  }

  advance(tMs: f64): void {
    const e = Math.floor(tMs / this.bucketMs);
    const head = this.headEpoch;
    if (e <= head) return;                      // same bucket, or the clock went back
    if (this.calls != 0) {
      if (e - head >= <f64>this.buckets) {
        this.zero();
      } else {
        const c = this.counts;
        let slot = this.slotOf(head + 1);
        for (let k = <i32>(e - head); k > 0; k--) {
          countSteps(1);
          const o = slot * BUCKET_FIELDS;
          this.calls -= unchecked(c[o]);
          this.failures -= unchecked(c[o + 1]);
          this.slow -= unchecked(c[o + 2]);
          unchecked(c[o] = 0);
          unchecked(c[o + 1] = 0);
          unchecked(c[o + 2] = 0);
          slot = slot + 1 == this.buckets ? 0 : slot + 1;
        }
      }
    }
    this.headEpoch = e;
  }

  add(tMs: f64, failed: bool, slow: bool): void {
    this.advance(tMs);
    const o = this.slotOf(this.headEpoch) * BUCKET_FIELDS;
    const c = this.counts;
    unchecked(c[o] += 1);
    this.calls++;
    if (failed) { unchecked(c[o + 1] += 1); this.failures++; }
    if (slow) { unchecked(c[o + 2] += 1); this.slow++; }
  }

  clear(tMs: f64): void {
    this.zero();
    const e = Math.floor(tMs / this.bucketMs);
    if (e > this.headEpoch) this.headEpoch = e;
  }

  private zero(): void {
    memory.fill(changetype<usize>(this.counts), 0, <usize>this.counts.length << 2);
    this.calls = 0;
    this.failures = 0;
    this.slow = 0;
  }
}
