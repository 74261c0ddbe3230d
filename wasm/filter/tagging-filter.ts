// The tagging experiments' header on Envoy (wasm/core/tagging/tagging.ts decides): every client
// copy removed first (one remove drops them all, see experiment-filter.ts),
// then, in the routing experiment's scope, `x-tandem-experiments: <name>=<variant>; ...`.
// Removed for every policy (tandem's header: an app must never read a client's), one
// host call; the tags cost one more, only for policies with spec.experiments.
import * as imports from "@solo-io/proxy-runtime/assembly/imports";
import { utf8 } from "../core/text/bytes";
import { ExperimentDecision, ExperimentRuntime } from "../core/experiment/experiment";
import { TAGS_HEADER, TaggingRuntime } from "../core/tagging/tagging";
import { REQUEST_HEADERS, removeHeader } from "./host";

const TAGS = utf8(TAGS_HEADER);

// The tags' length (0: none, -1: no tagging experiments), decided before the filter
// changes any request header: tag rules read the client's request, as on Kong and in
// the core (a rule on the variant header or on x-tandem-experiments itself would
// otherwise see the filter's own writes). Before the host buffers the key may point
// into are released.
export function decideTags(t: TaggingRuntime | null, rt: ExperimentRuntime, d: ExperimentDecision, nowMs: f64): i32 {
  return t === null ? -1 : t.decide(rt, d, nowMs);
}

// After the routing headers are written: every client copy removed, then the tags.
export function setTags(t: TaggingRuntime | null, n: i32): void {
  removeHeader(REQUEST_HEADERS, TAGS);
  if (t !== null && n > 0) imports.proxy_add_header_map_value(REQUEST_HEADERS, changetype<usize>(TAGS), TAGS.length, changetype<usize>(t.value), n);
}
