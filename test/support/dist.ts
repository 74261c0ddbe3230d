// Paths of build outputs (`npm test` builds first).
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { TandemCore } from "../../core-js/tandem-core";

export const ROOT = resolve(__dirname, "..", "..");
export const DIST = join(ROOT, "dist");
export const FILTER_WASM = join(DIST, "wasm", "tandem.wasm");
export const NOOP_WASM = join(DIST, "wasm", "noop.wasm");
export const CORE_WASM = join(DIST, "wasm", "tandem-core.wasm");
export const KONG_DIR = (plugin: string) => join(DIST, "kong", plugin);
export const CLI = join(DIST, "cli", "tandem.js");

export function requireBuilt(path: string): string {
  if (!existsSync(path)) throw new Error(`${path} is missing: run npm run build`);
  return path;
}

export function loadCore(): TandemCore {
  return TandemCore.fromFile(requireBuilt(CORE_WASM));
}
