// npm run build: the three wasm modules from the AssemblyScript sources, then the
// Kong plugin directories and the CLI bundled with esbuild.
//   dist/wasm/tandem.wasm       proxy-wasm filter (root ids: experiment, circuit-breaker, fault-injection)
//   dist/wasm/noop.wasm         the SDK's smallest filter: the benchmark baseline
//   dist/wasm/noop-lean.wasm    a no-op on tandem's own dispatcher: second baseline
//   dist/wasm/tandem-core.wasm  the policy core alone, for Node (Kong plugins, CLI)
//   dist/kong/<plugin>/         one directory per Kong plugin server
//   dist/cli/tandem.js          the CLI (+ playground-load.js and playground-gateway.js, the playground's load
//                               generator and gateway worker threads)
//   dist/playground/            the playground's page: index.html, app.js, app.css (uPlot bundled in: no CDN)
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
  ["wasm/core/api.ts", "core-node"],   // minimal runtime: the core collects itself (wasm/core/api.ts)
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

const kongPlugins = ["experiment", "circuit-breaker", "fault-injection", "fallback-cache"];

// Every JavaScript bundle runs under Node 20 as CommonJS; `extra` adds a bundle's own options.
function bundleNode(entry, outfile, extra = {}) {
  return build({ entryPoints: [join(root, entry)], outfile, bundle: true, platform: "node", target: "node20", format: "cjs", logLevel: "warning", ...extra });
}

async function buildKong() {
  for (const name of kongPlugins) {
    const dir = join(root, "dist", "kong", name);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    await bundleNode(join("plugins", name, "handler.ts"), join(dir, `${name}.js`));
    copyFileSync(join(root, "dist", "wasm", "tandem-core.wasm"), join(dir, "tandem-core.wasm"));
  }
  // The start command of every tandem plugin server (plugins/server/tandem-pluginserver.ts):
  // beside the plugin directories, not in one (kong-pdk loads every entry of a plugins
  // directory as a plugin). kong-pdk itself stays external: the Kong image installs it.
  await bundleNode("plugins/server/tandem-pluginserver.ts", join(root, "dist", "kong", "tandem-pluginserver.js"), {
    banner: { js: "#!/usr/bin/env node" },
  });
}

// The CLI bundles the harness gateways for `simulate --via kong|envoy` and the
// playground; they spawn kong-js-pluginserver with a clock preload that must sit
// beside the bundle.
async function buildCli() {
  await bundleNode("cli/main.ts", join(root, "dist", "cli", "tandem.js"), {
    external: ["assemblyscript", "assemblyscript/*", "kong-pdk", "kong-pdk/*"],
  });
  copyFileSync(join(root, "sim", "kong", "virtual-clock.cjs"), join(root, "dist", "cli", "virtual-clock.cjs"));
  // The load generator runs in a worker thread: its own file beside the CLI bundle.
  await bundleNode("cli/playground/load-worker.ts", join(root, "dist", "cli", "playground-load.js"));
  // Each playground gateway runs in a worker thread of its own (cli/playground/gateway-thread.ts).
  await bundleNode("cli/playground/gateway-worker.ts", join(root, "dist", "cli", "playground-gateway.js"), {
    external: ["assemblyscript", "assemblyscript/*", "kong-pdk", "kong-pdk/*"],
  });
}

// The playground's page: one script and one stylesheet (the page's and uPlot's), so it
// works offline and from the CLI's own server.
async function buildPage() {
  const dir = join(root, "dist", "playground");
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  await build({
    entryPoints: { app: join(root, "cli", "playground", "page", "app.ts") },
    outdir: dir,
    bundle: true,
    platform: "browser",
    target: "es2020",
    format: "iife",
    minify: true,
    logLevel: "warning",
  });
  copyFileSync(join(root, "cli", "playground", "page", "index.html"), join(dir, "index.html"));
}

const t0 = Date.now();
await buildWasm();
await buildKong();
if (process.argv.includes("--no-cli")) process.exit(0);
await buildCli();
await buildPage();
console.error(`build: done in ${Date.now() - t0} ms`);
