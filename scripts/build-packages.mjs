#!/usr/bin/env node
// Builds the installable packages (packages/client, packages/web) into their dist/ folders:
// one ESM bundle each (esbuild; dependencies inlined, so they install with none) and the .d.ts
// files (tsc). `node scripts/build-packages.mjs [client|web ...]`; no argument builds both.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const PACKAGES = {
  // The operator client runs on Node, Workers, Deno and Bun: neutral platform, hono only as types.
  client: { platform: 'neutral', external: ['hono'], entries: ['index', 'hono'] },
  // The dApp helper runs in browsers.
  web: { platform: 'browser', external: [], entries: ['index'] },
};

const names = process.argv.slice(2).length > 0 ? process.argv.slice(2) : Object.keys(PACKAGES);
for (const name of names) {
  const spec = PACKAGES[name];
  if (!spec) throw new Error(`unknown package ${name}`);
  const dir = join(ROOT, 'packages', name);
  rmSync(join(dir, 'dist'), { recursive: true, force: true });
  await build({
    entryPoints: spec.entries.map((e) => join(dir, `src/${e}.ts`)),
    outdir: join(dir, 'dist'),
    // The hono entry imports the main one: keep that an import of ./index.js, not a second copy.
    ...(spec.entries.length > 1 ? { splitting: true, chunkNames: 'chunks/[name]-[hash]' } : {}),
    bundle: true,
    format: 'esm',
    platform: spec.platform,
    target: 'es2022',
    external: spec.external,
    sourcemap: true,
    legalComments: 'linked',
    logLevel: 'warning',
  });
  execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(dir, 'tsconfig.json')], { stdio: 'inherit' });
  console.log(`built packages/${name}/dist`);
}
