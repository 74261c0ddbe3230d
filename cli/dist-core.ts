// The core for the CLI: the same tandem-core.wasm the Kong plugins load.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { TandemCore } from "../core-js/tandem-core";

let core: TandemCore | undefined;

// Build outputs: beside the bundle (dist/cli/tandem.js -> dist/), or, when the CLI
// sources run unbundled (tests), the repository's dist/.
export function distDir(): string {
  const bundled = join(__dirname, "..");
  return existsSync(join(bundled, "wasm", "tandem-core.wasm")) ? bundled : join(__dirname, "..", "dist");
}

export function cliCore(): TandemCore {
  if (!core) core = TandemCore.fromFile(join(distDir(), "wasm", "tandem-core.wasm"));
  return core;
}
