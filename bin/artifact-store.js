#!/usr/bin/env node
// The `artifact-store` command: runs the built CLI (dist/, made by `npm run build`, which `npm ci` runs via `prepare`).
import "../dist/runtime/cli.js";
