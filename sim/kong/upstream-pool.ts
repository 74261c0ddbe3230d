// Kong's upstream keep-alive pool, one per nginx worker.
//
// Kong.balancer (kong/init.lua, 3.9.3) calls set_current_peer(ip, port, { pool = "ip|port",
// pool_size = upstream_keepalive_pool_size }) and enable_keepalive(idle_timeout,
// max_requests) on every try when upstream_keepalive_pool_size > 0 (kong.conf defaults,
// templates/kong_defaults.lua: 512, 10000, 60 s). The pool is Kong's patch to
// lua-nginx-module (build/openresty/patches/ngx_lua-0.10.26_01-dyn_upstream_keepalive.patch,
// ngx_http_lua_balancer.c), a Lua-registry table of the worker:
// - get_peer takes the head of the pool's cache (the connection cached last) and marks
//   the try `pc->cached`; else it connects afresh. Connections in use are not capped.
// - free_peer caches the connection at the head unless the try failed, the connection
//   saw EOF/error/timeout, it has served max_requests requests (c->requests, counted per
//   request sent on it), the response is not keep-alive (u->keepalive: HTTP/1.1 without
//   "Connection: close", body read to its end) or the request body was not all sent. A
//   full cache (pool_size items) closes its last, least recently used, connection.
// - a cached connection has a timer of idle_timeout, and its read handler
//   (ngx_http_lua_balancer_close_handler) closes it when anything arrives: the upstream's
//   FIN (or stray bytes) removes it from the pool before a request could take it.
// nginx itself ignores the upstream's `Keep-Alive: timeout=` hint and sets no SO_KEEPALIVE
// (proxy_socket_keepalive off), unlike Node's Agent, whose keepSocketAlive is replaced.

import http from 'node:http';
import type net from 'node:net';
import type { Duplex } from 'node:stream';

export interface UpstreamKeepalive {
  /** upstream_keepalive_pool_size: idle connections cached per pool (ip|port); 0 turns keep-alive off */
  poolSize: number;
  /** upstream_keepalive_max_requests: requests a connection serves before Kong closes it (0 = no limit) */
  maxRequests: number;
  /** upstream_keepalive_idle_timeout in ms (kong.conf has seconds; 0 = no timer) */
  idleTimeoutMs: number;
}

/** templates/kong_defaults.lua (3.9.3) */
export const KONG_UPSTREAM_KEEPALIVE: UpstreamKeepalive = { poolSize: 512, maxRequests: 10_000, idleTimeoutMs: 60_000 };

const requestsOn = new WeakMap<object, number>();
const poolOf = new WeakMap<object, string>();

export class UpstreamPool extends http.Agent {
  constructor(private readonly ka: UpstreamKeepalive) {
    // LIFO: the head of the cache is the connection cached last. No cap on the free list
    // from Node (maxFreeSockets) and no `timeout` option (net would put it on connections
    // in use too): keepSocketAlive applies Kong's pool size and idle timer itself.
    super({ keepAlive: true, scheduling: 'lifo', maxFreeSockets: Number.POSITIVE_INFINITY });
  }

  /** One request sent on the connection (ngx_http_upstream_connect: c->requests++). */
  countRequest(socket: net.Socket) {
    requestsOn.set(socket, (requestsOn.get(socket) ?? 0) + 1);
  }

  createConnection(options: http.ClientRequestArgs, cb?: (err: Error | null, s: Duplex) => void) {
    const s = super.createConnection(options, cb);
    if (s) poolOf.set(s, this.getName(options));
    return s;
  }

  /** free_peer's checks once the response ended (Node has checked u->keepalive's part). */
  keepSocketAlive(socket: Duplex): boolean {
    if (this.ka.poolSize <= 0) return false;
    if (this.ka.maxRequests > 0 && (requestsOn.get(socket) ?? 0) >= this.ka.maxRequests) return false;
    const name = poolOf.get(socket);
    // A full cache closes its least recently used connection (Node's free list is oldest
    // first; a destroyed one leaves it on its 'close').
    const cached = (name === undefined ? undefined : this.freeSockets[name])?.filter((s) => !s.destroyed) ?? [];
    if (cached.length >= this.ka.poolSize) cached[0].destroy();
    const s = socket as net.Socket;
    s.unref(); // an idle pooled connection does not keep the process alive
    s.setTimeout(this.ka.idleTimeoutMs); // the Agent's onTimeout destroys a free socket
    return true;
  }
}
