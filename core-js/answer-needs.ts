// Maps the core's fact needs onto what a Node-side gateway adapter already read
// (Kong plugins, `tandem simulate --via core`): one place, so both answer alike.
import { entropyHex } from "./entropy";
import { ENVOY_INLINE_REQUEST_HEADERS, mergeInlineCopies } from "./envoy-inline-headers";
import { FactKind, type Need } from "./tandem-core";

export interface RequestView {
  headers: Record<string, string | string[] | undefined>;   // lowercase names
  path?: string;
  method?: string;
  ip?: string;
  // The gateway's own id of this request (Kong: $kong_request_id), the entropy of a new
  // sticky id when the request carries no x-request-id. Absent: fresh random bytes
  // (Node-side callers with no gateway); null: not fetched, the adapter asks for it
  // only if the core turns out to need it (plugins/experiment/facts.ts).
  requestId?: string | null;
}

// A repeated header, the way Envoy's filters see it (./envoy-inline-headers.ts): an
// Envoy-inline header's copies merged (empty copies dropped, the rest joined with ","),
// any other header's first copy. Kong returns every copy as an array.
function valueOf(name: string, v: string | string[] | undefined): string | undefined {
  if (!Array.isArray(v)) return v;
  return ENVOY_INLINE_REQUEST_HEADERS.has(name) ? mergeInlineCopies(v) : v[0];
}

export function answerNeeds(needs: ReadonlyArray<Need>, v: RequestView): Array<string | undefined> {
  return needs.map((n) => {
    switch (n.kind) {
      case FactKind.Header: return valueOf(n.name, v.headers[n.name]);
      case FactKind.Host: return valueOf(":authority", v.headers.host);   // Envoy: :authority (inline)
      case FactKind.Path: return v.path;
      case FactKind.Method: return v.method;
      case FactKind.ClientIp: return v.ip;
      // Envoy's entropy is x-request-id (Envoy sets one on every request): the same
      // request gets the same id from both gateways when it carries one.
      case FactKind.Entropy: return valueOf("x-request-id", v.headers["x-request-id"]) ?? (v.requestId === undefined ? entropyHex() : v.requestId ?? undefined);
    }
  });
}
