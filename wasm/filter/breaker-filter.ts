// Root id `circuit-breaker`: placeholder until the breaker lands (issue: circuit
// breaker). It validates that its configuration is a JSON object and passes traffic.
import { FilterRoot, FilterStream } from "./contexts";
import { configureBreaker } from "../core/policy";
import { LOG_ERROR, log, pluginConfiguration } from "./host";

export class BreakerRoot extends FilterRoot {
  onConfigure(size: u32): bool {
    const err = configureBreaker(pluginConfiguration(size));
    if (err.length > 0) { log(LOG_ERROR, "tandem: circuit-breaker configuration rejected: " + err); return false; }
    return true;
  }
  newStream(id: u32): FilterStream {
    return new FilterStream(id);
  }
}
