// `tandem simulate --decisions`: the decision log's lines (spec.experiment.decisionLog,
// wasm/core/decision-log/) a trace produced, as each gateway writes them, from the
// "tandem: decision " on: the same lines on every path (test/parity/decision-log.parity.test.ts).
//   --via envoy: the filter's proxy_log lines (Envoy's wasm log, in the harness's log);
//   --via kong: the experiment plugin server's stdout lines, which Kong copies to its
//     error log at info (plugin_servers/process.lua grab_logs; sim/kong `onErrorLog`);
//   --via core: the line the Kong plugin would build, from the same core calls.
import { DECISION_LOG_PREFIX } from "../../wasm/core/metrics/catalog";

// The decision line in a gateway's log message (Kong prefixes "[<server>:<pid>] "), or null.
export function decisionLineOf(message: string): string | null {
  const at = message.indexOf(DECISION_LOG_PREFIX);
  return at < 0 ? null : message.slice(at);
}

// Kong's plugin-server output reaches the harness on a pipe, apart from the RPC that
// ended the log phase: after the last log phase, wait until no line came for `quietMs`.
export async function quiet(count: () => number, quietMs = 150, maxMs = 3000): Promise<void> {
  const deadline = Date.now() + maxMs;
  let seen = count();
  let since = Date.now();
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 10));
    const n = count();
    if (n !== seen) { seen = n; since = Date.now(); }
    else if (Date.now() - since >= quietMs) return;
  }
}
