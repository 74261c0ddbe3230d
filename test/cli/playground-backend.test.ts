// The playground's demo backends (cli/playground/backend.ts): they echo what tandem set and,
// on request, answer with another status or later (x-demo-status, x-demo-delay-ms), so a
// failing or slow variant can be shown with curl and measured by the metrics tests.
import { afterAll, describe, expect, it } from "vitest";
import { request } from "node:http";
import type { Server } from "node:http";
import { backend, DEMO_DELAY_HEADER, DEMO_STATUS_HEADER } from "../../cli/playground/backend";

const servers: Server[] = [];
afterAll(() => { for (const s of servers) { s.closeAllConnections(); s.close(); } });

async function start(): Promise<number> {
  const s = await backend("api-v2", 0, "x-tandem-variant");
  servers.push(s);
  return (s.address() as { port: number }).port;
}

function get(port: number, headers: Record<string, string>): Promise<{ status: number; body: string; ms: number }> {
  const t0 = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path: "/p", headers, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (d) => (body += d)).on("end", () =>
        resolve({ status: res.statusCode!, body, ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("playground demo backend", () => {
  it("echoes the variant header with 200 by default", async () => {
    const r = await get(await start(), { "x-tandem-variant": "canary" });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ backend: "api-v2", path: "/p", tandem: { "x-tandem-variant": "canary" } });
  });

  it("x-demo-status answers with that status, same body", async () => {
    const r = await get(await start(), { [DEMO_STATUS_HEADER]: "503", "x-tandem-variant": "canary" });
    expect(r.status).toBe(503);
    expect(JSON.parse(r.body).backend).toBe("api-v2");
  });

  it("x-demo-delay-ms answers no sooner than that", async () => {
    const r = await get(await start(), { [DEMO_DELAY_HEADER]: "120" });
    expect(r.status).toBe(200);
    expect(r.ms).toBeGreaterThanOrEqual(119);   // a lower bound only: timers never fire early
  });

  it("a bad demo header gets 400 and one line naming it", async () => {
    const port = await start();
    for (const [h, v, msg] of [
      [DEMO_STATUS_HEADER, "abc", 'x-demo-status must be a status 200-599, got "abc"'],
      [DEMO_STATUS_HEADER, "99", 'x-demo-status must be a status 200-599, got "99"'],
      [DEMO_DELAY_HEADER, "-1", 'x-demo-delay-ms must be 0-10000 (milliseconds), got "-1"'],
      [DEMO_DELAY_HEADER, "10001", 'x-demo-delay-ms must be 0-10000 (milliseconds), got "10001"'],
    ]) {
      const r = await get(port, { [h]: v });
      expect(r.status).toBe(400);
      expect(r.body).toBe(msg + "\n");
    }
  });
});
