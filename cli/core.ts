// The core for the CLI: the same tandem-core.wasm the Kong plugins load.
import { join } from "node:path";
import { TandemCore } from "../plugins/core/tandem-core";

let core: TandemCore | undefined;

export function distDir(): string {
  // dist/cli/tandem.js -> dist/
  return join(__dirname, "..");
}

export function cliCore(): TandemCore {
  if (!core) core = TandemCore.fromFile(join(distDir(), "wasm", "tandem-core.wasm"));
  return core;
}
