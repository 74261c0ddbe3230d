// Outcomes a plugin waits for and never gets: Kong runs each plugin's log handler in a
// Lua timer and drops it without telling anyone when the worker's timers are full
// (plugin_servers/plugin.lua build_phases: ngx.timer.at's error ignored at
// lua_max_pending_timers; lua-nginx-module skips a timer at lua_max_running_timers). The
// plugin server cannot see Kong's timers, but it sees its own side: an access phase that
// handed its log phase a carry (the breaker's or a guard's admission, the decision for
// metrics) and no log phase bringing it back.
//
// Each such access takes a ticket (a number travelling in the carry it already sets with
// kong.log.set_serialize_value: no extra RPC); its log phase returns it. A ticket still
// out `deadlineMs` after it was taken is counted as dropped (tandem_outcomes_dropped_total).
// "Never" cannot be told from "not yet", so the deadline is a bound on a request's life:
// default 5 minutes, well past Kong's default proxy timeouts (60 s connect/send/read a
// try); TANDEM_OUTCOME_DEADLINE_MS sets it. A request still running past it is counted
// and its late log changes nothing. At most MAX_AWAITED tickets are held (bounded
// memory, ~50 bytes each); past that the oldest counts as dropped at once.
//
// Sweeps are lazy and O(dropped): tickets expire in the order they were taken (one
// deadline for all, the clock never read backwards), so each access, each log and each
// /metrics scrape looks at the oldest only.

export const OUTCOME_DEADLINE_ENV = "TANDEM_OUTCOME_DEADLINE_MS";
export const DEFAULT_OUTCOME_DEADLINE_MS = 300_000;
export const MAX_AWAITED = 65_536;

/** Parses TANDEM_OUTCOME_DEADLINE_MS: ms (1 ms - 1 day), the default when unset, or the one-line error. */
export function outcomeDeadlineMs(value: string | undefined): number | string {
  if (value === undefined || value === "") return DEFAULT_OUTCOME_DEADLINE_MS;
  const n = /^[0-9]{1,9}$/.test(value) ? Number(value) : NaN;
  if (!(n >= 1 && n <= 86_400_000)) {
    return `tandem: ${OUTCOME_DEADLINE_ENV} must be a number of milliseconds (1-86400000), got ${JSON.stringify(value)}: using ${DEFAULT_OUTCOME_DEADLINE_MS}`;
  }
  return n;
}

interface Awaited { dueMs: number; policy: string }

export class OutcomeLedger {
  private readonly awaited = new Map<number, Awaited>();
  // Tickets of a respawned process start elsewhere than the last one's (a random start
  // below 2^30: small integers, exact through Lua, cjson and msgpack), so a late log
  // carrying an old process's ticket is unlikely to return one of this one's.
  private next: number;
  private latestMs = 0;
  /** tickets counted as dropped over the life of the process */
  dropped = 0;

  constructor(
    private readonly deadlineMs: number,
    private readonly onDropped: (policy: string) => void,
    start: number,
    private readonly max = MAX_AWAITED,
  ) {
    this.next = start;
  }

  /** An access phase that hands its log phase a carry: the ticket to put in it. */
  take(policy: string, nowMs: number): number {
    this.sweep(nowMs);
    if (this.awaited.size >= this.max) this.expireOldest();
    const t = this.next++;
    this.awaited.set(t, { dueMs: this.clock(nowMs) + this.deadlineMs, policy });
    return t;
  }

  /** A log phase brought its carry back. Unknown tickets (expired, another process's) are ignored. */
  settle(ticket: unknown, nowMs: number): void {
    if (typeof ticket === "number") this.awaited.delete(ticket);
    this.sweep(nowMs);
  }

  /** Count the tickets whose deadline passed. */
  sweep(nowMs: number): void {
    const now = this.clock(nowMs);
    for (const [, a] of this.awaited) {
      if (a.dueMs > now) return;
      this.expireOldest();
    }
  }

  get outstanding(): number {
    return this.awaited.size;
  }

  private expireOldest(): void {
    const first = this.awaited.entries().next();
    if (first.done) return;
    this.awaited.delete(first.value[0]);
    this.dropped++;
    this.onDropped(first.value[1].policy);
  }

  private clock(nowMs: number): number {
    if (nowMs > this.latestMs) this.latestMs = nowMs;
    return this.latestMs;
  }
}
