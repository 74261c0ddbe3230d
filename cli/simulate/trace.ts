// Trace lines for `tandem simulate`: one JSON object a line.
//   {"t": 1200, "method": "GET", "path": "/api/x", "headers": {"cookie": "tandem-uid=u1"},
//    "upstream": {"status": 200, "latencyMs": 12}}        (or "upstream": {"error": "connect"})
// An optional "upstreams" object answers differently per upstream name (the variant's
// `upstream`, or "default"): {"upstreams": {"checkout-v2": {"status": 503}}} makes a
// canary fail while the stable upstream answers "upstream" (canary guards).
// `t` (ms, non-decreasing) is the time the plugins see as now on every path.
// A header value may be a list: the copies of a repeated header, sent in that order
// ({"user-agent": ["", "Bot"]}).
// A gRPC answer: {"grpcStatus": 13} is a trailers-only reply (HTTP 200, grpc-status in
// the headers: what gRPC servers send for an error before any message); with
// "trailers": true the upstream sends a message first and grpc-status in the trailers.
// Send gRPC requests with "headers": {"content-type": "application/grpc"}.
// An answer may carry "headers" (name -> value or list, as request headers) and a text
// "body" (default: content-type text/plain, body "ok"): what the cache fallback stores
// ({"status": 200, "headers": {"cache-control": "max-age=60"}, "body": "{\"items\":[]}"}).
// The framing fields (content-length, transfer-encoding, connection, ...) are the
// upstream server's own and cannot be set.
// A streamed answer (server-sent events, a long download): "streamMs" keeps the response
// open that long after its first byte (the head, and the body's first bytes, come after
// latencyMs; the body ends streamMs later), e.g. {"status": 200, "latencyMs": 30,
// "streamMs": 60000, "headers": {"content-type": "text/event-stream"}, "body": "data: 1\n\n"}.
// Lines replay one at a time: a line may not arrive before an earlier line's stream ended.
// A WebSocket handshake: the request sends "headers": {"connection": "Upgrade", "upgrade":
// "websocket"}; the answer {"status": 101, "latencyMs": 20, "streamMs": 60000} accepts it
// after latencyMs and the tunnel lives streamMs after the 101 (then the upstream closes it;
// the bytes are not modelled). Any other answer refuses the upgrade as an HTTP answer.
// Gateway retries: {"tries": [{"error": "connect"}, {"status": 200, "latencyMs": 12}]} is
// what the upstream does on each try, in order (the last one repeats for any further try);
// the gateway decides how many tries it makes, from the policy's spec.retries
// (cli/simulate/retries.ts). An answer without "tries" is every try's. At most 11 entries:
// the first try and spec.retries' at most 10 retries.
import { readTextFile } from "../read-error";
import { upgradeOf } from "../../sim/envoy/upgrade";

// One header's value, or the copies of a repeated header in the order they are sent.
export type HeaderValue = string | string[];
export type UpstreamError = "connect" | "reset" | "timeout";
export interface TraceUpstream {
  status?: number; latencyMs?: number; error?: UpstreamError; grpcStatus?: number; trailers?: boolean;
  streamMs?: number;   // the response stays open this long after its first byte
  headers?: Record<string, HeaderValue>;   // lowercase names
  body?: string;
  tries?: TraceUpstream[];                 // per try, in order (then nothing else is set)
  priorMs?: number;                        // not a trace field: the time earlier tries and backoffs took (retries.ts resolveTries)
}
export interface TraceRequest {
  line: number;
  t: number;
  method: string;
  path: string;
  headers: Record<string, HeaderValue>;   // lowercase names
  upstream: TraceUpstream;
  upstreams?: Record<string, TraceUpstream>;   // per upstream name, overriding `upstream`
}

// The answer of the upstream named `name` to this request.
export function answerOf(r: TraceRequest, name: string): TraceUpstream {
  return r.upstreams?.[name] ?? r.upstream;
}

export class TraceError extends Error {}

const ERRORS = new Set(["connect", "reset", "timeout"]);
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// The fields a trace line and an upstream answer may have: anything else (`"headerz"`)
// is a mistake that would otherwise run silently as something else (a new user).
const LINE_FIELDS = ["t", "method", "path", "headers", "upstream", "upstreams"];
const UPSTREAM_FIELDS = ["status", "latencyMs", "error", "grpcStatus", "trailers", "headers", "body", "streamMs", "tries"];
export const MAX_TRIES = 11;
// The upstream server frames its answer itself (RFC 9110 7.6.1 connection fields, and
// the length of the body it sends).
const FRAMING = new Set(["content-length", "transfer-encoding", "connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade"]);
// An answer body is text of at most 1 MiB (the cache's largest entry).
export const MAX_TRACE_BODY = 1048576;

