// The playground's demo backends: each answers every request with one JSON line naming
// itself and echoing the headers tandem set on the way in (the variant header, the
// tagging experiments' x-tandem-experiments), so a curl shows what the policy did.
import { createServer, type Server } from "node:http";
import { TAGS_HEADER } from "../../core-js/tandem-core";

export interface BackendReply { backend: string; path: string; tandem: Record<string, string> }

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
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body) + "\n");
  });
  return new Promise((ok, fail) => { s.once("error", fail); s.listen(port, "127.0.0.1", () => ok(s)); });
}
