#!/usr/bin/env node
// Launcher for the bundled CLI (dist/cli/tandem.js, built by `npm run build`). Right
// after `npm ci` there is no build yet: the first run builds it (scripts/build.mjs,
// about a minute on 2 shared cores), saying so on stderr, so `npx tandem …` works on
// a fresh clone. The build's own output goes to stderr too: stdout stays the command's.
"use strict";
const { existsSync } = require("node:fs");
const { join } = require("node:path");
const { spawnSync } = require("node:child_process");

const root = join(__dirname, "..");
const cli = join(root, "dist", "cli", "tandem.js");
// What the CLI loads: the bundle, both wasm modules, the Kong plugin directories.
const needed = [
  cli,
  join(root, "dist", "wasm", "tandem-core.wasm"),
  join(root, "dist", "wasm", "tandem.wasm"),
  join(root, "dist", "kong", "experiment", "experiment.js"),
  join(root, "dist", "kong", "circuit-breaker", "circuit-breaker.js"),
];
if (!needed.every((f) => existsSync(f))) {
  process.stderr.write("tandem: no build yet: running npm run build once (about a minute)…\n");
  const r = spawnSync(process.execPath, [join(root, "scripts", "build.mjs")], { cwd: root, stdio: ["ignore", 2, 2] });
  if (r.status !== 0) {
    process.stderr.write(`tandem: the build failed (${r.error ? r.error.message : `exit ${r.status ?? r.signal}`}): run npm run build to see why\n`);
    process.exit(1);
  }
}
require(cli);
