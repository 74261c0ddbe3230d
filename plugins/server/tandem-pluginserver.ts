// tandem's plugin-server start command: kong-pdk's own kong-js-pluginserver, run as is,
// except that plugin instance ids never repeat across processes, that events which
// ended without a final Step, or that Kong abandoned, are forgotten (forgetEndedEvents,
// below), and that its socket listens with a backlog that holds a burst (listenBacklog, below).
//
// Why: one plugin server serves every nginx worker, and each worker keeps the instance
// ids it was given (kong/runloop/plugin_servers/plugin.lua, running_instances) until its
// own "no plugin instance" error or the reset_instances event another worker posts
// (delivered asynchronously). kong-pdk numbers instances from 0 in every process
// (server.js, Server constructor: instanceID = 0; StartInstance: instanceID++), so right
// after Kong respawns a dead server, an id a worker still holds can name the instance
// another worker has just started for ANOTHER route: one request then runs under the
// wrong route's policy. With ids that never repeat, a stale id always gets "no plugin
// instance #N", and Kong starts the right instance again (plugin.lua reset_instance).
//
// Ids: the first instance of a process is max(wall clock in µs, last id used + 1). The
// last id is kept in `<prefix>/<sock-name>.ids` beside the socket (written at each
// StartInstance, a rare event: one small synchronous write), so a clock stepped back
// cannot repeat an id; without the file (first start, read-only prefix) the clock alone
// does: Kong respawns at most once a second, a gap of 10^6 ids. Ids stay below 2^53
// until the year 2255 (µs since 1970 are ~1.8e15 today): exact in Lua's doubles and msgpack.
//
// Usage: the same arguments as kong-js-pluginserver (node tandem-pluginserver.js
// --plugins-directory <dir> -p <prefix> --sock-name <name>); the query command
// (--dump-all-plugins) behaves exactly as kong-js-pluginserver's.
import fs from "node:fs";
import net from "node:net";
import path from "node:path";

// Where kong-pdk is: beside this project (node_modules), or installed globally as the
// Kong image installs it (deploy/kong/Dockerfile). TANDEM_KONG_PDK names it outright.
function kongPdkDir(): string {
  const explicit = process.env.TANDEM_KONG_PDK;
  if (explicit) return explicit;
  const paths = [__dirname, process.cwd(), path.join(path.dirname(process.execPath), "..", "lib", "node_modules"), "/usr/local/lib/node_modules"];
  return path.dirname(require.resolve("kong-pdk/server.js", { paths }));
}

// A flag's value in kong-pdk's own argument syntax (cli.js), or its default there.
function arg(names: string[], fallback: string): string {
  const argv = process.argv;
  for (let i = 2; i < argv.length - 1; i++) if (names.includes(argv[i])) return argv[i + 1];
  return fallback;
}

export const IDS_FILE_SUFFIX = ".ids";

export function firstInstanceId(nowUs: number, lastUsed: number | null): number {
  return Math.max(Math.floor(nowUs), lastUsed === null ? 0 : lastUsed + 1);
}

function readLastUsed(file: string): number | null {
  try {
    const n = Number(fs.readFileSync(file, "utf8").trim());
    return Number.isSafeInteger(n) && n >= 0 ? n : null;
  } catch {
    return null;
  }
}

// Kong starts a plugin server through ngx.pipe (kong/runloop/plugin_servers/process.lua,
// ngx_pipe.spawn), so its stdin is a pipe Kong never writes to. When the process holding
// the other end is gone (nginx crashed, a worker killed), the pipe reads end-of-file: the
// server exits then instead of living on as an orphan with a socket nobody uses (Kong's
// next worker starts a fresh one). Only for a pipe: a server started by hand, by systemd
// or by `docker run` without -i has /dev/null or a terminal there and keeps running.
function exitWithSpawner(): void {
  // (a pipe from ngx.pipe; a socket pair from Node's child_process, the harness's spawner)
  let pipe = false;
  try { const st = fs.fstatSync(0); pipe = st.isFIFO() || st.isSocket(); } catch { /* no stdin at all */ }
  if (!pipe) return;
  process.stdin.on("end", () => process.exit(0));
  process.stdin.on("error", () => process.exit(0));
  process.stdin.resume();
}

