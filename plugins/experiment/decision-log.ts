// The sampled decision log on Kong (wasm/core/decision-log/; docs/metrics.md "Decision
// log"). The core samples (by the request id) and builds the line; this file carries
// what the line needs from access to log and writes it.
//
// Channel: the plugin server's stdout. Kong starts each plugin server with stdout and
// stderr joined (plugin_servers/process.lua pluginserver_timer: ngx_pipe.spawn with
// merge_stderr) and copies every line into its error log, prefixed "[<server>:<pid>] ",
// at level info (process.lua grab_logs: raw_log(ngx.INFO, ...)): no RPC, but shown only
// when Kong's log_level is info or debug (Kong's default, notice, drops them). A
// kong.log.* call instead would be one RPC per line.
//
// RPCs: a sampled request's line needs its outcome, which a plugin server only gets from
// kong.log.serialize() in log, and its decision, handed over in access with
// kong.log.set_serialize_value (merged into the guard's or the metrics' carry when there
// is one). An unsampled request needs neither; its log phase serializes only when
// guards or metrics already make it, or while a sampled request's log phase is still due
// in this plugin server (logAwaited): Kong's log phase carries nothing that tells the
// requests apart before that serialize.
import { KONG_REQUEST_ID_VAR, requestIdEntropy } from "../../core-js/entropy";
import { BreakerError, type ExperimentDecision, type ExperimentPlan } from "../../core-js/tandem-core";
import { ANSWER_HEADER, answeredByMark, sourceLabelIndex } from "../../wasm/core/metrics/catalog";
import type { KongOutcome } from "../shared/outcome";
import type { KongPDK } from "../shared/pdk";
import { getCore } from "../shared/shared";
import { outcomeLedger } from "../shared/dropped";
import type { FactPlan, Facts } from "./facts";

// What the line needs besides the outcome (the handler's carry `log`).
export interface LogCarry { reason: number; source: number; id?: string }

type WithVars = KongPDK & { nginx: { getVar(name: string): Promise<unknown> } };

// Whether the decision log samples this decided request, and its carry (null: not).
// A request without x-request-id at a percent below 100: the core asks for the id
// (D_LOG 2) and Kong's request id is fetched (kong.nginx.get_var, one RPC), as for a
// new user (./facts.ts); with x-request-id, or at 100%, no RPC.
export async function sampleDecision(kong: KongPDK, plan: ExperimentPlan, fp: FactPlan, f: Facts, d: ExperimentDecision): Promise<LogCarry | null> {
  if (d.variant < 0 || d.log === 0) return null;
  const core = getCore();
  let id = fp.entropy >= 0 ? f.values[fp.entropy] : undefined;
  if (d.log === 2) {
    id = requestIdEntropy(await (kong as WithVars).nginx.getVar(KONG_REQUEST_ID_VAR));
    if (!core.logSampled(plan, id)) return null;
  }
  const ks = core.lastKeySource(plan);
  const carry: LogCarry = { reason: d.reason, source: sourceLabelIndex(ks >= 0 ? plan.sourceKinds[ks] : 0, ks < 0) };
  if (id !== undefined) carry.id = id;
  return carry;
}

// Whether this log phase must serialize for the decision log alone: a sampled request's
// carry (an outcome-ledger ticket, ../shared/outcome-ledger.ts) is still out.
export function logAwaited(plan: ExperimentPlan, plugin: string): boolean {
  if (plan.decisionLogBp === 0) return false;
  const l = outcomeLedger(plugin);
  l.sweep(Date.now());
  return l.outstanding > 0;
}

// Who answered (catalog ANSWERED_*), from the answer header tandem's own exits carry
// (the client's response headers in serialize), unless an upstream was tried.
export function answeredByOf(s: Record<string, unknown>): number {
  const response = s.response as { headers?: Record<string, unknown> } | undefined;
  const h = response?.headers?.[ANSWER_HEADER];
  const mark = typeof h === "string" ? h : Array.isArray(h) && typeof h[0] === "string" ? h[0] : null;
  return answeredByMark(mark, Array.isArray(s.tries) && s.tries.length > 0);
}

// The line of a sampled request, from its serialize and outcome, on stdout.
export function writeDecisionLine(plan: ExperimentPlan, variant: number, log: LogCarry, s: Record<string, unknown>, o: KongOutcome): void {
  const status = (s.response as { status?: unknown } | undefined)?.status;
  const latency = o.status > 0 || o.error !== BreakerError.none ? o.latencyMs : -1;
  const rid = (s.request as { id?: unknown } | undefined)?.id;
  const id = log.id ?? (typeof rid === "string" ? rid : null);
  process.stdout.write(getCore().decisionLine(plan, variant, log.reason, log.source, answeredByOf(s), typeof status === "number" ? status : 0, latency, id) + "\n");
}
