// Root id `circuit-breaker`: placeholder until the breaker lands (issue: circuit
// breaker). It validates that its configuration is a JSON object and passes traffic.
import { Context, RootContext } from "@solo-io/proxy-runtime/assembly/index";
import { configureBreaker } from "../core/policy";
import { LOG_ERROR, log, pluginConfiguration } from "./host";

export class BreakerRoot extends RootContext {
  onConfigure(size: u32): bool {
    const err = configureBreaker(pluginConfiguration(size));
    if (err.length > 0) { log(LOG_ERROR, "tandem: circuit-breaker configuration rejected: " + err); return false; }
    return true;
  }
  createContext(context_id: u32): Context {
    return new Context(context_id, this);
  }
}
