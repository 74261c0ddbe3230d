// The filter's abort: log the reason at critical level, then trap. Envoy marks a VM
// that traps as failed (fail_open decides what traffic sees). Nothing in the filter
// is meant to abort: configuration errors are returned, not thrown.
import * as imports from "@solo-io/proxy-runtime/assembly/imports";

// @ts-ignore: decorator
@global
export function tandemAbort(message: string | null, fileName: string | null, line: u32, column: u32): void {
  let m = "tandem: abort: " + (message !== null ? message : "");
  if (fileName !== null) m += " at " + fileName + ":" + line.toString() + ":" + column.toString();
  const b = String.UTF8.encode(m);
  imports.proxy_log(5, changetype<usize>(b), b.byteLength);  // 5 = critical
  unreachable();
}
