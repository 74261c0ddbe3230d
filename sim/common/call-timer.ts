// The bookkeeping every upstream try of the simulators shares: one outcome, settled once,
// and one timer (the route's or the Service's timeout) that a settled failure, an abort or
// a completed response stops. A timer that fires after a response was settled is the
// caller's "late timeout" (Envoy resets the stream mid-response). Used by the Envoy
// router's HTTP/1 and HTTP/2 tries (sim/envoy/upstream.ts, upstream-h2.ts).

export class CallTimer<T> {
  private timer: NodeJS.Timeout | undefined;
  private done = false;

  constructor(private readonly resolve: (outcome: T) => void) {}

  get settled(): boolean {
    return this.done;
  }

  /** Starts the timer (ms > 0 only); `fire` learns whether an outcome was settled before. */
  arm(ms: number, fire: (settledBefore: boolean) => void): void {
    if (ms > 0) this.timer = setTimeout(() => fire(this.done), ms);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * The first outcome wins; later ones are ignored. `keepTimer`: the timer goes on running
   * (a response whose body the timeout still covers).
   */
  settle(outcome: T, keepTimer: boolean): boolean {
    if (this.done) return false;
    this.done = true;
    if (!keepTimer) this.stop();
    this.resolve(outcome);
    return true;
  }
}
