// tandem's plugin-server start command: kong-pdk's own kong-js-pluginserver, run as is,
// except that plugin instance ids never repeat across processes.
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
  }
  if (serving) exitWithSpawner();
  // kong-pdk's own command line, unchanged: it reads process.argv itself.
  require(path.join(pdk, "bin", "kong-js-pluginserver"));
}

if (require.main === module) main();
