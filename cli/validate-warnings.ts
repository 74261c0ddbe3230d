// What `tandem validate` warns about: a valid policy that will not do what its author
// likely wants. One line each, printed as render prints its warnings; the exit code
// stays that of the validation.
//
// Cookie-only stickiness on gRPC (issue 18 item 4): gRPC clients keep no cookies, so
// with only `cookie:` sources every call is a new user (assigned afresh, and tandem
// sends gRPC calls no Set-Cookie: wasm/core/request/grpc.ts). A TrafficPolicy has no
// field saying "this route is gRPC", so the warning goes by what the policy itself says
// about gRPC, and by nothing else:
//   - it configures gRPC outcomes or answers: a `grpcStatuses` (breaker or guard
//     failure classification) or a `grpcStatus` (fallback.respond);
//   - or a match condition on the content-type names gRPC (a rule or fault match on
//     header `content-type` whose literal contains "application/grpc").
// A policy serving gRPC that says neither gets no warning (docs/policy.md "gRPC clients
// and CORS preflights").
import type { PolicyDoc } from "./policy-file";

const DEFAULT_SOURCES = ["cookie:tandem-uid"];
const GRPC_TYPE = "application/grpc";

export function validateWarnings(doc: PolicyDoc): string[] {
  const spec = (doc.spec ?? {}) as Record<string, unknown>;
  const ex = spec.experiment as Record<string, unknown> | undefined;
  if (!ex || typeof ex !== "object") return [];
  const st = ex.stickiness as { sources?: unknown } | undefined | null;
  const sources = Array.isArray(st?.sources) ? (st!.sources as unknown[]) : DEFAULT_SOURCES;
  if (!sources.every((s) => typeof s === "string" && s.startsWith("cookie:"))) return [];
  const why = grpcSign(spec, "");
  if (why === null) return [];
  return [`experiment.stickiness.sources: only cookie sources, but the policy serves gRPC (${why}): gRPC clients keep no cookies, ` +
    `so every call is a new user and may get another variant; add a header: source the clients send as metadata ` +
    `(docs/policy.md, "gRPC clients and CORS preflights")`];
}

// The first place the policy speaks of gRPC, as a field path, or null.
function grpcSign(v: unknown, path: string): string | null {
  if (v === null || typeof v !== "object") return null;
  const entries = Array.isArray(v) ? v.map((x, i) => [`[${i}]`, x] as const) : Object.entries(v as Record<string, unknown>);
  for (const [k, x] of entries) {
    const p = k.startsWith("[") ? path + k : path === "" ? k : `${path}.${k}`;
    if ((k === "grpcStatuses" || k === "grpcStatus") && x !== null && x !== undefined) return `${p} is set`;
    if (k.toLowerCase() === "content-type" && mentionsGrpc(x)) return `${p} matches gRPC`;
    const found = grpcSign(x, p);
    if (found !== null) return found;
  }
  return null;
}

function mentionsGrpc(v: unknown): boolean {
  if (typeof v === "string") return v.toLowerCase().includes(GRPC_TYPE);
  if (v === null || typeof v !== "object") return false;
  return Object.values(v as Record<string, unknown>).some(mentionsGrpc);
}
