// Upstream servers for `simulate --via kong|envoy`: one real HTTP server per upstream
// name on loopback, answering each request as the trace line says. Latency is
// virtual: the server advances the gateway's clock by latencyMs before answering,
// so a trace of hours runs in seconds and timing behaviour stays exact.
import { createServer, ServerResponse, type IncomingMessage, type Server } from "node:http";
import { constants as h2constants, createServer as createH2Server, type Http2ServerRequest } from "node:http2";
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import { createHash } from "node:crypto";
import type { TraceUpstream } from "./trace";
import { tryAnswer } from "./retries";
import { GRPC_CONTENT_TYPE, GRPC_STATUS_HEADER } from "../../wasm/core/contract";
import { dispatchByPreface } from "../../sim/envoy/h2c-listener";

// `upstreams`: answers by upstream name, overriding `upstream` (trace.ts answerOf).
// `headSeen`: resolves once the client got the response head (a stream's clock moves
// only after the gateway passed the head on, so its filters saw it at its own time).
export interface Script { upstream: TraceUpstream; upstreams?: Record<string, TraceUpstream>; advance(ms: number): Promise<void>; headSeen?: Promise<void> }

export class ScriptedUpstreams {
  private readonly servers = new Map<string, TcpServer>();
  private readonly h1 = new Map<string, Server>();
  private readonly connections = new Set<Socket>();
  readonly addrs = new Map<string, { host: string; port: number }>();
  script: Script | null = null;
  // Which try of the current request each upstream is answering (from 0): the gateway
  // driver sets it as each try starts (a trace answer's `tries`, ./retries.ts).
  readonly tryIndex = new Map<string, number>();
  // The port of a socket we opened and closed: connecting to it is refused.
  closedPort = 0;
  private readonly tunnels = new Set<Duplex>();
  // The HTTP version of each request the upstreams got ("1.1", "2.0"), in order: what the
  // gateway spoke upstream.
  readonly versions: string[] = [];

  static async start(names: string[]): Promise<ScriptedUpstreams> {
    const u = new ScriptedUpstreams();
    for (const name of names) {
      // The trace line says what the upstream answers: a large head must reach it
      // (Node's own 16 KB limit would answer 431 instead).
      const h1 = createServer({ maxHeaderSize: 1 << 20 }, (req, res) => void u.answer(name, req, res));
      h1.on("upgrade", (req: IncomingMessage, socket: Duplex) => void u.handshake(name, req, socket));
      // HTTP/2 (h2c with prior knowledge) on the same port, for a gateway that speaks h2 to
      // it (Envoy's gRPC calls: sim/envoy/upstream-h2.ts); the same answers.
      // (Node's compatibility request/response: what answer() uses of them is the same API)
      const h2 = createH2Server({ maxHeaderListPairs: 1 << 16 }, (req, res) => void u.answer(name, req as unknown as IncomingMessage, res as unknown as ServerResponse));
      h2.on("session", (s) => s.on("error", () => s.destroy()));
      const server = createTcpServer((socket) => {
        u.connections.add(socket);
        socket.on("close", () => u.connections.delete(socket));
        dispatchByPreface(socket, (x) => h2.emit("connection", x), (x) => h1.emit("connection", x));
      });
      await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
      u.servers.set(name, server);
      u.h1.set(name, h1);
      u.addrs.set(name, { host: "127.0.0.1", port: (server.address() as AddressInfo).port });
    }
    const probe = createServer();
    await new Promise<void>((ok) => probe.listen(0, "127.0.0.1", ok));
    u.closedPort = (probe.address() as AddressInfo).port;
    await new Promise<void>((ok) => probe.close(() => ok()));
    return u;
  }

