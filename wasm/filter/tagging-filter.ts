// The tagging experiments' header on Envoy (wasm/core/tagging/tagging.ts decides): every client
// copy removed (one remove drops them all, see experiment-filter.ts), and, in the
// routing experiment's scope, `x-tandem-experiments: <name>=<variant>; ...` set: one
// replace does both. Removed for every policy (tandem's header: an app must never read a
// client's): one host call, none when the filter read the whole request map and the
// client sent no copy.
import * as imports from "@solo-io/proxy-runtime/assembly/imports";
import { utf8 } from "../core/text/bytes";
import { ExperimentDecision, ExperimentRuntime } from "../core/experiment/experiment";
import { TAGS_HEADER, TaggingRuntime } from "../core/tagging/tagging";
import { REQUEST_HEADERS, removeHeader } from "./host";

export const TAGS = utf8(TAGS_HEADER);

// The tags' length (0: none, -1: no tagging experiments), decided before the filter
// changes any request header: tag rules read the client's request, as on Kong and in
// the core (a rule on the variant header or on x-tandem-experiments itself would
// otherwise see the filter's own writes). Before the host buffers the key may point
// into are released.
export function decideTags(t: TaggingRuntime | null, rt: ExperimentRuntime, d: ExperimentDecision, nowMs: f64): i32 {
  return t === null ? -1 : t.decide(rt, d, nowMs);
}

// After the routing headers are written: every client copy removed, then the tags, in
// one replace (Envoy's setCopy: remove + addCopy, see experiment-filter.ts) when there
// are tags, else one remove. `clientCopy` false: the filter read the whole request map
// and the client sent none, so without tags there is nothing to remove.
export function setTags(t: TaggingRuntime | null, n: i32, clientCopy: bool): void {
  if (t !== null && n > 0) imports.proxy_replace_header_map_value(REQUEST_HEADERS, changetype<usize>(TAGS), TAGS.length, changetype<usize>(t.value), n);
  else if (clientCopy) removeHeader(REQUEST_HEADERS, TAGS);
}
