import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './support/compiled.js';

// The Dockerfile cannot be built here (no image registry): deploy/smoke.sh runs its commands in CI
// (.ci/run). These checks keep the two, and the systemd unit, saying the same thing.
const read = (p: string): string => readFileSync(join(REPO_ROOT, p), 'utf8');

describe('deploy/', () => {
  const dockerfile = read('deploy/Dockerfile');
  const smoke = read('deploy/smoke.sh');
  const unit = read('deploy/siwe-keys.service');

  it('the Dockerfile installs from the lockfile with npm ci, and the smoke test runs the same command', () => {
    const install = /^RUN (npm ci .*)$/m.exec(dockerfile)?.[1];
    expect(install).toBe('npm ci --no-audit --no-fund && npm prune --omit=dev --no-audit --no-fund');
    // The smoke test runs both halves: npm ci (or, in CI, the install .ci/run just made with it) and the prune.
    for (const command of (install as string).split(' && '))
      expect(smoke).toMatch(new RegExp(`\\n\\s*${command.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\n`));
  });

  it('the Dockerfile runs the compiled service as a non-root user, as the smoke test starts it', () => {
    const user = /^USER (\S+)$/m.exec(dockerfile)?.[1];
    expect(user).toBeDefined();
    expect(['root', '0']).not.toContain(user);
    const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(dockerfile)?.[1] ?? 'null') as string[];
    expect(cmd).toEqual(['node', '--enable-source-maps', 'dist/cli.js', 'serve']);
    expect(smoke).toContain(cmd.join(' '));
  });

  it('the Dockerfile checks health on /healthz, with the command the smoke test runs', () => {
    const check = /^\s+CMD \["node", "-e", "(.*)"\]$/m.exec(dockerfile)?.[1];
    expect(check).toContain('/healthz');
    expect(smoke).toContain(check as string);
  });

  it('the systemd unit runs the compiled service as its own user and lets it drain', () => {
    expect(unit).toMatch(/^ExecStart=\/usr\/bin\/node --enable-source-maps dist\/cli\.js serve$/m);
    expect(unit).toMatch(/^User=siwe-keys$/m);
    expect(unit).toMatch(/^KillMode=mixed$/m);
  });

  it('.dockerignore keeps the local node_modules and dist/ out of the build context', () => {
    const ignored = read('.dockerignore').split('\n');
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'dist']));
  });
});
