// Trace lines with a WebSocket handshake (issue 18 item 6): a request with Connection:
// Upgrade and Upgrade: websocket, answered {"status": 101, "streamMs": N} (accepted, the
// tunnel lives N ms after the 101) or by any HTTP answer (refused). What cannot be
// replayed the same on every path is refused with one clear line.
import { describe, expect, it } from "vitest";
import { HANDSHAKE_TIMEOUT, HANDSHAKE_TRIES, NOT_A_HANDSHAKE, NO_101_BODY, STREAM_OVERLAP, TraceError, isWebSocketHandshake, parseTrace } from "../../cli/simulate/trace";
import { edgeRefusals, wireHead } from "../../cli/simulate/edge";

const err = (text: string) => {
  try { parseTrace(text, "t.jsonl"); } catch (e) { expect(e).toBeInstanceOf(TraceError); return (e as Error).message; }
  return "";
};
const WS = { connection: "Upgrade", upgrade: "websocket" };

describe("trace: WebSocket handshakes", () => {
  it("reads an accepted handshake (101, the tunnel's life in streamMs) and a refused one", () => {
    const t = parseTrace([
      JSON.stringify({ t: 0, headers: WS, upstream: { status: 101, latencyMs: 20, streamMs: 5000, headers: { "sec-websocket-protocol": "chat" } } }),
      JSON.stringify({ t: 5020, headers: { Connection: "keep-alive, UPGRADE", Upgrade: "WebSocket" }, upstream: { status: 101 } }),
      JSON.stringify({ t: 5020, headers: WS, upstream: { status: 503 } }),
    ].join("\n"));
    expect(t[0].upstream).toMatchObject({ status: 101, latencyMs: 20, streamMs: 5000 });
    expect(t[1].upstream).toMatchObject({ status: 101, latencyMs: 0 });
    expect(t[1].upstream.streamMs).toBeUndefined();
    expect(t[2].upstream.status).toBe(503);
    // a tunnel is a stream: the next line waits for its end
    expect(err([JSON.stringify({ t: 0, headers: WS, upstream: { status: 101, latencyMs: 20, streamMs: 5000 } }), JSON.stringify({ t: 4000 })].join("\n")))
      .toBe(`t.jsonl:2: t: ${STREAM_OVERLAP} (line 1's ends at 5020), got 4000`);
  });

  it("what a handshake is: Connection lists upgrade and Upgrade is websocket, any case", () => {
    expect(isWebSocketHandshake({ connection: "Upgrade", upgrade: "websocket" })).toBe(true);
    expect(isWebSocketHandshake({ connection: ["keep-alive", "upgrade"], upgrade: "WEBSOCKET" })).toBe(true);
    expect(isWebSocketHandshake({ upgrade: "websocket" })).toBe(false);
    expect(isWebSocketHandshake({ connection: "keep-alive", upgrade: "websocket" })).toBe(false);
    expect(isWebSocketHandshake({ connection: "Upgrade", upgrade: "h2c" })).toBe(false);
  });

  it("refuses a 101 that answers no handshake, a 101 with a body, retries and timeouts of a handshake", () => {
    expect(err(JSON.stringify({ t: 0, upstream: { status: 101 } }))).toBe(`t.jsonl:1: upstream.status: ${NOT_A_HANDSHAKE}`);
    expect(err(JSON.stringify({ t: 0, headers: { connection: "Upgrade", upgrade: "h2c" }, upstream: { status: 101 } }))).toBe(`t.jsonl:1: upstream.status: ${NOT_A_HANDSHAKE}`);
    expect(err(JSON.stringify({ t: 0, headers: WS, upstream: { status: 101, body: "x" } }))).toBe(`t.jsonl:1: upstream.body: ${NO_101_BODY}`);
    expect(err(JSON.stringify({ t: 0, headers: WS, upstreams: { "chat-v2": { tries: [{ error: "connect" }, { status: 101 }] } } }))).toBe(`t.jsonl:1: upstreams.chat-v2.tries: ${HANDSHAKE_TRIES}`);
    expect(err(JSON.stringify({ t: 0, upstream: { tries: [{ error: "connect" }, { status: 101 }] } }))).toBe(`t.jsonl:1: upstream.tries[1].status: ${NOT_A_HANDSHAKE}`);
    expect(err(JSON.stringify({ t: 0, headers: WS, upstream: { error: "timeout", latencyMs: 100 } }))).toBe(`t.jsonl:1: upstream.error: ${HANDSHAKE_TIMEOUT}`);
    // the framing of a 101 is the upstream's own
    expect(err(JSON.stringify({ t: 0, headers: WS, upstream: { status: 101, headers: { upgrade: "websocket" } } })))
      .toBe("t.jsonl:1: upstream.headers.upgrade: is the upstream's framing: the scripted upstream sets it from the body it sends");
  });

  it("Envoy (Istio's HCM: websocket only) refuses any other upgrade before its filters: 403; Kong does not", () => {
    const [other] = parseTrace(JSON.stringify({ t: 0, headers: { connection: "Upgrade", upgrade: "h2c" } }));
    expect(edgeRefusals(other)).toEqual({ envoy: 403 });
    const [ws] = parseTrace(JSON.stringify({ t: 0, headers: WS, upstream: { status: 101 } }));
    expect(edgeRefusals(ws)).toBeNull();
    // the trace's Connection replaces Node's Connection: close
    expect(wireHead(ws).headers.filter(([k]) => k.toLowerCase() === "connection")).toEqual([["connection", "Upgrade"]]);
  });
});
