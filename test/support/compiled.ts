import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const NO_TYPESCRIPT = join(REPO_ROOT, 'test/support/no-typescript.mjs');

/**
 * Node arguments that run the compiled CLI (dist/cli.js, what production runs) with `args`, in a
 * process that cannot load a TypeScript loader. `npm test` builds dist/ first (pretest), and so does
 * the suite's global setup when a source is newer.
 */
export function compiledCli(...args: string[]): string[] {
  return ['--import', NO_TYPESCRIPT, '--enable-source-maps', join(REPO_ROOT, 'dist/cli.js'), ...args];
}

/** Vitest global setup: rebuild dist/ when a source is newer, so a direct `npx vitest run` never tests a stale build. */
export default function setup(): void {
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'scripts/build.mjs'), '--if-stale'], { cwd: REPO_ROOT, stdio: 'inherit' });
  if (r.status !== 0) throw new Error('building dist/ failed (node scripts/build.mjs)');
}
