// A straightforward JavaScript model of the breaker (issue 4 semantics), written from
// the rules rather than from the core's code: windows are plain arrays of outcomes
// filtered on every use, keys a Map in recency order. The differential test drives it
// and the wasm core with the same random calls and compares every state.
//
// Settings come from the core's description of a parsed config (describeSettings):
// config parsing is tested on its own.
import type { StateName, StateSnapshot } from "./breaker-core";

export interface ModelSettings {
  maxKeys: number;
  window: { type: "count"; size: number } | { type: "time"; sizeMs: number; buckets: number; bucketMs: number };
  effectiveMinimumCalls: number;
  failureRateThreshold: number;
  slowCallDurationMs: number;
  slowCallRateThreshold: number;
  consecutiveFailures: number;
  openDurationMs: number;
  openBackoff: { multiplier: number; maxMs: number };
  halfOpen: { permittedCalls: number; maxWaitMs: number };
  failure: { statuses: string[]; ignoreStatuses: string[]; errors: string[] };
  mode: "enforce" | "dry_run" | "forced_open" | "forced_closed";
}

export interface ModelAdmission { admitted: boolean; permitted: boolean; probe: boolean; generation: number; state: StateName }

interface Entry { epoch: number; failed: boolean; slow: boolean }

class KeyState {
  state: StateName = "CLOSED";
  reason = "none";
  generation: number;
  clockMs = 0;
  sinceMs = 0;
  openUntilMs = 0;
  openMs = 0;
  backoffLevel = 0;
  consecutive = 0;
  entries: Entry[] = [];
  headEpoch = 0;            // time windows: newest bucket seen
  probesIssued = 0;
  probesSeen = 0;
  probeFailures = 0;
  probeSlow = 0;
  probeActivityMs = 0;
  constructor(generation: number) { this.generation = generation; }
}

const ERRORS = ["", "connect", "reset", "timeout"];

export class BreakerModel {
  private keys = new Map<string, KeyState>();   // insertion order = least recent first
  private created = 0;
  evictions = 0;

  constructor(readonly s: ModelSettings) {}

  // ---- classification ----
  classify(status: number, error: number): number {
    const f = this.s.failure;
    if (error !== 0) {
      if (error < 0 || error > 3) return 2;
      return f.errors.includes(ERRORS[error]) ? 1 : 2;
    }
    if (status < 100 || status > 599) return 2;
    const matches = (p: string) => p.endsWith("xx") ? Math.floor(status / 100) === Number(p[0]) : Number(p) === status;
    if (f.ignoreStatuses.some(matches)) return 2;
    if (f.statuses.some(matches)) return 1;
    return 0;
  }

  // ---- keys ----
  private getKey(key: string): KeyState {
    let st = this.keys.get(key);
    if (st) { this.keys.delete(key); this.keys.set(key, st); return st; }
    if (this.keys.size >= this.s.maxKeys) {
      const lru = this.keys.keys().next().value as string;
      this.keys.delete(lru);
      this.evictions++;
    }
    st = new KeyState(((this.created << 16) >>> 0));
    this.created++;
    this.keys.set(key, st);
    return st;
  }

  private findKey(key: string): KeyState | undefined {
    const st = this.keys.get(key);
    if (st) { this.keys.delete(key); this.keys.set(key, st); }
    return st;
  }

  // Marks a key used (the core's decode goes through the table's get).
  touch(key: string): void { this.findKey(key); }

  lru(): string[] { return [...this.keys.keys()].reverse(); }
  has(key: string): boolean { return this.keys.has(key); }
  size(): number { return this.keys.size; }

  // ---- windows ----
  private get bucketMs(): number { return this.s.window.type === "time" ? this.s.window.bucketMs : 0; }

  private live(st: KeyState): Entry[] {
    const w = this.s.window;
    if (w.type === "count") return st.entries.slice(-w.size);
    return st.entries.filter((e) => e.epoch > st.headEpoch - w.buckets);
  }

  private moveHead(st: KeyState, t: number): void {
    if (this.s.window.type === "time") st.headEpoch = Math.max(st.headEpoch, Math.floor(t / this.bucketMs));
  }

  private totals(st: KeyState): { calls: number; failures: number; slow: number } {
    const l = this.live(st);
    return { calls: l.length, failures: l.filter((e) => e.failed).length, slow: l.filter((e) => e.slow).length };
  }

  // ---- transitions ----
  private go(st: KeyState, to: StateName, at: number, reason: string): void {
    if (to === "OPEN") {
      if (st.state === "HALF_OPEN") {
        st.backoffLevel++;
        st.openMs = Math.min(Math.floor(st.openMs * this.s.openBackoff.multiplier), this.s.openBackoff.maxMs);
      } else {
        st.backoffLevel = 0;
        st.openMs = this.s.openDurationMs;
      }
      st.openUntilMs = at + st.openMs;
    } else if (to === "HALF_OPEN") {
      st.probesIssued = st.probesSeen = st.probeFailures = st.probeSlow = 0;
      st.probeActivityMs = at;
    } else {
      st.entries = [];
      this.moveHead(st, at);
      st.backoffLevel = 0;
    }
    st.consecutive = 0;
    st.state = to;
    st.reason = reason;
    st.sinceMs = at;
    st.generation = (st.generation + 1) >>> 0;
  }

