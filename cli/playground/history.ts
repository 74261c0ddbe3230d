// The last minutes of what the page shows, one point a second, for both gateways: per
// variant the request rate, success rate and p95 latency, the served split, the
// assignments by source, the canary guards' and breakers' states with their
// transitions. Filled from the load generator's observations (what a client saw) and,
// where a gateway serves them, from its metrics (./metrics-scrape.ts) — the same numbers
// a Prometheus scraping both would have. Nothing here touches a gateway.
import type { Decision, LoadSecond, Source } from "./load-shape";
import type { Scraped } from "./metrics-scrape";

export const KEPT_SECONDS = 300;
// The served split is over the last this many seconds.
export const SPLIT_SECONDS = 10;

export type Gw = "kong" | "envoy";
export const GATEWAYS: Gw[] = ["kong", "envoy"];

/** A state over time: 0 closed / ok, 1 open / rolled back, 2 half-open; null unknown. */
export interface StateTrack { values: Array<number | null>; transitions: Array<{ t: number; from: number; to: number }> }

export interface GatewayHistory {
  rate: Record<string, Array<number | null>>;
  success: Record<string, Array<number | null>>;
  p95: Record<string, Array<number | null>>;
  guards: Record<string, StateTrack>;
  breakers: Record<string, StateTrack>;
  sources: Partial<Record<Source, number>>;
  decisions: Decision[];
  /** where the guard, breaker and split figures come from */
  from: "load generator" | "metrics";
  /** tandem_requests_total by variant, one scrape a second (the last SPLIT_SECONDS + 1) */
  requests: Array<Record<string, number>>;
  /** tandem_assignments_total by source (since the gateway started), null without metrics */
  assignments: Record<string, number> | null;
}

const emptyGateway = (): GatewayHistory => ({ rate: {}, success: {}, p95: {}, guards: {}, breakers: {}, sources: {}, decisions: [], from: "load generator", requests: [], assignments: null });

export class History {
  t: number[] = [];
  gw: Record<Gw, GatewayHistory> = { kong: emptyGateway(), envoy: emptyGateway() };
  /** policy changes: a weight applied, faults switched, another policy loaded */
  marks: Array<{ t: number; label: string }> = [];
  last: LoadSecond | null = null;

  constructor(private guarded: string[]) {}

  /** Another policy: the series start over (its variants may differ). */
  reset(guarded: string[]): void {
    this.guarded = guarded;
    this.t = [];
    this.gw = { kong: emptyGateway(), envoy: emptyGateway() };
    this.last = null;
  }

  mark(label: string): void {
    this.marks.push({ t: Math.floor(Date.now() / 1000), label });
    while (this.marks.length > 0 && this.t.length > 0 && this.marks[0].t < this.t[0]) this.marks.shift();
  }

  private static put(series: Record<string, Array<number | null>>, key: string, len: number, v: number | null) {
    const s = (series[key] ??= new Array<number | null>(len - 1).fill(null));
    s.push(v);
  }

  // `initial`: the state a key had before its first value (a metrics gauge appears at
  // its first transition, so a new key was closed before).
  private static track(tracks: Record<string, StateTrack>, key: string, len: number, t: number, v: number | null, initial: number | null = null) {
    const s = (tracks[key] ??= { values: new Array<number | null>(len - 1).fill(null), transitions: [] });
    let prev: number | null = s.values.length === 0 || s.values.every((x) => x === null) ? initial : null;
    for (let i = s.values.length - 1; i >= 0 && prev === null; i--) prev = s.values[i];
    if (prev !== null && v !== null && prev !== v) s.transitions.push({ t, from: prev, to: v });
    s.values.push(v);
  }

