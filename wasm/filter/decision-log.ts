// The sampled decision log on Envoy (wasm/core/decision-log/; docs/metrics.md "Decision
// log"): the core samples (ExperimentDecision.log, from x-request-id) and builds the
// line; the filter keeps what the line needs from the request headers to on_log and
// writes it with one proxy_log at info (Envoy's wasm logger: "wasm log <root id> ...",
// source/extensions/common/wasm/context.cc Context::log). Host calls: none for a request
// not sampled beyond the id's read the sample itself needs (a percent below 100); a
// sampled one adds the proxy_log, and the reads on_log makes for metrics when those are
// off (docs/metrics.md).
import * as imports from "@solo-io/proxy-runtime/assembly/imports";
import { ExperimentDecision } from "../core/experiment/experiment";
import { ExperimentSettings } from "../core/experiment/settings";
import { buildLine, linePtr, MAX_ID_BYTES } from "../core/decision-log/line";
import { sourceLabelIndex } from "../core/metrics/catalog";
import { LOG_INFO } from "./host";

@final
export class DecisionLogTicket {
  settings: ExperimentSettings;
  variant: i32 = -1;
  reason: i32 = 0;
  source: i32 = 0;
  id: StaticArray<u8> | null = null;   // at most MAX_ID_BYTES + 4: all the line keeps (cut at a character)

  constructor(s: ExperimentSettings) { this.settings = s; }

  // A sampled decision: the request id is read here when sampling did not need it (100%).
  static of(s: ExperimentSettings, d: ExperimentDecision): DecisionLogTicket {
    const t = new DecisionLogTicket(s);
    t.variant = d.variant;
    t.reason = d.reason;
    const ks = d.keySource;
    t.source = <i32>sourceLabelIndex(ks >= 0 ? <i32>unchecked(s.sources[ks]).kind : 0, ks < 0);
    const e = s.needs.get(s.entropySlot);
    if (e.present) {
      const n = min(e.len, MAX_ID_BYTES + 4);
      const id = new StaticArray<u8>(n);
      memory.copy(changetype<usize>(id), e.ptr, n);
      t.id = id;
    }
    return t;
  }
}

export function writeDecisionLine(t: DecisionLogTicket, answeredBy: i32, status: i32, latencyMs: f64): void {
  const id = t.id;
  const n = buildLine(t.settings, t.variant, t.reason, t.source, answeredBy, status, latencyMs,
    id === null ? 0 : changetype<usize>(id), id === null ? -1 : id.length);
  imports.proxy_log(LOG_INFO, linePtr(), n);
}
