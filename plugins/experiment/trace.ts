// Per-request report of the `experiment` plugin's canary guards for `tandem simulate
// --via kong`: with TANDEM_GUARD_TRACE=1 in the plugin server's environment, the log
// phase writes one line per request to stderr (no PDK call: Kong logs plugin-server
// output) with each guarded variant's guard state after the request's outcome:
//   tandem-guard-trace {"canary":"open"}
export const GUARD_TRACE_ENV = "TANDEM_GUARD_TRACE";
export const GUARD_TRACE_MARK = "tandem-guard-trace ";

export type GuardStates = Record<string, "closed" | "open" | "half_open">;

export function guardTraceOn(): boolean {
  return process.env[GUARD_TRACE_ENV] === "1";
}

export function writeGuardTrace(states: GuardStates): void {
  process.stderr.write(GUARD_TRACE_MARK + JSON.stringify(states) + "\n");
}

// The report in a line of plugin-server output (Kong's log prefixes it), or null.
export function parseGuardTrace(line: string): GuardStates | null {
  const i = line.indexOf(GUARD_TRACE_MARK);
  if (i < 0) return null;
  try {
    return JSON.parse(line.slice(i + GUARD_TRACE_MARK.length)) as GuardStates;
  } catch {
    return null;
  }
}
