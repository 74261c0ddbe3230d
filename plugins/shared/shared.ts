// Module-scope state of a plugin server process. Kong may rebuild plugin instances
// at any time ("no plugin instance" → StartInstance again), so anything that must
// outlive an instance lives here, keyed by Kong's plugin id.
import { join } from "node:path";
import { TandemCore } from "../../core-js/tandem-core";

let core: TandemCore | undefined;

// The core ships next to the bundled plugin (dist/kong/<plugin>/tandem-core.wasm).
export function getCore(): TandemCore {
  if (!core) core = TandemCore.fromFile(join(__dirname, "tandem-core.wasm"));
  return core;
}

export const CONFIG_KEPT = "tandem: configuration rejected, previous configuration stays in force: ";