// `what: unknown field "x" (expected a, b, c)`, or null when every key is known.
function unknownField(o: object, known: string[]): string | null {
  const bad = Object.keys(o).find((k) => !known.includes(k));
  return bad === undefined ? null : `unknown field ${JSON.stringify(bad)} (expected ${known.join(", ")})`;
}

// A request's method and path as the gateways take them (also explain's --method, --path).
export function badMethod(m: unknown): string | null {
  return typeof m === "string" && TOKEN.test(m) ? null : `must be an HTTP method (a token such as GET), got ${JSON.stringify(m)}`;
}
export function badPath(p: unknown): string | null {
  return typeof p === "string" && p.startsWith("/") && /^[\x21-\x7e]*$/.test(p) ? null : `must start with / and be printable ASCII (percent-encode the rest), got ${JSON.stringify(p)}`;
}

export function parseTrace(text: string, name = "trace"): TraceRequest[] {
  const out: TraceRequest[] = [];
  let lastT = -Infinity;
  let streamEnd = -Infinity;   // when the latest streamed answer ended (lines replay one at a time)
  let streamLine = 0;
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i].trim();
    if (raw === "") continue;
    const where = `${name}:${i + 1}`;
    let o: any;
    try { o = JSON.parse(raw); } catch (e) { throw new TraceError(`${where}: not JSON: ${(e as Error).message}`); }
    if (typeof o !== "object" || o === null || Array.isArray(o)) throw new TraceError(`${where}: must be a JSON object`);
    const unknown = unknownField(o, LINE_FIELDS);
    if (unknown) throw new TraceError(`${where}: ${unknown}`);
    if (typeof o.t !== "number" || !Number.isFinite(o.t) || o.t < 0) throw new TraceError(`${where}: t: must be a non-negative number of ms, got ${JSON.stringify(o.t)}`);
    if (o.t < lastT) throw new TraceError(`${where}: t: must not decrease (previous ${lastT}), got ${o.t}`);
    if (o.t < streamEnd) throw new TraceError(`${where}: t: ${STREAM_OVERLAP} (line ${streamLine}'s ends at ${streamEnd}), got ${o.t}`);
    lastT = o.t;
    const method = o.method ?? "GET";
    const mBad = badMethod(method);
    if (mBad) throw new TraceError(`${where}: method: ${mBad}`);
    const path = o.path ?? "/";
    const pBad = badPath(path);
    if (pBad) throw new TraceError(`${where}: path: ${pBad}`);
    const headers: Record<string, HeaderValue> = {};
    if (o.headers !== undefined) {
      if (typeof o.headers !== "object" || o.headers === null || Array.isArray(o.headers)) throw new TraceError(`${where}: headers: must be an object`);
      for (const [k, v] of Object.entries(o.headers)) {
        if (!TOKEN.test(k)) throw new TraceError(`${where}: headers: bad header name ${JSON.stringify(k)}`);
        const copies = Array.isArray(v) ? v : [v];
        if (copies.length === 0 || copies.some((c) => typeof c !== "string" || /[\r\n\x00]/.test(c))) {
          throw new TraceError(`${where}: headers.${k}: ${BAD_HEADER_VALUE}`);
        }
        headers[k.toLowerCase()] = Array.isArray(v) ? (copies as string[]).slice() : (v as string);
      }
    }
    const upstream = parseUpstream(o.upstream ?? { status: 200 }, `${where}: upstream`);
    const req: TraceRequest = { line: i + 1, t: o.t, method, path, headers, upstream };
    if (o.upstreams !== undefined) {
      if (typeof o.upstreams !== "object" || o.upstreams === null || Array.isArray(o.upstreams)) throw new TraceError(`${where}: upstreams: must be an object of upstream name -> answer`);
      req.upstreams = {};
      for (const [name, u] of Object.entries(o.upstreams)) req.upstreams[name] = parseUpstream(u, `${where}: upstreams.${name}`);
    }
    const ws = isWebSocketHandshake(headers);
    for (const [field, u] of [["upstream", req.upstream] as const, ...Object.entries(req.upstreams ?? {}).map(([n, a]) => [`upstreams.${n}`, a] as const)]) {
      const bad = handshakeAnswerError(u, ws);
      if (bad) throw new TraceError(`${where}: ${field}${bad}`);
    }
    for (const u of [req.upstream, ...Object.values(req.upstreams ?? {})]) {
      if (u.streamMs !== undefined && o.t + (u.latencyMs ?? 0) + u.streamMs > streamEnd) { streamEnd = o.t + (u.latencyMs ?? 0) + u.streamMs; streamLine = i + 1; }
    }
    out.push(req);
  }
  return out;
}

