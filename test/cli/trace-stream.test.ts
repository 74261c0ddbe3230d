// Trace lines with a streamed answer (issue 18 item 6): `streamMs` keeps the response
// open that long after its first byte; lines replay one at a time, so a line arriving
// before an earlier stream ended is refused with one clear line.
import { describe, expect, it } from "vitest";
import { parseTrace, STREAM_OVERLAP, TraceError } from "../../cli/simulate/trace";

const err = (text: string) => {
  try { parseTrace(text, "t.jsonl"); } catch (e) { expect(e).toBeInstanceOf(TraceError); return (e as Error).message; }
  return "";
};

describe("trace: streamMs", () => {
  it("reads a streamed answer, and a later line after the stream's end", () => {
    const t = parseTrace([
      JSON.stringify({ t: 0, headers: { accept: "text/event-stream" }, upstream: { status: 200, latencyMs: 30, streamMs: 5000, headers: { "content-type": "text/event-stream" }, body: "data: 1\n\n" } }),
      JSON.stringify({ t: 5030 }),
    ].join("\n"));
    expect(t[0].upstream).toMatchObject({ status: 200, latencyMs: 30, streamMs: 5000 });
    expect(t[1].upstream.streamMs).toBeUndefined();
  });

  it("refuses a line that arrives while an earlier stream is open, and bad values", () => {
    expect(err([JSON.stringify({ t: 0, upstream: { status: 200, latencyMs: 30, streamMs: 5000 } }), JSON.stringify({ t: 5029 })].join("\n")))
      .toBe(`t.jsonl:2: t: ${STREAM_OVERLAP} (line 1's ends at 5030), got 5029`);
    // per-upstream answers: the longest stream counts
    expect(err([JSON.stringify({ t: 0, upstreams: { a: { status: 200, streamMs: 10 }, b: { status: 200, streamMs: 900 } } }), JSON.stringify({ t: 500 })].join("\n")))
      .toBe(`t.jsonl:2: t: ${STREAM_OVERLAP} (line 1's ends at 900), got 500`);
    expect(err(JSON.stringify({ t: 0, upstream: { status: 200, streamMs: -1 } }))).toBe("t.jsonl:1: upstream.streamMs: must be a non-negative number of ms, got -1");
    expect(err(JSON.stringify({ t: 0, upstream: { error: "reset", streamMs: 5 } }))).toBe("t.jsonl:1: upstream.streamMs: a stream is an HTTP answer, not an error or a gRPC answer");
    expect(err(JSON.stringify({ t: 0, upstream: { grpcStatus: 0, streamMs: 5 } }))).toBe("t.jsonl:1: upstream.streamMs: a stream is an HTTP answer, not an error or a gRPC answer");
  });
});