  // Transitions due by time t.
  private due(st: KeyState, t: number): boolean {
    let changed = false;
    if (st.state === "OPEN" && t >= st.openUntilMs) { this.go(st, "HALF_OPEN", st.openUntilMs, "open_elapsed"); changed = true; }
    if (st.state === "HALF_OPEN" && st.probesIssued > st.probesSeen && t >= st.probeActivityMs + this.s.halfOpen.maxWaitMs) {
      this.go(st, "OPEN", st.probeActivityMs + this.s.halfOpen.maxWaitMs, "probe_timeout");
      changed = true;
      if (t >= st.openUntilMs) this.go(st, "HALF_OPEN", st.openUntilMs, "open_elapsed");
    }
    return changed;
  }

  private reaches(count: number, total: number, thresholdPercent: number): boolean {
    // count / total >= threshold%, at least one; thresholds have at most 2 decimals
    return count > 0 && count * 10000 >= Math.round(thresholdPercent * 100) * total;
  }

  private forced(): boolean { return this.s.mode === "forced_open" || this.s.mode === "forced_closed"; }

  allow(key: string, nowMs: number): ModelAdmission {
    const st = this.getKey(key);
    if (this.forced()) {
      const yes = this.s.mode === "forced_closed";
      return { admitted: yes, permitted: yes, probe: false, generation: st.generation, state: st.state };
    }
    const t = Math.max(nowMs, st.clockMs);
    let changed = this.due(st, t);
    let permitted = false;
    let probe = false;
    if (st.state === "CLOSED") permitted = true;
    else if (st.state === "HALF_OPEN" && st.probesIssued < this.s.halfOpen.permittedCalls) {
      st.probesIssued++;
      st.probeActivityMs = t;
      permitted = probe = changed = true;
    }
    if (changed) st.clockMs = t;
    return { admitted: permitted || this.s.mode === "dry_run", permitted, probe, generation: st.generation, state: st.state };
  }

  record(key: string, adm: ModelAdmission, status: number, error: number, latencyMs: number, nowMs: number): number {
    const outcome = this.classify(status, error);
    const st = this.findKey(key);
    if (!st) return -1;
    if (this.forced() || !adm.permitted) return outcome;
    const t = Math.max(nowMs, st.clockMs);
    let changed = this.due(st, t);
    const slow = this.s.slowCallDurationMs > 0 && latencyMs >= this.s.slowCallDurationMs;
    if (adm.generation === st.generation) {
      if (st.state === "CLOSED" && outcome !== 2) {
        this.moveHead(st, t);
        st.entries.push({ epoch: st.headEpoch, failed: outcome === 1, slow });
        st.consecutive = outcome === 1 ? st.consecutive + 1 : 0;
        changed = true;
        const { calls, failures, slow: slowCalls } = this.totals(st);
        if (this.s.consecutiveFailures > 0 && st.consecutive >= this.s.consecutiveFailures) this.go(st, "OPEN", t, "consecutive_failures");
        else if (calls >= this.s.effectiveMinimumCalls) {
          if (this.reaches(failures, calls, this.s.failureRateThreshold)) this.go(st, "OPEN", t, "failure_rate");
          else if (this.s.slowCallDurationMs > 0 && this.reaches(slowCalls, calls, this.s.slowCallRateThreshold)) this.go(st, "OPEN", t, "slow_call_rate");
        }
      } else if (st.state === "HALF_OPEN" && adm.probe && st.probesIssued > st.probesSeen) {
        st.probeActivityMs = t;
        changed = true;
        if (outcome === 2) st.probesIssued--;
        else {
          st.probesSeen++;
          if (outcome === 1) st.probeFailures++;
          if (slow) st.probeSlow++;
          const n = this.s.halfOpen.permittedCalls;
          if (this.reaches(st.probeFailures, n, this.s.failureRateThreshold)) this.go(st, "OPEN", t, "probe_failures");
          else if (this.s.slowCallDurationMs > 0 && this.reaches(st.probeSlow, n, this.s.slowCallRateThreshold)) this.go(st, "OPEN", t, "probe_slow_calls");
          else if (st.probesSeen >= n) this.go(st, "CLOSED", t, "probes_passed");
        }
      }
    }
    if (changed) st.clockMs = t;
    return outcome;
  }

  advance(key: string, nowMs: number): number {
    const st = this.keys.get(key);
    if (!st) return -1;
    if (this.forced()) return 0;
    const t = Math.max(nowMs, st.clockMs);
    let changed = this.due(st, t);
    if (st.state === "CLOSED") {
      const before = this.totals(st).calls;
      this.moveHead(st, t);
      if (this.totals(st).calls !== before) changed = true;
    }
    if (changed) st.clockMs = t;
    return changed ? 1 : 0;
  }

  snapshot(key: string): StateSnapshot | null {
    const st = this.keys.get(key);
    if (!st) return null;
    const { calls, failures, slow } = this.totals(st);
    return {
      state: st.state, reason: st.reason, generation: st.generation,
      clockMs: st.clockMs, sinceMs: st.sinceMs, openUntilMs: st.openUntilMs, openMs: st.openMs,
      backoffLevel: st.backoffLevel, consecutive: st.consecutive, calls, failures, slow,
      probesIssued: st.probesIssued, probesSeen: st.probesSeen, probeFailures: st.probeFailures,
      probeSlow: st.probeSlow, probeActivityMs: st.probeActivityMs,
    };
  }
}
