// `tandem simulate --policy p --trace t [--via core|kong|envoy]`: runs a trace, one
// request at a time, and writes one result line per request.
import type { PolicyDoc } from "../policy-file";
import { cliCore } from "../core";
import { CoreDriver } from "./via-core";
import { formatResult, type SimResult } from "./result";
import type { TraceRequest } from "./trace";

export type Via = "core" | "kong" | "envoy";

export interface Driver {
  run(r: TraceRequest): Promise<SimResult>;
  close(): Promise<void>;
}

export async function openDriver(via: Via, policy: PolicyDoc): Promise<Driver> {
  switch (via) {
    case "core": return new CoreDriver(cliCore(), policy);
    case "kong": return (await import("./via-kong")).KongDriver.start(policy);
    case "envoy": return (await import("./via-envoy")).EnvoyDriver.start(policy);
  }
}

export async function simulate(via: Via, policy: PolicyDoc, trace: TraceRequest[], emit: (line: string) => void): Promise<SimResult[]> {
  const driver = await openDriver(via, policy);
  const results: SimResult[] = [];
  try {
    for (const r of trace) {
      const res = await driver.run(r);
      results.push(res);
      emit(formatResult(res));
    }
  } finally {
    await driver.close();
  }
  return results;
}