// kong-pdk's Server keeps each event's channel in `events` until a Step it answers with
// "ret" (server.js `step`). Three ways an event ends without such a Step, and each left its
// entry (a PipePair and its queued promises, ~1 KB) for the life of the process:
//  - the handler made no PDK call: HandleEvent itself answers "ret". tandem's experiment
//    plugin does that in the log phase of every request when the policy has no guards
//    and metrics are off (bench soak: its server grew ~1 KB a request, 20 MB per 20,000);
//  - the handler called kong.response.exit / kong.response.error: pdk.js does not wait
//    for an answer, and Kong sends none (the access coroutine is not resumed after exit;
//    the Kong harness: NON_RETURN_METHODS), e.g. every request a breaker rejects;
//  - Kong abandoned the event mid-way (abandoned events, below).
// The first two are forgotten once their last answer is on its way; nothing else changes.
export const NON_RETURN_METHODS = new Set(["kong.response.exit", "kong.response.error"]);

// Abandoned events. Kong 3.9 (kong/runloop/plugin_servers/rpc/mp_rpc.lua, the MsgPack
// protocol kong-pdk speaks) makes every RPC its own call: Rpc:call connects (a connection
// from the worker's cosocket pool), sends, reads one answer, puts the connection back. An
// event is only its EventId, a local of bridge_loop. When a call of an event fails there
// (connect refused or timed out, send failed, "no data": the read timed out or the
// connection closed, an error answer), bridge_loop returns the error and handle_event logs
// it (on "no plugin instance" it resets the instance and starts a NEW event); a Lua error
// raised by the PDK method Kong runs for the event (call_pdk_method has no pcall; e.g.
// kong.response.get_status in access) kills the handler (kong/init.lua
// execute_collecting_plugins_iterator: 500 in access). Either way Kong never sends another
// Step for that EventId. Nor is there a signal to the server: the failed call's connection
// is not the event's (after a read timeout mp_rpc calls setkeepalive, and lua-nginx-module
// clears the timed-out flag in ngx_http_lua_socket_read_handler, so the connection usually
// goes back to the pool; it is closed only when the late answer lands there,
// ngx_http_lua_socket_keepalive_close_handler). So the server bounds Kong's turn instead:
// from an answer that is a PDK call to Kong's next Step for that event. A live turn is
// Kong running the PDK method, then connecting and sending the Step; Kong's sockets wait
// at most lua_socket_connect_timeout and lua_socket_send_timeout (60 s each by default;
// Kong's templates, kong/templates/nginx_kong.lua, set neither), and PDK methods that wait
// (database, vault) have their own timeouts of seconds. Ten minutes is five times those
// bounds: an event whose turn lasted longer is abandoned and forgotten. The plugin's own
// turn (from a Step until its answer) is never timed: a handler may work as long as it
// likes. Cost bound: an abandoned event is kept at most ten minutes plus the time until
// the next event starts (the sweep runs as each event starts, no timer).
export const KONG_TURN_LIMIT_MS = 10 * 60_000;

export interface TurnLimit {
  kongTurnLimitMs?: number;
  /** a monotonic clock in ms; real time, not the harness's virtual Date.now / performance.now */
  clockMs?: () => number;
}

const monotonicMs = (): number => Number(process.hrtime.bigint() / 1_000_000n);

interface EventReply { Data: unknown; EventId: number }
interface PdkServerClass {
  prototype: {
    HandleEvent(this: PdkServer, event: unknown): Promise<EventReply>;
    step(this: PdkServer, data: unknown, isError: boolean): Promise<EventReply>;
  };
}
interface PdkServer {
  events: Map<number, unknown>;
  /** EventId -> when Kong's turn began (clockMs); insertion order is that time's order */
  kongTurns?: Map<number, number>;
}

function ended(r: EventReply): boolean {
  if (r.Data === "ret") return true;
  const call = r.Data as { Method?: unknown } | null;
  return typeof call === "object" && call !== null && NON_RETURN_METHODS.has(call.Method as string);
}

