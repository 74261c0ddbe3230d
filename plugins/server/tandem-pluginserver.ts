// tandem's plugin-server start command: kong-pdk's own kong-js-pluginserver, run as is,
// except that plugin instance ids never repeat across processes and that events which
// ended without a final Step are forgotten (forgetEndedEvents, below).
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
// "ret" (server.js `step`). Two ways an event ends without such a Step, and each left its
// entry (a PipePair and its queued promises, ~1 KB) for the life of the process:
//  - the handler made no PDK call: HandleEvent itself answers "ret". tandem's experiment
//    plugin does that in the log phase of every request when the policy has no guards
//    and metrics are off (bench soak: its server grew ~1 KB a request, 20 MB per 20,000);
//  - the handler called kong.response.exit / kong.response.error: pdk.js does not wait
//    for an answer, and Kong sends none (the access coroutine is not resumed after exit;
//    the Kong harness: NON_RETURN_METHODS), e.g. every request a breaker rejects.
// Both are forgotten once their last answer is on its way; nothing else changes.
export const NON_RETURN_METHODS = new Set(["kong.response.exit", "kong.response.error"]);

interface EventReply { Data: unknown; EventId: number }
interface PdkServerClass {
  prototype: {
    HandleEvent(this: PdkServer, event: unknown): Promise<EventReply>;
    step(this: PdkServer, data: unknown, isError: boolean): Promise<EventReply>;
  };
}
interface PdkServer { events: Map<number, unknown> }

function ended(r: EventReply): boolean {
  if (r.Data === "ret") return true;
  const call = r.Data as { Method?: unknown } | null;
  return typeof call === "object" && call !== null && NON_RETURN_METHODS.has(call.Method as string);
}

export function forgetEndedEvents(Server: PdkServerClass): void {
  const handle = Server.prototype.HandleEvent;
  const step = Server.prototype.step;
  Server.prototype.HandleEvent = async function (this: PdkServer, event: unknown) {
    const r = await handle.call(this, event);
    if (ended(r)) this.events.delete(r.EventId);
    return r;
  };
  // Step, StepError, StepMultiMap and the typed Step* methods all answer through `step`.
  Server.prototype.step = async function (this: PdkServer, data: unknown, isError: boolean) {
    const r = await step.call(this, data, isError);
    if (ended(r)) this.events.delete(r.EventId);
    return r;
  };
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
  }
  if (serving) exitWithSpawner();
  // kong-pdk's own command line, unchanged: it reads process.argv itself.
  require(path.join(pdk, "bin", "kong-js-pluginserver"));
}

if (require.main === module) main();