function parseUpstream(u: any, where: string, inTries = false): TraceUpstream {
  if (typeof u !== "object" || u === null || Array.isArray(u)) throw new TraceError(`${where}: must be an object`);
  const unknown = unknownField(u, UPSTREAM_FIELDS);
  if (unknown) throw new TraceError(`${where}: ${unknown}`);
  if (u.tries !== undefined) {
    if (inTries) throw new TraceError(`${where}.tries: ${NESTED_TRIES}`);
    const others = Object.keys(u).filter((k) => k !== "tries");
    if (others.length > 0) throw new TraceError(`${where}.${others[0]}: ${TRIES_ALONE}`);
    if (!Array.isArray(u.tries) || u.tries.length === 0 || u.tries.length > MAX_TRIES) {
      throw new TraceError(`${where}.tries: must be a list of 1-${MAX_TRIES} answers (the first try, then each retry), got ${JSON.stringify(u.tries)}`);
    }
    return { tries: u.tries.map((t: unknown, i: number) => parseUpstream(t, `${where}.tries[${i}]`, true)) };
  }
  if (u.grpcStatus !== undefined) {
    if (u.error !== undefined) throw new TraceError(`${where}.grpcStatus: a gRPC answer has no error (an error is the answer), got both`);
    if (!Number.isInteger(u.grpcStatus) || u.grpcStatus < 0 || u.grpcStatus > 16) throw new TraceError(`${where}.grpcStatus: must be a gRPC status code 0-16, got ${JSON.stringify(u.grpcStatus)}`);
    if (u.status !== undefined && u.status !== 200) throw new TraceError(`${where}.status: a gRPC answer is HTTP 200, got ${JSON.stringify(u.status)}`);
    u = { ...u, status: 200 };
  }
  if (u.trailers !== undefined && (typeof u.trailers !== "boolean" || u.grpcStatus === undefined)) {
    throw new TraceError(`${where}.trailers: must be true or false, with a grpcStatus, got ${JSON.stringify(u.trailers)}`);
  }
  if (u.error !== undefined) {
    if (!ERRORS.has(u.error)) throw new TraceError(`${where}.error: must be connect, reset or timeout, got ${JSON.stringify(u.error)}`);
  } else if (!Number.isInteger(u.status) || u.status < 100 || u.status > 599) {
    throw new TraceError(`${where}.status: must be an HTTP status 100-599, got ${JSON.stringify(u.status)}`);
  }
  if (u.latencyMs !== undefined && (typeof u.latencyMs !== "number" || !Number.isFinite(u.latencyMs) || u.latencyMs < 0)) throw new TraceError(`${where}.latencyMs: must be a non-negative number of ms, got ${JSON.stringify(u.latencyMs)}`);
  const out: TraceUpstream = { status: u.status, latencyMs: u.latencyMs ?? 0, error: u.error };
  if (u.streamMs !== undefined) {
    if (u.error !== undefined || u.grpcStatus !== undefined) throw new TraceError(`${where}.streamMs: a stream is an HTTP answer, not an error or a gRPC answer`);
    if (typeof u.streamMs !== "number" || !Number.isFinite(u.streamMs) || u.streamMs < 0) throw new TraceError(`${where}.streamMs: must be a non-negative number of ms, got ${JSON.stringify(u.streamMs)}`);
    out.streamMs = u.streamMs;
  }
  if (u.grpcStatus !== undefined) { out.grpcStatus = u.grpcStatus; out.trailers = u.trailers === true; }
  if (u.headers !== undefined || u.body !== undefined) {
    if (u.error !== undefined || u.grpcStatus !== undefined) throw new TraceError(`${where}: headers and body belong to an HTTP answer, not to an error or a gRPC answer`);
    if (u.headers !== undefined) out.headers = parseAnswerHeaders(u.headers, `${where}.headers`);
    if (u.body !== undefined) {
      if (typeof u.body !== "string") throw new TraceError(`${where}.body: must be a string, got ${JSON.stringify(u.body)}`);
      if (Buffer.byteLength(u.body, "utf8") > MAX_TRACE_BODY) throw new TraceError(`${where}.body: must be at most ${MAX_TRACE_BODY} bytes (UTF-8), got ${Buffer.byteLength(u.body, "utf8")}`);
      out.body = u.body;
    }
  }
  return out;
}

function parseAnswerHeaders(o: unknown, where: string): Record<string, HeaderValue> {
  if (typeof o !== "object" || o === null || Array.isArray(o)) throw new TraceError(`${where}: must be an object`);
  const out: Record<string, HeaderValue> = {};
  for (const [k, v] of Object.entries(o)) {
    if (!TOKEN.test(k)) throw new TraceError(`${where}: bad header name ${JSON.stringify(k)}`);
    const name = k.toLowerCase();
    if (FRAMING.has(name)) throw new TraceError(`${where}.${k}: ${FRAMING_HEADER}`);
    if (name in out) throw new TraceError(`${where}.${k}: given twice (names ignore case; a list sends copies)`);
    const copies = Array.isArray(v) ? v : [v];
    if (copies.length === 0 || copies.some((c) => typeof c !== "string" || /[\r\n\x00]/.test(c))) throw new TraceError(`${where}.${k}: ${BAD_HEADER_VALUE}`);
    out[name] = Array.isArray(v) ? (copies as string[]).slice() : (v as string);
  }
  return out;
}

