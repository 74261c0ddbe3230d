// Per-request entropy for new sticky ids. The core never reads a random source; the
// adapter passes the request's x-request-id, else the gateway's own request id, else
// (no gateway: the CLI) 16 random bytes as hex.
import { randomFillSync } from "node:crypto";

// Kong's own request id: the nginx variable $kong_request_id (lua-kong-nginx-module,
// Kong >= 3.5): 32 lowercase hex digits from four ngx_random() draws, cached for the
// request. Kong sends it as X-Kong-Request-Id and logs it (kong.log.serialize()
// request.id, error pages). Plugin servers read it with kong.nginx.get_var, one RPC
// (plugin_servers/plugin.lua exposed_api: ngx.var[name]); Kong 3.9 has no
// kong.request.get_id.
export const KONG_REQUEST_ID_VAR = "kong_request_id";

// What get_var gave, as entropy: a Kong before 3.5 has no such variable (nil).
export function requestIdEntropy(id: unknown): string {
  return typeof id === "string" && id.length > 0 ? id : entropyHex();
}

// Drawn from a pool refilled in 4 KiB chunks, so a request costs a slice, not a syscall.
const POOL = Buffer.alloc(4096);
let pos = POOL.length;

export function entropyHex(): string {
  if (pos + 16 > POOL.length) { randomFillSync(POOL); pos = 0; }
  const s = POOL.toString("hex", pos, pos + 16);
  pos += 16;
  return s;
}
