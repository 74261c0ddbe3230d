// The playground's demo backends: each answers every request with one JSON line naming
// itself and echoing the headers tandem set on the way in (the variant header, the
// tagging experiments' x-tandem-experiments), so a curl shows what the policy did.
// Two request headers make a backend misbehave on demand, so the metrics of a failing or
// slow variant can be seen (and tested) without a real upstream: x-demo-status answers with
// that status, x-demo-delay-ms waits that long before answering.
import { createServer, type Server } from "node:http";
import { TAGS_HEADER } from "../../core-js/tandem-core";

export interface BackendReply { backend: string; path: string; tandem: Record<string, string> }

export const DEMO_STATUS_HEADER = "x-demo-status";
export const DEMO_DELAY_HEADER = "x-demo-delay-ms";
const MAX_DELAY_MS = 10_000;

// [status, delay ms], or the one-line reason the request's demo headers are refused.
function demo(h: Record<string, string | string[] | undefined>): [number, number] | string {
  const one = (name: string) => { const v = h[name]; return Array.isArray(v) ? v[0] : v; };
  const s = one(DEMO_STATUS_HEADER);
  const d = one(DEMO_DELAY_HEADER);
  if (s !== undefined && !(/^\d{3}$/.test(s) && Number(s) >= 200 && Number(s) <= 599)) return `${DEMO_STATUS_HEADER} must be a status 200-599, got ${JSON.stringify(s)}`;
  if (d !== undefined && !(/^\d{1,5}$/.test(d) && Number(d) <= MAX_DELAY_MS)) return `${DEMO_DELAY_HEADER} must be 0-${MAX_DELAY_MS} (milliseconds), got ${JSON.stringify(d)}`;
  return [s === undefined ? 200 : Number(s), d === undefined ? 0 : Number(d)];
}

export function backend(name: string, port: number, variantHeader: string): Promise<Server> {
  const echoed = [variantHeader, TAGS_HEADER];
  const s = createServer((req, res) => {
    req.resume();
    const tandem: Record<string, string> = {};
    for (const h of echoed) {
      const v = req.headers[h];
      if (v !== undefined) tandem[h] = Array.isArray(v) ? v.join(", ") : v;
    }
    const body: BackendReply = { backend: name, path: req.url ?? "/", tandem };
    const d = demo(req.headers);
    if (typeof d === "string") { res.writeHead(400, { "content-type": "text/plain" }).end(d + "\n"); return; }
    const answer = () => res.writeHead(d[0], { "content-type": "application/json" }).end(JSON.stringify(body) + "\n");
    if (d[1] === 0) answer();
    else {
      const t = setTimeout(answer, d[1]);
      res.once("close", () => clearTimeout(t));   // a client that left: no timer outlives it
    }
  });
  return new Promise((ok, fail) => { s.once("error", fail); s.listen(port, "127.0.0.1", () => ok(s)); });
}
