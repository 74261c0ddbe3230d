// The page reads the gateways' Prometheus text as a Prometheus would
// (cli/playground/metrics-scrape.ts): tandem_* states and counters, several plugin
// servers' pages added up; a page without tandem_ series reads as no metrics.
import { describe, expect, it } from "vitest";
import { readScrape } from "../../../cli/playground/metrics-scrape";

const experiment = `# HELP tandem_requests_total Requests the experiment decided.
# TYPE tandem_requests_total counter
tandem_requests_total{policy="p",experiment="e",variant="stable",reason="split",code_class="2xx"} 90
tandem_requests_total{policy="p",experiment="e",variant="canary",reason="split",code_class="5xx"} 4
tandem_requests_total{policy="p",experiment="e",variant="canary",reason="split",code_class="2xx"} 6
# TYPE tandem_assignments_total counter
tandem_assignments_total{policy="p",experiment="e",variant="stable",source="header"} 80
tandem_assignments_total{policy="p",experiment="e",variant="canary",source="issued"} 20
# TYPE tandem_guard_state gauge
tandem_guard_state{policy="p",experiment="e",variant="canary"} 1
# TYPE tandem_request_duration_seconds histogram
tandem_request_duration_seconds_bucket{le="0.005",policy="p",experiment="e",variant="stable"} 3
tandem_request_duration_seconds_bucket{le="+Inf",policy="p",experiment="e",variant="stable"} 3
tandem_request_duration_seconds_sum{policy="p",experiment="e",variant="stable"} 0.01
tandem_request_duration_seconds_count{policy="p",experiment="e",variant="stable"} 3
`;
const breaker = `# TYPE tandem_breaker_state gauge
tandem_breaker_state{policy="p",key="stable"} 2
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 1.5
`;

describe("reading the gateways' metrics", () => {
  it("takes states, requests by variant and assignments by source from several pages", () => {
    expect(readScrape([experiment, breaker])).toEqual({
      guards: { canary: 1 },
      breakers: { stable: 2 },
      requests: { stable: 90, canary: 10 },
      assignments: { header: 80, issued: 20 },
    });
  });

  it("a page without tandem_ series is no metrics", () => {
    expect(readScrape(["# TYPE up gauge\nup 1\n"])).toBeNull();
    expect(readScrape([])).toBeNull();
  });
});
