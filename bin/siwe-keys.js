#!/usr/bin/env node
// The `siwe-keys` command: runs the compiled CLI (dist/cli.js, built by `npm run build`, which
// `npm install` runs as `prepare`). Plain JavaScript, so no TypeScript loader is ever involved.
// In a clone with dev dependencies it rebuilds first when a source is newer than dist/, so an
// edited src/ never runs stale; in a production install (no esbuild, or no src/) it only runs.
import { existsSync } from 'node:fs';
import module from 'node:module';

// Stack traces name src/ files, as `node --enable-source-maps` would.
process.setSourceMapsEnabled(true);
// Node >= 22.1 keeps compiled bytecode between starts (in the OS temp dir unless NODE_COMPILE_CACHE
// names one): measured ~30 ms less CPU per start on Node 22. Node 20 has no such API.
module.enableCompileCache?.();

const build = new URL('../scripts/build.mjs', import.meta.url);
if (existsSync(build)) {
  const { canBuild, isStale, build: rebuild } = await import(build.href);
  if (canBuild() && isStale()) {
    let esbuild = true;
    try {
      await import('esbuild');
    } catch {
      esbuild = false;
    }
    if (esbuild) await rebuild();
    else if (!existsSync(new URL('../dist/cli.js', import.meta.url))) {
      console.error('siwe-keys: dist/ is missing and esbuild is not installed: run `npm ci` (with dev dependencies) to build');
      process.exit(1);
    }
  }
}
await import('../dist/cli.js');
