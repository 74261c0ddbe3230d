// Second benchmark baseline: a no-op filter on tandem's own dispatcher (wasm/filter/
// dispatcher.ts). tandem.wasm ÷ this isolates what the decision itself costs; the
// issue's figure (÷ the SDK's no-op, wasm/noop) also counts the dispatcher difference.
import "../filter/abort";
export { malloc, free } from "../filter/host-memory";
export {
  proxy_abi_version_0_2_0, proxy_on_context_create, proxy_on_vm_start, proxy_on_configure,
  proxy_on_request_headers, proxy_on_response_headers, proxy_on_log, proxy_on_done, proxy_on_delete,
} from "../filter/dispatcher";
import { registerRoot } from "../filter/dispatcher";
import { FilterRoot, FilterStream } from "../filter/contexts";

class NoopRoot extends FilterRoot {
  onConfigure(_size: u32): bool { return true; }
  newStream(id: u32): FilterStream { return new FilterStream(id); }
}
function newNoop(id: u32): FilterRoot { return new NoopRoot(id); }
registerRoot("noop", newNoop);
