// tandem.wasm: one proxy-wasm module, one root id per policy part. Istio's
// WasmPlugin.pluginName / Envoy's root_id selects which one a filter instance runs.
export * from "@solo-io/proxy-runtime/assembly/proxy";
import { RootContext, registerRootContext } from "@solo-io/proxy-runtime/assembly/index";
import { ExperimentRoot } from "./experiment-filter";
import { BreakerRoot } from "./breaker-filter";

function newExperiment(id: u32): RootContext { return new ExperimentRoot(id); }
function newBreaker(id: u32): RootContext { return new BreakerRoot(id); }

registerRootContext(newExperiment, "experiment");
registerRootContext(newBreaker, "circuit-breaker");
