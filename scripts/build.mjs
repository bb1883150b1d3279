#!/usr/bin/env node
/**
 * Builds what production runs, with plain Node (no TypeScript loader):
 *   1. the console (src/web/) into src/web/assets.generated.ts (scripts/build-console.ts), and
 *   2. the service, CLI and gateway (src/cli.ts) into dist/cli.js + chunks, one ESM bundle with
 *      source maps (stack traces name src/ files under --enable-source-maps).
 * Dependencies are bundled, except the ones that load native code or optional native code, which
 * stay in node_modules.
 *
 *   node scripts/build.mjs                 build
 *   node scripts/build.mjs --if-stale      build only when a source is newer than dist/cli.js
 *   node scripts/build.mjs --if-possible   as `prepare`: when esbuild is not installed (npm ci --omit=dev),
 *                                          keep the prebuilt dist/ and say so instead of failing the install
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const DIST = join(ROOT, 'dist');
export const ENTRY = join(DIST, 'cli.js');
/** Outputs of this build inside dist/ (dist/worker belongs to `npm run worker:build`). */
const OUTPUTS = ['cli.js', 'cli.js.map', 'chunks', 'build'];

/** Kept out of the bundle: native addons and packages that probe for optional native modules. */
export const EXTERNAL = ['better-sqlite3', 'pg', 'pg-native', 'pg-cloudflare', 'esbuild', 'bufferutil', 'utf-8-validate'];

const INPUTS = ['src', 'scripts/build-console.ts', 'scripts/build.mjs', 'package-lock.json', 'tsconfig.json'];

function newestMtime(path) {
  let st;
  try {
    st = statSync(path);
  } catch {
    return 0;
  }
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const name of readdirSync(path)) {
    // tests and the generated console module are not inputs of dist/ (the latter is an output of step 1)
    if (name.endsWith('.test.ts') || name === 'assets.generated.ts') continue;
    newest = Math.max(newest, newestMtime(join(path, name)));
  }
  return newest;
}

/** True when dist/cli.js is missing or older than a source it is built from. */
export function isStale() {
  if (!existsSync(ENTRY)) return true;
  const built = statSync(ENTRY).mtimeMs;
  return INPUTS.some((p) => newestMtime(join(ROOT, p)) > built);
}

/** True when the sources are here to build from (a clone, not a copy of dist/ alone). */
export function canBuild() {
  return existsSync(join(ROOT, 'src', 'cli.ts'));
}

async function buildConsole(esbuild) {
  // build-console.ts is TypeScript: bundle it (its own imports stay external) and run its exports.
  const tmp = join(DIST, 'build', 'build-console.mjs');
  await esbuild.build({
    entryPoints: [join(ROOT, 'scripts', 'build-console.ts')],
    outfile: tmp,
    bundle: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    logLevel: 'silent',
    // so that its paths resolve from scripts/, where the source lives
    define: { 'import.meta.url': JSON.stringify(pathToFileURL(join(ROOT, 'scripts', 'build-console.ts')).href) },
  });
  const { renderConsoleModule, GENERATED_PATH } = await import(`${pathToFileURL(tmp).href}?t=${Date.now()}`);
  const next = await renderConsoleModule();
  const prev = existsSync(GENERATED_PATH) ? readFileSync(GENERATED_PATH, 'utf8') : null;
  if (prev !== next) {
    writeFileSync(GENERATED_PATH, next);
    console.error(`console: wrote src/web/assets.generated.ts (${Math.round(next.length / 1024)} KiB)`);
  }
}

async function buildService(esbuild) {
  for (const out of OUTPUTS.filter((o) => o !== 'build')) rmSync(join(DIST, out), { recursive: true, force: true });
  const result = await esbuild.build({
    entryPoints: { cli: join(ROOT, 'src', 'cli.ts') },
    outdir: DIST,
    chunkNames: 'chunks/[name]-[hash]',
    bundle: true,
    splitting: true, // the gateway and the PostgreSQL dialect load on demand, as in src/
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: true,
    // Node parses and keeps the maps of every loaded module under --enable-source-maps: without the
    // sources' text they are a third of the size (measured ~20 MB less resident memory per process).
    // Traces still name src/ files and lines.
    sourcesContent: false,
    external: EXTERNAL,
    // CommonJS dependencies inside an ESM bundle call require() for Node built-ins.
    banner: {
      js: "import { createRequire as __siweKeysCreateRequire } from 'node:module'; const require = __siweKeysCreateRequire(import.meta.url);",
    },
    legalComments: 'none',
    logLevel: 'warning',
    metafile: true,
  });
  const bytes = Object.entries(result.metafile.outputs)
    .filter(([f]) => f.endsWith('.js'))
    .reduce((n, [, o]) => n + o.bytes, 0);
  console.error(`build: wrote ${relative(ROOT, ENTRY)} and its chunks (${Math.round(bytes / 1024)} KiB of JavaScript)`);
}

/** Builds the console module and dist/. */
export async function build() {
  const esbuild = await import('esbuild');
  mkdirSync(join(DIST, 'build'), { recursive: true });
  await buildConsole(esbuild);
  await buildService(esbuild);
}

async function main(args) {
  if (!canBuild()) return 0; // an installed copy of dist/ without its sources
  if (args.includes('--if-stale') && !isStale()) return 0;
  try {
    await import('esbuild');
  } catch {
    if (args.includes('--if-possible')) {
      if (existsSync(ENTRY)) console.error('build: esbuild is not installed (production install); keeping the prebuilt dist/');
      else console.error('build: esbuild is not installed and there is no dist/: install with dev dependencies (npm ci) to build');
      return 0;
    }
    console.error('build: esbuild is not installed: run `npm ci` (with dev dependencies) first');
    return 1;
  }
  await build();
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      console.error(`build failed: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}
