// The playground's demo backends: each answers every request with one JSON line naming
// itself and echoing the headers tandem set on the way in (the variant header, the
// tagging experiments' x-tandem-experiments), so a curl shows what the policy did.
// The variant also comes back as a response header, so the page's load generator reads
// it without parsing the body.
// A backend misbehaves on demand, so a failing or slow variant can be seen without a real
// upstream: per request, x-demo-status answers with that status and x-demo-delay-ms waits
// that long; for all its requests, the page's controls (Behaviour: "fail the canary")
// make it answer a share of them 503 and add latency.
import { createServer, type Server } from "node:http";
import { TAGS_HEADER } from "../../core-js/tandem-core";

export interface BackendReply { backend: string; path: string; tandem: Record<string, string> }

export const DEMO_STATUS_HEADER = "x-demo-status";
export const DEMO_DELAY_HEADER = "x-demo-delay-ms";
const MAX_DELAY_MS = 10_000;

/** What a backend does to all its answers; changed live by the page's controls. */
export interface Behaviour {
  /** 0–1: share of requests answered 503, spread evenly (every 1/share-th request), not drawn */
  errorShare: number;
  /** ms added before answering (a timer: no CPU) */
  latencyMs: number;
}

export interface DemoBackend { server: Server; behaviour: Behaviour }

// [status, delay ms] a request asks for (null: none asked), or the one-line reason its
// demo headers are refused.
function demo(h: Record<string, string | string[] | undefined>): [number | null, number | null] | string {
  const one = (name: string) => { const v = h[name]; return Array.isArray(v) ? v[0] : v; };
  const s = one(DEMO_STATUS_HEADER);
  const d = one(DEMO_DELAY_HEADER);
  if (s !== undefined && !(/^\d{3}$/.test(s) && Number(s) >= 200 && Number(s) <= 599)) return `${DEMO_STATUS_HEADER} must be a status 200-599, got ${JSON.stringify(s)}`;
  if (d !== undefined && !(/^\d{1,5}$/.test(d) && Number(d) <= MAX_DELAY_MS)) return `${DEMO_DELAY_HEADER} must be 0-${MAX_DELAY_MS} (milliseconds), got ${JSON.stringify(d)}`;
  return [s === undefined ? null : Number(s), d === undefined ? null : Number(d)];
}

export function backend(name: string, port: number, variantHeader: string): Promise<Server> {
  return demoBackend(name, port, variantHeader).then((b) => b.server);
}

export function demoBackend(name: string, port: number, variantHeader: string): Promise<DemoBackend> {
  const echoed = [variantHeader, TAGS_HEADER];
  const behaviour: Behaviour = { errorShare: 0, latencyMs: 0 };
  // Errors are counted, not drawn: after n requests, floor(n × share) of them failed.
  let served = 0;
  const s = createServer((req, res) => {
    req.resume();
    const tandem: Record<string, string> = {};
    for (const h of echoed) {
      const v = req.headers[h];
      if (v !== undefined) tandem[h] = Array.isArray(v) ? v.join(", ") : v;
    }
    const d = demo(req.headers);
    if (typeof d === "string") { res.writeHead(400, { "content-type": "text/plain" }).end(d + "\n"); return; }
    const fail = Math.floor((served + 1) * behaviour.errorShare) > Math.floor(served * behaviour.errorShare);
    served++;
    const status = d[0] ?? (fail ? 503 : 200);
    const delay = d[1] ?? behaviour.latencyMs;
    const body: BackendReply = { backend: name, path: req.url ?? "/", tandem };
    const answer = () => {
      const head: Record<string, string> = { "content-type": "application/json" };
      if (tandem[variantHeader] !== undefined) head[variantHeader] = tandem[variantHeader];
      res.writeHead(status, head).end(JSON.stringify(body) + "\n");
    };
    if (delay === 0) answer();
    else {
      const t = setTimeout(answer, delay);
      res.once("close", () => clearTimeout(t));   // a client that left: no timer outlives it
    }
  });
  return new Promise((ok, fail) => { s.once("error", fail); s.listen(port, "127.0.0.1", () => ok({ server: s, behaviour })); });
}
