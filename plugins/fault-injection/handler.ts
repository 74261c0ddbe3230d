// Kong plugin `fault-injection`: targeted delays and aborts (spec.faults). Thin: the
// core decides (wasm/core/fault), this file turns Kong facts into core facts and the
// decision into a wait and PDK calls. Runs after `experiment` (800) and
// `circuit-breaker` (790): a fault may target the variant the experiment chose.
// RPC round trips per request (HandleEvent included):
//   every fault off:   1 (HandleEvent) when no fault has a control header: a disabled
//                      fault asks for no facts (wasm/core/fault/config.ts), so nothing
//                      is fetched; with a control header, + get_headers (it is stripped);
//   no fault applies:  1 + get_headers [+ get_path_with_query / get_method / client.get_ip
//                      when a match needs them] = 2 for header-only matches;
//                      + clear_header per control header the client sent (never upstream);
//                      + nginx.get_var (Kong's request id) only when a coin must be tossed
//                      on a request without x-request-id;
//   delayed:           the same; the wait is a timer in the plugin server (no RPC, no
//                      CPU: other requests run meanwhile), inside the access HandleEvent,
//                      so it stays below Kong's plugin-server RPC timeout (60 s; delays
//                      are capped at 30 s by the core);
//   aborted:           + exit, which pdk.js sends without awaiting an answer: 2 round trips;
//   scope: upstream:   + set_serialize_value (the fault, for the breaker's and guards' log).
// maxActive: the delays in flight are counted in the core instance of this plugin
// server process (one per Kong node, shared by its workers).
import type { KongPDK } from "../shared/pdk";
import { getCore } from "../shared/shared";
import { ConfigKeeper } from "../shared/config-keeper";
import { KONG_REQUEST_ID_VAR, requestIdEntropy } from "../../core-js/entropy";
import type { FaultDecision, FaultPlan } from "../../core-js/tandem-core";
import { fetchFacts, planFacts, type FactPlan, type Facts } from "../experiment/facts";
import { faultField, faultTraceOn, writeFaultTrace } from "./trace";
import { FAULT_CARRY_FIELD, type FaultCarry } from "../shared/outcome";

import { ANSWER_FAULT, ANSWER_HEADER, PLUGIN_FAULT as PLUGIN } from "../../wasm/core/metrics/catalog";
import { kongMetrics } from "../shared/metrics";
export { Schema } from "./schema";
export const Version = "0.1.0";
export const Priority = 780;   // after experiment (800) and circuit-breaker (790)

interface Answer { status: number; body: string; headers: Record<string, string> }
interface Configured { plan: FaultPlan; facts: FactPlan; aborts: Answer[]; canon: string; token: string }

type WithVars = KongPDK & { nginx: { getVar(name: string): Promise<unknown> } };
type WithSerialize = KongPDK & { log: { setSerializeValue(key: string, value: unknown): Promise<unknown> } };

const configs = new ConfigKeeper<Configured>((c) => getCore().releaseFaults(c.plan), PLUGIN);

function configure(config: Record<string, unknown>): Configured {
  return configs.fromKong(config, (json, canon, token) => {
    const plan = getCore().configureFaults(json);
    kongMetrics()?.declareFaults(plan.policy);   // at zero, as Envoy defines them at configure
    // Each fault's abort answer, ready to send (a control token may change the status),
    // with the answer header the experiment plugin's log reads for
    // tandem_requests_total's reason (catalog ANSWER_HEADER; part of the exit, no RPC).
    const aborts = plan.faults.map((f) => {
      const headers: Record<string, string> = { ...(f.reply?.headers ?? {}), [ANSWER_HEADER]: ANSWER_FAULT };
      if (f.reply && f.reply.contentType !== "") headers["content-type"] = f.reply.contentType;
      return { status: f.abortStatus ?? 0, body: f.reply?.body ?? "", headers };
    });
    return { plan, facts: planFacts(plan.needs, false), aborts, canon, token };
  });
}

// A timer, not a loop: the plugin server's event loop serves other requests meanwhile.
const sleep = (ms: number) => new Promise<void>((ok) => setTimeout(ok, ms));

// The core's decision; a coin that needs the request id on a request without
// x-request-id: one RPC for Kong's own id, then decide again.
async function decide(kong: KongPDK, plan: FaultPlan, fp: FactPlan, f: Facts): Promise<FaultDecision> {
  const core = getCore();
  const d = core.decideFault(plan, f.values, Date.now());
  if (!d.needsEntropy || fp.entropy < 0) return d;
  f.values[fp.entropy] = requestIdEntropy(await (kong as WithVars).nginx.getVar(KONG_REQUEST_ID_VAR));
  return core.decideFault(plan, f.values, Date.now());
}

export class Plugin {
  private readonly c: Configured;

  constructor(config: Record<string, unknown>) {
    this.c = configure(config);
  }

  async access(kong: KongPDK): Promise<void> {
    const { plan, facts } = this.c;
    const f = await fetchFacts(kong, facts);
    const d = await decide(kong, plan, facts, f);
    if (d.strip) for (const h of plan.strip) if (f.headers[h] !== undefined) await kong.service.request.clearHeader(h);
    if (faultTraceOn()) writeFaultTrace(d.fault < 0 ? null : faultField(d.delayMs, d.abortStatus));
    if (d.fault < 0) return;
    const m = kongMetrics();
    if (m !== null) {
      if (d.delayMs !== null) m.fault(plan.policy, "delay");
      if (d.abortStatus !== null) m.fault(plan.policy, "abort");
    }
    // scope: upstream: the breaker's and the guards' log phase take this fault as the
    // upstream's outcome (../shared/outcome.ts): one RPC, only for such a fault.
    if (plan.faults[d.fault].scope === "upstream") {
      const carry: FaultCarry = { scope: "upstream", delayMs: d.delayMs ?? 0, abortStatus: d.abortStatus ?? 0 };
      await (kong as WithSerialize).log.setSerializeValue(FAULT_CARRY_FIELD, carry);
    }
    if (d.delayMs !== null) {
      const core = getCore();
      core.faultActive(plan, d.fault, 1);
      try {
        await sleep(d.delayMs);
      } finally {
        core.faultActive(plan, d.fault, -1);
      }
    }
    if (d.abortStatus !== null) {
      const a = this.c.aborts[d.fault];
      await kong.response.exit(d.abortStatus, a.body, a.headers);
    }
  }
}