// A WebSocket handshake as both gateways take it: Connection lists "upgrade" and Upgrade
// is "websocket", any case (Envoy's Utility::isUpgrade and Istio's upgrade_configs;
// Kong's access.before upstream_upgrade).
export function isWebSocketHandshake(headers: Record<string, HeaderValue>): boolean {
  const pairs: Array<[string, string]> = [];
  for (const [k, v] of Object.entries(headers)) for (const c of Array.isArray(v) ? v : [v]) pairs.push([k, c]);
  return upgradeOf(pairs)?.toLowerCase() === "websocket";
}

// What a handshake's answer may be, and a 101's request: ".field: why", or null.
function handshakeAnswerError(u: TraceUpstream, ws: boolean): string | null {
  if (u.tries !== undefined && ws) return `.tries: ${HANDSHAKE_TRIES}`;
  for (const [i, a] of (u.tries ?? [u]).entries()) {
    const at = u.tries ? `.tries[${i}]` : "";
    if (a.status === 101 && !ws) return `${at}.status: ${NOT_A_HANDSHAKE}`;
    if (a.status === 101 && a.body !== undefined) return `${at}.body: ${NO_101_BODY}`;
    if (ws && a.error === "timeout") return `${at}.error: ${HANDSHAKE_TIMEOUT}`;
  }
  return null;
}

export const NOT_A_HANDSHAKE = 'a 101 answers a WebSocket handshake: the request needs "headers": {"connection": "Upgrade", "upgrade": "websocket"}';
export const NO_101_BODY = "a 101 has no body: the tunnel's bytes are not modelled, streamMs says how long it lives";
export const HANDSHAKE_TRIES = "a WebSocket handshake is one try here: gateway retries of an upgrade are not modelled";
export const HANDSHAKE_TIMEOUT = "a WebSocket handshake has no upstream timeout on Envoy (the router's timer starts when the request ends, which a tunnel's does not), so a timeout cannot be replayed on every path";
export const NESTED_TRIES = "a try is one answer, it has no tries of its own";
export const TRIES_ALONE = "an answer with tries has no other field: each try says what it gets";
export const FRAMING_HEADER = "is the upstream's framing: the scripted upstream sets it from the body it sends";

export function readTrace(path: string): TraceRequest[] {
  const text = readTextFile(path, (why) => new TraceError(`${path}: ${why}`));
  const lines = parseTrace(text, path);
  if (lines.length === 0) throw new TraceError(`${path}: ${EMPTY_TRACE}`);
  return lines;
}

export const BAD_HEADER_VALUE = "must be a string, or a non-empty list of strings (a repeated header's copies), without CR, LF or NUL";
export const EMPTY_TRACE = "no requests: a trace has one JSON object a line";
export const STREAM_OVERLAP = "must not be before an earlier line's stream ended (lines replay one at a time)";

// The request headers every path sees: values as the gateways' HTTP parsers hand them
// to plugins (without leading and trailing spaces and tabs, RFC 9110 OWS), and the same
// Host and request id, so scope matching and generated sticky ids are identical
// whichever gateway runs the trace.
export function normalizedHeaders(r: TraceRequest): Record<string, HeaderValue> {
  const h: Record<string, HeaderValue> = {};
  const trim = (v: string) => v.replace(/^[ \t]+|[ \t]+$/g, "");
  for (const [k, v] of Object.entries(r.headers)) h[k] = Array.isArray(v) ? v.map(trim) : trim(v);
  if (h.host === undefined) h.host = "localhost";
  if (h["x-request-id"] === undefined) h["x-request-id"] = `tandem-sim-${r.line}`;
  return h;
}

// The x-request-id an Istio ingress gateway hands the filter for trace line `line`: Envoy
// replaces the client's id with a UUID of its own on every edge request
// (sim/envoy/request-id.ts), so on the Envoy path a new user's id comes from Envoy, not
// from the client. Envoy's UUIDs are random; the simulation draws this replayable one
// (a version-4 shape), the same on `--via envoy` and `--via core --profile envoy`.
export function envoyRequestId(line: number): string {
  return `00000000-0000-4000-8000-${line.toString(16).padStart(12, "0")}`;
}

// The method as it goes on the wire: Node's HTTP client (the gateway paths' client)
// upper-cases it, so the core model does too.
export function sentMethod(r: TraceRequest): string {
  return r.method.toUpperCase();
}