  private async answer(name: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    req.resume();
    this.versions.push(req.httpVersion);
    const s = this.script;
    if (!s) { res.writeHead(200, { "content-type": "text/plain" }).end("ok"); return; }
    const u = tryAnswer(s.upstreams?.[name] ?? s.upstream, this.tryIndex.get(name) ?? 0);
    if (u.error === "reset") {
      // HTTP/1.1: the connection goes; HTTP/2: the stream is reset (RST_STREAM), the connection stays
      if (req.httpVersionMajor === 2) (req as unknown as Http2ServerRequest).stream.close(h2constants.NGHTTP2_INTERNAL_ERROR);
      else req.socket.destroy();
      return;
    }
    if (u.error === "timeout") {
      // Never answer: the gateway's upstream timeout fires. Advance virtual time by it.
      await s.advance(u.latencyMs ?? 0);
      return;
    }
    await s.advance(u.latencyMs ?? 0);
    if (u.grpcStatus !== undefined) return grpcAnswer(res, u.grpcStatus, u.trailers === true);
    if (u.streamMs !== undefined) {
      // A stream: the head and the body's first bytes now, the end streamMs later (chunked).
      res.writeHead(u.status ?? 200, { "content-type": "text/plain", ...(u.headers ?? {}) });
      res.write(u.body ?? "ok");
      await s.headSeen;
      await s.advance(u.streamMs);
      res.end();
      return;
    }
    // The trace's headers and body, else text/plain "ok"; Node frames it (content-length).
    res.writeHead(u.status ?? 200, { "content-type": "text/plain", ...(u.headers ?? {}) }).end(u.body ?? "ok");
  }

  // A WebSocket handshake (the gateway sent Connection: upgrade and Upgrade): a 101
  // answer accepts it after latencyMs, with Sec-WebSocket-Accept from the key (RFC 6455
  // 4.2.2), echoes the tunnel's bytes (frames are not parsed) and closes streamMs after
  // the client saw the 101; any other answer is an HTTP answer on that connection.
  private async handshake(name: string, req: IncomingMessage, socket: Duplex): Promise<void> {
    this.tunnels.add(socket);
    socket.on("close", () => this.tunnels.delete(socket));
    socket.on("error", () => socket.destroy());
    const s = this.script;
    const u = s ? tryAnswer(s.upstreams?.[name] ?? s.upstream, this.tryIndex.get(name) ?? 0) : null;
    if (!s || u === null || u.status !== 101 || u.error !== undefined) {
      const res = new ServerResponse(req);
      res.assignSocket(socket as Socket);
      res.shouldKeepAlive = false;
      res.on("finish", () => socket.end());
      return this.answer(name, req, res);
    }
    await s.advance(u.latencyMs ?? 0);
    const key = String(req.headers["sec-websocket-key"] ?? "");
    const accept = createHash("sha1").update(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest("base64");
    const head = ["HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade", `Sec-WebSocket-Accept: ${accept}`];
    for (const [k, v] of Object.entries(u.headers ?? {})) for (const c of Array.isArray(v) ? v : [v]) head.push(`${k}: ${c}`);
    socket.write(head.join("\r\n") + "\r\n\r\n");
    socket.on("data", (d: Buffer) => socket.write(d));
    await s.headSeen;
    await s.advance(u.streamMs ?? 0);
    socket.end();
  }

  async close(): Promise<void> {
    for (const t of this.tunnels) t.destroy();
    for (const c of this.connections) c.destroy();
    await Promise.all([...this.servers.values()].map((s) => new Promise<void>((ok) => s.close(() => ok()))));
  }
}

// A gRPC server's answer: trailers-only (grpc-status in the headers, no body: over HTTP/2
// one HEADERS frame with END_STREAM), or one length-prefixed message and grpc-status in
// the trailers (over HTTP/2 a trailing HEADERS frame; over HTTP/1.1, where a test sends
// gRPC that way, chunked trailer fields).
function grpcAnswer(res: ServerResponse, code: number, trailers: boolean): void {
  if (!trailers) {
    res.writeHead(200, { "content-type": GRPC_CONTENT_TYPE, [GRPC_STATUS_HEADER]: String(code), "content-length": "0" }).end();
    return;
  }
  res.writeHead(200, { "content-type": GRPC_CONTENT_TYPE, trailer: GRPC_STATUS_HEADER });
  res.write(Buffer.from([0, 0, 0, 0, 0]));
  res.addTrailers({ [GRPC_STATUS_HEADER]: String(code) });
  res.end();
}

// Upstream names a policy can send to, plus the gateway's default service.
export const DEFAULT_UPSTREAM = "default";

export function upstreamNames(variants: Array<{ upstream?: string | null }> | undefined): string[] {
  const names = new Set<string>([DEFAULT_UPSTREAM]);
  for (const v of variants ?? []) if (v.upstream) names.add(v.upstream);
  return [...names];
}
