// tandem.wasm: one proxy-wasm module, one root id per policy part. Istio's
// WasmPlugin.pluginName / Envoy's root_id selects which one a filter instance runs:
// experiment, circuit-breaker, fault-injection.
// ABI exports come from our dispatcher; malloc / free from ./host-memory.ts.
import "./abort";
export { malloc, free } from "./host-memory";
export {
  proxy_abi_version_0_2_0, proxy_on_context_create, proxy_on_vm_start, proxy_on_configure,
  proxy_on_request_headers, proxy_on_response_headers, proxy_on_response_body, proxy_on_log, proxy_on_done, proxy_on_delete, proxy_on_tick,
} from "./dispatcher";
import { registerRoot } from "./dispatcher";
import { FilterRoot } from "./contexts";
import { ExperimentRoot } from "./experiment-filter";
import { BreakerRoot } from "./breaker-filter";
import { FaultRoot } from "./fault-filter";

function newExperiment(id: u32): FilterRoot { return new ExperimentRoot(id); }
function newBreaker(id: u32): FilterRoot { return new BreakerRoot(id); }
function newFault(id: u32): FilterRoot { return new FaultRoot(id); }

registerRoot("experiment", newExperiment);
registerRoot("circuit-breaker", newBreaker);
registerRoot("fault-injection", newFault);
