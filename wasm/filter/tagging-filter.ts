// The tagging experiments' header on Envoy (wasm/core/tagging.ts decides): every client
// copy removed first (Envoy's replace keeps later duplicates, see experiment-filter.ts),
// then, in the routing experiment's scope, `x-tandem-experiments: <name>=<variant>; ...`.
// Removed for every policy (tandem's header: an app must never read a client's), one
// host call; the tags cost one more, only for policies with spec.experiments.
import * as imports from "@solo-io/proxy-runtime/assembly/imports";
import { utf8 } from "../core/bytes";
import { ExperimentDecision, ExperimentRuntime } from "../core/experiment";
import { TAGS_HEADER, TaggingRuntime } from "../core/tagging";
import { REQUEST_HEADERS, removeHeader } from "./host";

const TAGS = utf8(TAGS_HEADER);

// Before the host buffers the key may point into are released.
export function setTags(t: TaggingRuntime | null, rt: ExperimentRuntime, d: ExperimentDecision, nowMs: f64): void {
  removeHeader(REQUEST_HEADERS, TAGS);
  if (t === null) return;
  const n = t.decide(rt, d, nowMs);
  if (n > 0) imports.proxy_add_header_map_value(REQUEST_HEADERS, changetype<usize>(TAGS), TAGS.length, changetype<usize>(t.value), n);
}
