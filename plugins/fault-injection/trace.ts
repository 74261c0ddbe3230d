// Per-request report of the `fault-injection` Kong plugin for `tandem simulate --via
// kong`: with TANDEM_FAULT_TRACE=1 in the plugin server's environment, the plugin writes
// one line per request to stderr (no PDK call) naming the fault it injected (or null):
//   tandem-fault-trace {"kind":"delay","ms":2000}
export const FAULT_TRACE_ENV = "TANDEM_FAULT_TRACE";
export const FAULT_TRACE_MARK = "tandem-fault-trace ";

export interface FaultField { kind: "delay" | "abort"; ms?: number; status?: number }

// The `fault` field of a simulate line: a delay, an abort, or both (kind abort, with ms).
export function faultField(delayMs: number | null, abortStatus: number | null): FaultField | null {
  if (abortStatus !== null) return delayMs !== null ? { kind: "abort", status: abortStatus, ms: delayMs } : { kind: "abort", status: abortStatus };
  return delayMs !== null ? { kind: "delay", ms: delayMs } : null;
}

export function faultTraceOn(): boolean {
  return process.env[FAULT_TRACE_ENV] === "1";
}

export function writeFaultTrace(f: FaultField | null): void {
  process.stderr.write(FAULT_TRACE_MARK + JSON.stringify(f) + "\n");
}

// The report in a line of plugin-server output (Kong's log prefixes it); undefined: none.
export function parseFaultTrace(line: string): FaultField | null | undefined {
  const i = line.indexOf(FAULT_TRACE_MARK);
  if (i < 0) return undefined;
  try {
    return JSON.parse(line.slice(i + FAULT_TRACE_MARK.length)) as FaultField | null;
  } catch {
    return undefined;
  }
}
