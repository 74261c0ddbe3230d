// Baseline for `npm run bench`: the smallest filter the same SDK builds (a root
// context whose streams just continue). tandem's overhead is measured against it.
export * from "@solo-io/proxy-runtime/assembly/proxy";
import { Context, RootContext, registerRootContext } from "@solo-io/proxy-runtime/assembly/index";

class NoopRoot extends RootContext {
  createContext(context_id: u32): Context { return new Context(context_id, this); }
}
function newNoop(id: u32): RootContext { return new NoopRoot(id); }
registerRootContext(newNoop, "noop");
