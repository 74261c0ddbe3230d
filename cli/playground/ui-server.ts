// The page's HTTP server on loopback: the page and its bundled assets (dist/playground:
// index.html, app.js, app.css — built by scripts/build.mjs, no CDN), GET /api/state
// (everything the page draws, as JSON) and POST /api/control (one control; 200 with a
// message, 400 with "<field>: <rule>, got <value>" or the core's refusal of a policy).
import { createServer, type Server } from "node:http";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { distDir } from "../dist-core";
import { BadControl } from "./controls";
import { RefusedPolicy } from "./stack";
import type { Live } from "./live";

const ASSETS: Record<string, [string, string]> = {
  "/": ["index.html", "text/html; charset=utf-8"],
  "/app.js": ["app.js", "text/javascript; charset=utf-8"],
  "/app.css": ["app.css", "text/css; charset=utf-8"],
};
// A control body is a few fields; anything larger is refused unread.
const MAX_BODY = 16 * 1024;

export function uiServer(live: () => Live, port: number): Promise<Server> {
  const dir = join(distDir(), "playground");
  const s = createServer((req, res) => {
    const url = (req.url ?? "/").split("?")[0];
    const send = (status: number, type: string, body: string | Buffer) =>
      res.writeHead(status, { "content-type": type, "cache-control": "no-store" }).end(body);
    const json = (status: number, v: unknown) => send(status, "application/json", JSON.stringify(v));
    if (req.method === "GET" && ASSETS[url]) {
      const [file, type] = ASSETS[url];
      req.resume();
      try { send(200, type, readFileSync(join(dir, file))); } catch { send(500, "text/plain", `the page is not built: run npm run build (${join(dir, file)} missing)\n`); }
      return;
    }
    if (req.method === "GET" && url === "/api/state") { req.resume(); json(200, live().state()); return; }
    if (req.method === "POST" && url === "/api/control") {
      let body = "";
      let size = 0;
      req.setEncoding("utf8");
      req.on("data", (d: string) => { size += d.length; if (size <= MAX_BODY) body += d; });
      req.on("end", () => {
        if (size > MAX_BODY) { json(413, { ok: false, message: `request: must be at most ${MAX_BODY} bytes, got ${size}` }); return; }
        let parsed: unknown;
        try { parsed = JSON.parse(body); } catch { json(400, { ok: false, message: `request: must be JSON, got ${JSON.stringify(body.slice(0, 40))}` }); return; }
        live().control(parsed).then(
          (message) => json(200, { ok: true, message }),
          (e: unknown) => {
            if (e instanceof BadControl || e instanceof RefusedPolicy) json(400, { ok: false, message: e.message });
            else json(500, { ok: false, message: e instanceof Error ? e.message : String(e) });
          });
      });
      return;
    }
    req.resume();
    json(404, { ok: false, message: `no ${req.method} ${url} here: the page is at /, its data at /api/state and /api/control` });
  });
  return new Promise((ok, fail) => { s.once("error", fail); s.listen(port, "127.0.0.1", () => ok(s)); });
}
