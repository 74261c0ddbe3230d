// Per-request report of the `circuit-breaker` Kong plugin for `tandem simulate --via
// kong`: with TANDEM_BREAKER_TRACE=1 in the plugin server's environment, the plugin
// writes one line per request to stderr (no PDK call: Kong logs plugin-server output
// at info) saying what the breaker did and the key's state after the request:
//   tandem-breaker-trace {"action":"fallback","state":"open"}
// Written in access when the request was answered, rerouted or not tracked, else in
// log after the outcome was recorded: exactly one line per request the plugin saw.
export const TRACE_ENV = "TANDEM_BREAKER_TRACE";
export const TRACE_MARK = "tandem-breaker-trace ";

export type TraceAction = "forward" | "fallback" | "reject";
// state null: the breaker took no part in the request (a CORS preflight it let pass).
export interface TraceLine { action: TraceAction; state: "closed" | "open" | "half_open" | null }

export function traceOn(): boolean {
  return process.env[TRACE_ENV] === "1";
}

export function writeTrace(t: TraceLine): void {
  process.stderr.write(TRACE_MARK + JSON.stringify(t) + "\n");
}

// The report in a line of plugin-server output (Kong's log prefixes it), or null.
export function parseTrace(line: string): TraceLine | null {
  const i = line.indexOf(TRACE_MARK);
  if (i < 0) return null;
  try {
    return JSON.parse(line.slice(i + TRACE_MARK.length)) as TraceLine;
  } catch {
    return null;
  }
}
