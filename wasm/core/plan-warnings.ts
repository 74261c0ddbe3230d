// What `tandem validate` warns about (the policy plan's `warnings`): a valid policy that
// will not do what its author likely wants. One line each; the policy stays valid.
//
// Cookie-only stickiness on gRPC (docs/policy.md "gRPC clients and CORS preflights"):
// gRPC clients keep no cookies, so with only `cookie:` sources every call is a new user
// (assigned afresh, and tandem sends gRPC calls no Set-Cookie: ./request/grpc.ts). A
// TrafficPolicy has no field saying "this route is gRPC", so the warning goes by what the
// policy itself says about gRPC, and by nothing else:
//   - it configures gRPC outcomes or answers: a `grpcStatuses` (breaker or guard failure
//     classification) or a `grpcStatus` (fallback.respond);
//   - or a match condition on the content-type names gRPC (a rule or fault match on
//     header `content-type` whose literal contains "application/grpc").
// A policy serving gRPC that says neither gets no warning.
import { JType, JValue } from "./json/json";
import { jsonText } from "./json/write";
import { ExperimentSettings, SourceKind } from "./experiment/settings";

const GRPC_TYPE = "application/grpc";
const W_COOKIES_ON_GRPC_HEAD = "experiment.stickiness.sources: only cookie sources, but the policy serves gRPC (";
const W_COOKIES_ON_GRPC_TAIL = "): gRPC clients keep no cookies, so every call is a new user and may get another variant; " +
  "add a header: source the clients send as metadata (docs/policy.md, \"gRPC clients and CORS preflights\")";

function mentionsGrpc(v: JValue): bool {
  if (v.type == JType.Str) return v.s.toLowerCase().includes(GRPC_TYPE);
  const xs = v.type == JType.Arr ? v.items : v.type == JType.Obj ? v.vals : null;
  if (xs === null) return false;
  for (let i = 0; i < xs.length; i++) if (mentionsGrpc(xs[i])) return true;
  return false;
}

// The first place under `v` that speaks of gRPC, as a field path and why; "" none.
function grpcSign(v: JValue, path: string): string {
  const arr = v.type == JType.Arr;
  if (!arr && v.type != JType.Obj) return "";
  const n = arr ? v.items.length : v.keys.length;
  for (let i = 0; i < n; i++) {
    const k = arr ? "" : v.keys[i];
    const x = arr ? v.items[i] : v.vals[i];
    const p = arr ? path + "[" + i.toString() + "]" : path.length == 0 ? k : path + "." + k;
    if (!arr && (k == "grpcStatuses" || k == "grpcStatus") && x.type != JType.Null) return p + " is set";
    if (!arr && k.toLowerCase() == "content-type" && mentionsGrpc(x)) return p + " matches gRPC";
    const found = grpcSign(x, p);
    if (found.length > 0) return found;
  }
  return "";
}

// The warnings of a valid policy, as a JSON array of strings.
export function describeWarnings(spec: JValue, es: ExperimentSettings | null): string {
  if (es === null) return "[]";
  for (let i = 0; i < es.sources.length; i++) if (es.sources[i].kind != SourceKind.Cookie) return "[]";
  const why = grpcSign(spec, "");
  if (why.length == 0) return "[]";
  return "[" + jsonText(W_COOKIES_ON_GRPC_HEAD + why + W_COOKIES_ON_GRPC_TAIL) + "]";
}
