// `tandem simulate --policy p --trace t [--via core|kong|envoy]`: runs a trace, one
// request at a time, and writes one result line per request.
import type { PolicyDoc } from "../policy-file";
import { cliCore } from "../dist-core";
import { CoreDriver } from "./via-core";
import { TandemMetrics } from "../../core-js/metrics";
import { formatResult, KONG_PROFILE, type GatewayProfile, type SimResult } from "./result";
import type { TraceRequest } from "./trace";

export type Via = "core" | "kong" | "envoy";

export interface Driver {
  run(r: TraceRequest): Promise<SimResult>;
  close(): Promise<void>;
  /** --metrics: the canonical Prometheus text of what the trace recorded (./metrics.ts) */
  metricsText?(): Promise<string>;
  /** --decisions: the decision log's lines the trace produced, in request order (./decisions.ts) */
  decisionLines?(): Promise<string[]>;
}

// `profile`: the gateway `--via core` models (Kong by default, see ./result.ts).
export interface SimulateOptions {
  profile?: GatewayProfile;
  metrics?: boolean;
  /** print the decision log's lines after the results (spec.experiment.decisionLog) */
  decisions?: boolean;
  /** `--via kong`: nginx workers sharing the plugin servers (default 1; every request a fresh connection, so they take turns) */
  kongWorkers?: number;
}

export async function openDriver(via: Via, policy: PolicyDoc, o: SimulateOptions = {}): Promise<Driver> {
  switch (via) {
    case "core": return new CoreDriver(cliCore(), policy, o.profile ?? KONG_PROFILE, o.metrics ? new TandemMetrics() : null);
    case "kong": return (await import("./via-kong")).KongDriver.start(policy, !!o.metrics, o.kongWorkers);
    case "envoy": return (await import("./via-envoy")).EnvoyDriver.start(policy, !!o.metrics);
  }
}

export async function simulate(via: Via, policy: PolicyDoc, trace: TraceRequest[], emit: (line: string) => void, o: SimulateOptions = {}): Promise<SimResult[]> {
  const driver = await openDriver(via, policy, o);
  const results: SimResult[] = [];
  try {
    for (const r of trace) {
      const res = await driver.run(r);
      results.push(res);
      emit(formatResult(res));
    }
    if (o.decisions && driver.decisionLines) for (const l of await driver.decisionLines()) emit(l);
    if (o.metrics && driver.metricsText) emit((await driver.metricsText()).trimEnd());
  } finally {
    await driver.close();
  }
  return results;
}
