// Kong plugin `circuit-breaker`: placeholder that passes traffic until the breaker
// lands. It already validates its config through the core, like the Envoy filter.
import { userConfig } from "../core/kong-config";
import { CoreError } from "../core/tandem-core";
import { getCore } from "../core/shared";

export { Schema } from "./schema";
export const Version = "0.1.0";
export const Priority = 790;   // right after `experiment`, which picks the upstream

export class Plugin {
  constructor(config: Record<string, unknown>) {
    const err = getCore().validateBreaker(JSON.stringify(userConfig(config)));
    if (err !== null) throw new CoreError(err);
  }

  async access(): Promise<void> {}
}