export function forgetEndedEvents(Server: PdkServerClass, opts: TurnLimit = {}): void {
  const limitMs = opts.kongTurnLimitMs ?? KONG_TURN_LIMIT_MS;
  const clockMs = opts.clockMs ?? monotonicMs;
  const handle = Server.prototype.HandleEvent;
  const step = Server.prototype.step;
  const turns = (s: PdkServer): Map<number, number> => (s.kongTurns ??= new Map());
  // An answer is out: the event ended, or it is Kong's turn from now.
  function answered(s: PdkServer, r: EventReply): EventReply {
    if (ended(r)) {
      s.events.delete(r.EventId);
      turns(s).delete(r.EventId);
    } else {
      turns(s).set(r.EventId, clockMs());
    }
    return r;
  }
  // Entries are in the order their turns began (each is deleted before it is set again), so
  // the sweep stops at the first turn still under the limit: it costs what it forgets.
  function forgetAbandoned(s: PdkServer): void {
    const now = clockMs();
    for (const [eid, since] of turns(s)) {
      if (now - since <= limitMs) break;
      turns(s).delete(eid);
      s.events.delete(eid);
    }
  }
  Server.prototype.HandleEvent = async function (this: PdkServer, event: unknown) {
    forgetAbandoned(this);
    return answered(this, await handle.call(this, event));
  };
  // Step, StepError, StepMultiMap and the typed Step* methods all answer through `step`.
  Server.prototype.step = async function (this: PdkServer, data: unknown, isError: boolean) {
    const eid = (data as { EventId?: unknown } | null)?.EventId;
    if (typeof eid === "number") turns(this).delete(eid); // the plugin's turn: not timed
    return answered(this, await step.call(this, data, isError));
  };
}

// The socket's listen backlog. kong-pdk listens with Node's default, 511 (listener.js
// serve: server.listen(path)). Kong opens one unix-socket connection per event in flight
// (mp_rpc.lua Rpc:call takes a connection from the worker's cosocket pool and connects a
// new one when none is idle), so a burst of requests while the server's event loop is
// busy, or while many requests are held (a fault's delay holds its access event, and its
// connection, for the whole delay), queues that many connects at once. Beyond the backlog
// a unix-socket connect fails at once with EAGAIN; nginx counts it as a failed connect
// (ngx_event_connect.c ngx_event_connect_peer) and Kong runs the request WITHOUT the
// plugin: no variant, no breaker, no fault. Measured (bench fault-delays, kongServer):
// 1,000 access events delayed at once, arriving 50 per 10 ms, lost 194 to EAGAIN at
// load 32 with 511. 16384 is Kong's own proxy_listen backlog (kong_defaults.lua); the
// kernel caps it at net.core.somaxconn (4096 on current kernels). Cost: none until used
// (the kernel holds a pending connection, a few hundred bytes).
export const PLUGIN_SERVER_BACKLOG = 16384;

/** Make every listen on a socket path without a backlog use `backlog` (kong-pdk's serve). */
export function listenBacklog(backlog = PLUGIN_SERVER_BACKLOG): void {
  const listen = net.Server.prototype.listen as (this: net.Server, ...args: unknown[]) => net.Server;
  net.Server.prototype.listen = function (this: net.Server, ...args: unknown[]) {
    if (typeof args[0] === "string" && (args.length === 1 || typeof args[1] === "function")) {
      return listen.call(this, { path: args[0], backlog }, ...args.slice(1));
    }
    return listen.apply(this, args);
  } as typeof net.Server.prototype.listen;
}

function main(): void {
  const pdk = kongPdkDir();
  const serving = !process.argv.some((a) => /^-?-dump/.test(a));
  if (serving) {
    const prefix = arg(["-p", "--kong-prefix", "-kong-prefix"], "/usr/local/kong");
    const sock = arg(["--sock-name"], "js_pluginserver.sock");
    const idsFile = path.join(prefix, sock + IDS_FILE_SUFFIX);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const Server = require(path.join(pdk, "server.js"));
    const start = Server.prototype.StartInstance;
    let next = -1;
    Server.prototype.StartInstance = async function (this: { instanceID: number }, cfg: unknown) {
      if (next < 0) next = firstInstanceId(Date.now() * 1000, readLastUsed(idsFile));
      this.instanceID = next++;
      try { fs.writeFileSync(idsFile, String(next - 1)); } catch { /* read-only prefix: the clock alone */ }
      return start.call(this, cfg);
    };
    forgetEndedEvents(Server);
    listenBacklog();
  }
  if (serving) exitWithSpawner();
  // kong-pdk's own command line, unchanged: it reads process.argv itself.
  require(path.join(pdk, "bin", "kong-js-pluginserver"));
}

if (require.main === module) main();
