// One request through a gateway on loopback, fresh connection each time (no
// keep-alive surprises between trace lines).
import { request } from "node:http";
import { connect, type OutgoingHttpHeaders } from "node:http2";

export interface GatewayReply { status: number; headers: Record<string, string | string[] | undefined> }

// Header values go on the wire as UTF-8 bytes (Node would send chars 0x80-0xff as
// single latin1 bytes and refuse the rest): a byte string per value.
// A list value goes as one header line per copy, in order (node:http OutgoingMessage).
export function wireHeaders(headers: Record<string, string | string[]>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const bytes = (v: string) => /^[\x00-\x7f]*$/.test(v) ? v : Buffer.from(v, "utf8").toString("latin1");
  for (const [k, v] of Object.entries(headers)) out[k] = Array.isArray(v) ? v.map(bytes) : bytes(v);
  return out;
}

// A gRPC call as gRPC clients make it: HTTP/2 (cleartext, prior knowledge), the request
// headers and one empty length-prefixed message (a unary call's request), the stream ended
// after it; a fresh connection each time, as for HTTP/1.1. The reply: the response HEADERS'
// status and headers (a trailers-only reply's grpc-status is among them), once the stream
// ended (after its trailers, if any). `host` becomes :authority; connection-specific
// headers HTTP/2 forbids are not sent.
const H2_FORBIDDEN = new Set(["host", "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"]);
export function sendH2(port: number, method: string, path: string, headers: Record<string, string | string[]>, onHead?: () => void): Promise<GatewayReply> {
  return new Promise((resolve, reject) => {
    const client = connect(`http://127.0.0.1:${port}`);
    const fail = (e: Error) => { client.destroy(); reject(e); };
    client.on("error", fail);
    const wire = wireHeaders(headers);
    const out: OutgoingHttpHeaders = { ":method": method, ":path": path, ":authority": String(wire.host ?? "localhost") };
    for (const [k, v] of Object.entries(wire)) if (!H2_FORBIDDEN.has(k.toLowerCase())) out[k.toLowerCase()] = v;
    const req = client.request(out);
    let status = 0;
    let got: GatewayReply["headers"] = {};
    req.on("response", (h) => {
      status = Number(h[":status"]);
      got = {};
      for (const [k, v] of Object.entries(h)) if (k[0] !== ":") got[k] = v as string | string[];
      onHead?.();
    });
    req.resume();
    // The stream closes after its end, or reset (RST_STREAM): a reset after the head is the
    // answer the client got (as an HTTP/1.1 connection closed mid-body), before it an error.
    req.on("close", () => {
      client.close();
      if (status !== 0) resolve({ status, headers: got });
      else fail(new Error(`stream reset before a response (code ${req.rstCode ?? "none"})`));
    });
    req.on("error", () => {});
    req.end(Buffer.alloc(5));
  });
}

// `onHead`: called when the response head arrived (before its body ends).
export function send(port: number, method: string, path: string, headers: Record<string, string | string[]>, onHead?: () => void): Promise<GatewayReply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method, path, headers: wireHeaders(headers), agent: false }, (res) => {
      onHead?.();
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    // A WebSocket handshake's 101: the head now, the reply when the gateway closes the
    // tunnel (the upstream ends it after the trace's streamMs); the client sends nothing.
    req.on("upgrade", (res, socket) => {
      onHead?.();
      socket.resume();
      socket.on("error", () => {});
      socket.on("close", () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    req.on("error", reject);
    req.end();
  });
}

// tandem's own Set-Cookie among the response's cookies (the upstream may set others).
export function findSetCookie(headers: GatewayReply["headers"], cookieName: string | null): string | null {
  if (!cookieName) return null;
  const all = headers["set-cookie"];
  const list = Array.isArray(all) ? all : all ? [all] : [];
  return list.find((c) => c.startsWith(cookieName + "=")) ?? null;
}

// GET and read the body (the playground's self-check).
export function getBody(port: number, path: string, headers: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, headers, agent: false }, (res) => {
      let b = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (b += d));
      res.on("end", () => resolve(b));
    });
    req.on("error", reject);
    req.end();
  });
}
