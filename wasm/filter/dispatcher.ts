// The proxy-wasm ABI surface of tandem.wasm (module exports Envoy calls), one layer,
// like the Rust SDK's dispatcher.rs. We keep the SDK's raw imports (malloc / free are
// ours: ./host-memory.ts), but not its dispatcher: it builds debug strings on every context
// creation (joining all live context ids: cost grows with streams in flight) and on
// every done/log/delete, even when Envoy's log level drops them (measured in bench/).
import * as imports from "@solo-io/proxy-runtime/assembly/imports";
import { free } from "./host-memory";
import { FilterRoot, FilterStream, CONTINUE } from "./contexts";

export type RootFactory = (id: u32) => FilterRoot;

const factoryNames = new Array<string>(0);
const factories = new Array<RootFactory>(0);
const roots = new Map<u32, FilterRoot>();
const streams = new Map<u32, FilterStream>();

export function registerRoot(name: string, f: RootFactory): void {
  factoryNames.push(name);
  factories.push(f);
}

const RET: usize = memory.data(8);
const ROOT_ID_PATH: StaticArray<u8> = [0x70, 0x6c, 0x75, 0x67, 0x69, 0x6e, 0x5f, 0x72, 0x6f, 0x6f, 0x74, 0x5f, 0x69, 0x64]; // "plugin_root_id"

// The root id Envoy / Istio configured (root_id / pluginName), read once per root.
function pluginRootId(): string {
  store<u32>(RET, 0);
  store<u32>(RET + 4, 0);
  if (imports.proxy_get_property(changetype<usize>(ROOT_ID_PATH), ROOT_ID_PATH.length, RET, RET + 4) != 0) return "";
  const p = <usize>load<u32>(RET);
  const s = String.UTF8.decodeUnsafe(p, <usize>load<u32>(RET + 4));
  if (p != 0) free(p);
  return s;
}

function newRoot(id: u32): FilterRoot | null {
  const name = pluginRootId();
  for (let i = 0; i < factoryNames.length; i++) {
    if (factoryNames[i] == name) return factories[i](id);
  }
  const msg = String.UTF8.encode("tandem: no root id \"" + name + "\" in this module (known: " + factoryNames.join(", ") + ")");
  imports.proxy_log(4, changetype<usize>(msg), msg.byteLength);
  return null;
}

export function proxy_abi_version_0_2_0(): void {}

export function proxy_on_context_create(id: u32, rootId: u32): void {
  if (rootId == 0) {
    const r = newRoot(id);
    if (r !== null) roots.set(id, r);
    return;
  }
  if (!roots.has(rootId)) return;
  streams.set(id, roots.get(rootId).newStream(id));
}

export function proxy_on_vm_start(_rootId: u32, _vmConfigSize: u32): u32 { return 1; }

// Garbage collection. The filter is built with AssemblyScript's "minimal" runtime (TCMS
// without automatic collection): its code is ~40% smaller than with the incremental
// collector, whose write barriers sit on every reference store. We collect ourselves,
// at the outermost point of a callback, where no managed object is held only on the
// stack (TCMS does not scan it): after every configuration and every COLLECT_EVERY
// stream deletions. A collection marks the live heap (settings, live streams: tens of
// KB) and sweeps the garbage of those streams: microseconds, amortized per stream.
const COLLECT_EVERY = 64;
let deletedSinceCollect = 0;

export function proxy_on_configure(rootId: u32, size: u32): u32 {
  if (!roots.has(rootId)) return 0;
  const ok = roots.get(rootId).onConfigure(size);
  __collect();
  return ok ? 1 : 0;
}

// A root context's timer (fault-injection's delays, experiment's counter flushes).
export function proxy_on_tick(rootId: u32): void {
  if (roots.has(rootId)) roots.get(rootId).onTick();
}

export function proxy_on_request_headers(id: u32, headers: u32, eos: u32): u32 {
  if (!streams.has(id)) return CONTINUE;
  return streams.get(id).onRequestHeaders(headers, eos != 0);
}

export function proxy_on_response_headers(id: u32, headers: u32, eos: u32): u32 {
  if (!streams.has(id)) return CONTINUE;
  return streams.get(id).onResponseHeaders(headers, eos != 0);
}

// Every response data frame of every stream (Envoy calls it for all root ids once the
// module exports it): one map lookup when the stream's filter has nothing to do.
export function proxy_on_response_body(id: u32, size: u32, eos: u32): u32 {
  if (!streams.has(id)) return CONTINUE;
  return streams.get(id).onResponseBody(size, eos != 0);
}

export function proxy_on_log(id: u32): void {
  if (streams.has(id)) streams.get(id).onLog();
}

// 1 = done now (nothing pending). Roots have no async work to finish; they hand over
// what they buffered (counter deltas) before Envoy deletes them.
export function proxy_on_done(id: u32): u32 {
  if (streams.has(id)) streams.get(id).onDone();
  else if (roots.has(id)) roots.get(id).onDone();
  return 1;
}

export function proxy_on_delete(id: u32): void {
  if (!streams.delete(id)) roots.delete(id);
  if (++deletedSinceCollect >= COLLECT_EVERY) {
    deletedSinceCollect = 0;
    __collect();
  }
}
