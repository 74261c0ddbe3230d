// The gateways' metrics as a Prometheus would read them: once a second each gateway's
// endpoints (Kong: each plugin server's /metrics; Envoy: /stats/prometheus) are fetched
// and parsed (parse-prometheus-text-format), the page's guard, breaker and split
// panels are drawn from them. One scrape a second costs a gateway one request a
// second, whatever the load. A gateway that serves no metrics leaves the page on the
// load generator's observations.
import { request } from "node:http";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import type { Stack } from "./stack";
type Gw = "kong" | "envoy";

export const SCRAPE_MS = 1000;
// A scrape slower than this is dropped (the page keeps the last one).
const SCRAPE_TIMEOUT_MS = 800;

export interface Scraped {
  /** tandem_guard_state by variant: 0 ok, 1 rolled back (2 half-open probing) */
  guards: Record<string, number>;
  /** tandem_breaker_state by key: 0 closed, 1 open, 2 half-open */
  breakers: Record<string, number>;
  /** tandem_requests_total summed by variant */
  requests: Record<string, number>;
  /** tandem_assignments_total summed by source */
  assignments: Record<string, number>;
}

function get(url: string): Promise<string | null> {
  return new Promise((resolve) => {
    const req = request(url, { timeout: SCRAPE_TIMEOUT_MS, agent: false }, (res) => {
      let b = "";
      res.setEncoding("utf8").on("data", (d) => (b += d)).on("end", () => resolve(res.statusCode === 200 ? b : null));
      res.on("error", () => resolve(null));
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(null));
    req.end();
  });
}

/** The tandem_* figures of one or more Prometheus text pages (several plugin servers add up). */
export function readScrape(pages: string[]): Scraped | null {
  const out: Scraped = { guards: {}, breakers: {}, requests: {}, assignments: {} };
  let seen = false;
  for (const text of pages) {
    for (const f of parsePrometheusTextFormat(text)) {
      if (!f.name.startsWith("tandem_")) continue;
      seen = true;
      for (const m of f.metrics) {
        const l = m.labels ?? {};
        const v = Number(m.value);
        if (!Number.isFinite(v)) continue;
        if (f.name === "tandem_guard_state" && l.variant) out.guards[l.variant] = Math.max(out.guards[l.variant] ?? 0, v);
        else if (f.name === "tandem_breaker_state" && l.key) out.breakers[l.key] = Math.max(out.breakers[l.key] ?? 0, v);
        else if (f.name === "tandem_requests_total" && l.variant) out.requests[l.variant] = (out.requests[l.variant] ?? 0) + v;
        else if (f.name === "tandem_assignments_total" && l.source) out.assignments[l.source] = (out.assignments[l.source] ?? 0) + v;
      }
    }
  }
  return seen ? out : null;
}

export class MetricsScraper {
  private readonly last: Record<Gw, Scraped | null> = { kong: null, envoy: null };
  private readonly note: Record<Gw, string> = { kong: "not served", envoy: "not served" };
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly stack: () => Stack) {
    this.timer = setInterval(() => void this.scrape(), SCRAPE_MS);
  }

  private async scrape(): Promise<void> {
    for (const g of ["kong", "envoy"] as const) {
      const urls = this.stack().metricsUrls(g);
      if (urls.length === 0) { this.last[g] = null; this.note[g] = "not served by this gateway"; continue; }
      const pages = (await Promise.all(urls.map(get))).filter((p): p is string => p !== null);
      this.last[g] = pages.length > 0 ? readScrape(pages) : null;
      this.note[g] = this.last[g] ? `scraped ${urls.join(", ")}` : `no tandem_ metrics at ${urls.join(", ")}`;
    }
  }

  /** The last scrape's guard and breaker states per gateway (null: none). */
  states(): Record<Gw, Scraped | null> {
    return { ...this.last };
  }

  status(g: Gw): string {
    return this.note[g];
  }

  close(): void {
    clearInterval(this.timer);
  }
}
