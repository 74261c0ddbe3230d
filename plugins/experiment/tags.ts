// The tagging experiments' request header on Kong (spec.experiments; the core builds
// the value). It is tandem's header: a client's copy never reaches the app, whatever
// the policy. set_header and set_headers replace every copy of a name
// (ngx.req.set_header), clear_header removes them all.
// RPC cost: none in scope with tags (the variant header and the tags go in one
// set_headers call instead of the variant's set_header); one clear_header when the
// client sent the header and no tags replace it.
import { TAGS_HEADER, type ExperimentPlan } from "../../core-js/tandem-core";

// The slice of the PDK used here (kong.service.request.set_headers: one RPC, a map).
interface RequestPDK {
  service: {
    request: {
      setHeader(name: string, value: string): Promise<unknown>;
      setHeaders(headers: Record<string, string>): Promise<unknown>;
      clearHeader(name: string): Promise<unknown>;
    };
  };
}

// In scope: the variant header, and the tags when the policy has tagging experiments.
export async function setDecisionHeaders(kong: RequestPDK, plan: ExperimentPlan, variant: string, tags: string | null, headers: Record<string, unknown>): Promise<void> {
  if (tags !== null) {
    await kong.service.request.setHeaders({ [plan.variantHeader]: variant, [TAGS_HEADER]: tags });
  } else {
    await kong.service.request.setHeader(plan.variantHeader, variant);
    await clearClientTags(kong, headers);
  }
}

// Out of scope (or no tags): no tags the client made up.
export async function clearClientTags(kong: RequestPDK, headers: Record<string, unknown>): Promise<void> {
  if (headers[TAGS_HEADER] !== undefined) await kong.service.request.clearHeader(TAGS_HEADER);
}
