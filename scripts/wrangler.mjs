#!/usr/bin/env node
// `npm run wrangler -- <args>`: runs the project's wrangler with a Node it accepts.
// wrangler needs Node >= 22; this runs on any Node and, when the current one is older, starts
// wrangler with the pinned Node 22 of scripts/node22.mjs, so a fresh clone on Node 20 needs no
// manual step.
import { spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { nodeForWrangler } from './node22.mjs';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const wranglerJs = join(root, 'node_modules', 'wrangler', 'bin', 'wrangler.js');

/** No usage telemetry sent from scripts, tests and CI. */
export function wranglerEnv(extra = {}) {
  return { ...process.env, WRANGLER_SEND_METRICS: 'false', ...extra };
}

/** Spawns wrangler with args; the caller handles the child. */
export function spawnWrangler(args, opts = {}) {
  return spawn(nodeForWrangler(), [wranglerJs, ...args], { cwd: root, stdio: 'inherit', ...opts, env: opts.env ?? wranglerEnv() });
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const child = spawnWrangler(process.argv.slice(2));
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
  child.once('exit', (code, signal) => process.exit(signal ? 1 : (code ?? 1)));
}
