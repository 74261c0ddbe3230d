#!/usr/bin/env node
// Launcher for the bundled CLI (built by `npm run build`).
require("../dist/cli/tandem.js");