  /** One second from the load generator; `states` are the metrics' guard and breaker states when scraped. */
  push(s: LoadSecond, states?: Partial<Record<Gw, Scraped | null>>): void {
    const t = Math.floor(s.t / 1000);
    this.t.push(t);
    const len = this.t.length;
    for (const g of GATEWAYS) {
      const h = this.gw[g];
      const sec = s[g];
      const names = new Set([...Object.keys(h.rate), ...Object.keys(sec.variants)]);
      for (const v of names) {
        const x = sec.variants[v];
        History.put(h.rate, v, len, x ? x.n : 0);
        History.put(h.success, v, len, x && x.n > 0 ? Math.round((x.ok / x.n) * 1000) / 10 : null);
        History.put(h.p95, v, len, x?.p95 ?? null);
      }
      for (const [k, n] of Object.entries(sec.sources)) h.sources[k as Source] = (h.sources[k as Source] ?? 0) + (n ?? 0);
      h.decisions = s.decisions[g];
      const m = states?.[g];
      if (m) {
        h.from = "metrics";
        // A gauge is set at a transition: a guard never tripped has no series yet (0, ok).
        for (const v of new Set([...this.guarded, ...Object.keys(m.guards)])) History.track(h.guards, v, len, t, m.guards[v] ?? 0, 0);
        for (const [k, v] of Object.entries(m.breakers)) History.track(h.breakers, k, len, t, v, 0);
        h.requests.push(m.requests);
        if (h.requests.length > SPLIT_SECONDS + 1) h.requests.shift();
        h.assignments = m.assignments;
      } else {
        h.requests = [];
        h.assignments = null;
        h.from = "load generator";
        // Observed: a second in which some request was sent elsewhere by a guard means the
        // guard was rolled back (one guarded variant: it; several: not told apart).
        const rolled = (sec.reasons.guard ?? 0) > 0 ? 1 : sec.variants && Object.keys(sec.variants).length > 0 ? 0 : null;
        for (const v of this.guarded) History.track(h.guards, v, len, t, rolled);
      }
      // every series the same length (a key not reported this second is unknown)
      for (const tracks of [h.guards, h.breakers]) for (const tr of Object.values(tracks)) while (tr.values.length < len) tr.values.push(null);
    }
    this.last = s;
    if (this.t.length > KEPT_SECONDS) {
      const cut = this.t.length - KEPT_SECONDS;
      this.t.splice(0, cut);
      for (const g of GATEWAYS) {
        const h = this.gw[g];
        for (const series of [h.rate, h.success, h.p95]) for (const k of Object.keys(series)) series[k].splice(0, cut);
        for (const tracks of [h.guards, h.breakers]) for (const tr of Object.values(tracks)) {
          tr.values.splice(0, cut);
          tr.transitions = tr.transitions.filter((x) => x.t >= this.t[0]);
        }
      }
      this.marks = this.marks.filter((m) => m.t >= this.t[0]);
    }
  }

  /**
   * Served share per variant (percent) over the last SPLIT_SECONDS: from the gateway's
   * tandem_requests_total when scraped (what a Prometheus rate() would say), else from
   * the answers the load generator saw.
   */
  split(g: Gw): Record<string, number> {
    const h = this.gw[g];
    if (h.from === "metrics" && h.requests.length >= 2) {
      const a = h.requests[0];
      const b = h.requests[h.requests.length - 1];
      // A variant that served nothing is left out, as on the load generator's path: Envoy
      // exports a zero series for every variant it defined, Kong none for an unused one.
      const d = Object.fromEntries(Object.keys(b).filter((v) => v !== "other").map((v): [string, number] => [v, Math.max(0, b[v] - (a[v] ?? 0))]).filter(([, n]) => n > 0));
      const total = Object.values(d).reduce((x, y) => x + y, 0);
      if (total > 0) return Object.fromEntries(Object.entries(d).map(([v, n]) => [v, Math.round((n / total) * 1000) / 10]));
    }
    const from = Math.max(0, this.t.length - SPLIT_SECONDS);
    const sums: Record<string, number> = {};
    let total = 0;
    for (const [v, xs] of Object.entries(h.rate)) {
      if (v === "—") continue;
      const n = xs.slice(from).reduce<number>((a, b) => a + (b ?? 0), 0);
      sums[v] = n;
      total += n;
    }
    return Object.fromEntries(Object.entries(sums).map(([v, n]) => [v, total === 0 ? 0 : Math.round((n / total) * 1000) / 10]));
  }
}
