// npm run build: the three wasm modules from the AssemblyScript sources, then the
// Kong plugin directories and the CLI bundled with esbuild.
//   dist/wasm/tandem.wasm       proxy-wasm filter (root ids: experiment, circuit-breaker, fault-injection)
//   dist/wasm/noop.wasm         the SDK's smallest filter: the benchmark baseline
//   dist/wasm/noop-lean.wasm    a no-op on tandem's own dispatcher: second baseline
//   dist/wasm/tandem-core.wasm  the policy core alone, for Node (Kong plugins, CLI)
//   dist/kong/<plugin>/         one directory per Kong plugin server
//   dist/cli/tandem.js          the CLI
import { execFile } from "node:child_process";
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const run = promisify(execFile);
const asc = join(root, "node_modules", ".bin", "asc");

const wasmTargets = [
  ["wasm/filter/index.ts", "filter"],
  ["wasm/noop/index.ts", "noop"],
  ["wasm/noop-lean/index.ts", "noop-lean"],
  ["wasm/core/api.ts", "core"],
];

async function buildWasm() {
  mkdirSync(join(root, "dist", "wasm"), { recursive: true });
  await Promise.all(
    wasmTargets.map(async ([entry, target]) => {
      try {
        await run(asc, [entry, "--config", "asconfig.json", "--target", target], { cwd: root });
      } catch (e) {
        throw new Error(`asc ${entry} (${target}) failed:\n${e.stderr || e.message}`);
      }
    }),
  );
}

const kongPlugins = ["experiment", "circuit-breaker", "fault-injection"];

async function buildKong() {
  for (const name of kongPlugins) {
    const dir = join(root, "dist", "kong", name);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    await build({
      entryPoints: [join(root, "plugins", name, "handler.ts")],
      outfile: join(dir, `${name}.js`),
      bundle: true,
      platform: "node",
      target: "node20",
      format: "cjs",
      logLevel: "warning",
    });
    copyFileSync(join(root, "dist", "wasm", "tandem-core.wasm"), join(dir, "tandem-core.wasm"));
  }
  // The start command of every tandem plugin server (plugins/server/tandem-pluginserver.ts):
  // beside the plugin directories, not in one (kong-pdk loads every entry of a plugins
  // directory as a plugin). kong-pdk itself stays external: the Kong image installs it.
  await build({
    entryPoints: [join(root, "plugins", "server", "tandem-pluginserver.ts")],
    outfile: join(root, "dist", "kong", "tandem-pluginserver.js"),
    bundle: true,
    platform: "node",
    target: "node20",
    format: "cjs",
    banner: { js: "#!/usr/bin/env node" },
    logLevel: "warning",
  });
}

// The CLI bundles the harness gateways for `simulate --via kong|envoy` and the
// playground; they spawn kong-js-pluginserver with a clock preload that must sit
// beside the bundle.
async function buildCli() {
  await build({
    entryPoints: [join(root, "cli", "main.ts")],
    outfile: join(root, "dist", "cli", "tandem.js"),
    bundle: true,
    platform: "node",
    target: "node20",
    format: "cjs",
    external: ["assemblyscript", "assemblyscript/*", "kong-pdk", "kong-pdk/*"],
    logLevel: "warning",
  });
  copyFileSync(join(root, "sim", "kong", "virtual-clock.cjs"), join(root, "dist", "cli", "virtual-clock.cjs"));
}

const t0 = Date.now();
await buildWasm();
await buildKong();
if (process.argv.includes("--no-cli")) process.exit(0);
await buildCli();
console.error(`build: done in ${Date.now() - t0} ms`);
