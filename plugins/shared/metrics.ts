// Metrics of this plugin server process (one process per tandem plugin on a Kong node):
// recorded in memory from what the plugin already has, served as Prometheus text on
// GET /metrics when TANDEM_METRICS_PORT is set (off by default). Each plugin server
// needs its own port (deploy/kong/pluginserver.env sets one per start command). Binds
// 127.0.0.1 unless TANDEM_METRICS_HOST names another address (e.g. 0.0.0.0 for a
// Prometheus outside the pod). A bad value or a busy port: one line on stderr, metrics
// stay off, the plugin keeps working.
import http from "node:http";
import { TandemMetrics } from "../../core-js/metrics";

export const METRICS_PORT_ENV = "TANDEM_METRICS_PORT";
export const METRICS_HOST_ENV = "TANDEM_METRICS_HOST";
export const METRICS_PATH = "/metrics";
const DEFAULT_HOST = "127.0.0.1";
// prom-client's exposition format (text 0.0.4).
const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

// The line a started server prints (Kong copies plugin-server output to its error log;
// the Kong simulator reads the address from it).
export const METRICS_ON = "tandem: metrics on ";
// The plugin server's query commands load the plugins too: no server there.
const QUERY_FLAGS = ["--dump-all-plugins", "--dump-plugin-info"];

let state: { metrics: TandemMetrics | null } | null = null;

/** Parses TANDEM_METRICS_PORT: a port number (0: any free port), null when unset, or the one-line error. */
export function metricsPort(value: string | undefined): number | null | string {
  if (value === undefined || value === "") return null;
  const n = /^[0-9]{1,5}$/.test(value) ? Number(value) : NaN;
  if (!(n >= 0 && n <= 65535)) return `tandem: ${METRICS_PORT_ENV} must be a port number (0-65535), got ${JSON.stringify(value)}: metrics off`;
  return n;
}

/** This process's metrics, or null when they are off. The server starts on first use. */
export function kongMetrics(): TandemMetrics | null {
  if (state === null) state = { metrics: start() };
  return state.metrics;
}

function start(): TandemMetrics | null {
  if (process.argv.some((a) => QUERY_FLAGS.includes(a))) return null;
  const port = metricsPort(process.env[METRICS_PORT_ENV]);
  if (port === null) return null;
  if (typeof port === "string") { process.stderr.write(port + "\n"); return null; }
  const host = process.env[METRICS_HOST_ENV] || DEFAULT_HOST;
  const m = new TandemMetrics();
  const server = http.createServer((req, res) => {
    const path = (req.url ?? "").split("?")[0];
    if (req.method !== "GET" || path !== METRICS_PATH) {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      return;
    }
    m.text().then(
      (body) => res.writeHead(200, { "content-type": CONTENT_TYPE }).end(body),
      (e: Error) => res.writeHead(500, { "content-type": "text/plain" }).end(e.message + "\n"),
    );
  });
  server.on("error", (e: Error) => {
    process.stderr.write(`tandem: metrics server on ${host}:${port}: ${e.message}: metrics off\n`);
    if (state) state.metrics = null;
  });
  // Never keeps the plugin server alive by itself (Kong ends the process).
  server.listen(port, host, () => {
    const a = server.address();
    if (a !== null && typeof a === "object") process.stderr.write(`${METRICS_ON}http://${host.includes(":") ? `[${host}]` : host}:${a.port}${METRICS_PATH}\n`);
  });
  server.unref();
  return m;
}

// Started with the process (the plugin server loads its plugins at start), so Prometheus
// finds it before the first request.
kongMetrics();
