// The installable packages as a user gets them: built, packed with `npm pack`, installed into an
// empty folder, imported from plain Node (no TypeScript loader) and from a browser bundle, and
// type-checked from a consumer's .ts file against the shipped .d.ts files.
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signIn, type Harness } from './support/harness.js';
import { createDomain, createKey, uniqueDomainName } from './support/fixtures.js';
import { startRealServer } from './support/server.js';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..');

describe('packed packages in an empty folder', () => {
  let dir: string;
  let srv: Awaited<ReturnType<typeof startRealServer>>;
  let h: Harness;

  beforeAll(async () => {
    await run(process.execPath, [join(ROOT, 'scripts/build-packages.mjs')], { cwd: ROOT });
    dir = mkdtempSync(join(tmpdir(), 'siwe-keys-pack-'));
    for (const name of ['client', 'web']) {
      await run('npm', ['pack', '--silent', '--pack-destination', dir], { cwd: join(ROOT, 'packages', name) });
    }
    const tarballs = readdirSync(dir).filter((f) => f.endsWith('.tgz'));
    expect(tarballs.sort()).toEqual(['siwe-keys-client-0.1.0.tgz', 'siwe-keys-web-0.1.0.tgz']);
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    // Local tarballs with no dependencies: nothing is fetched from a registry.
    await run('npm', ['install', '--offline', '--no-audit', '--no-fund', ...tarballs.map((t) => `./${t}`)], { cwd: dir });
    srv = await startRealServer();
    h = srv.h;
  }, 180_000);
  afterAll(async () => {
    await srv?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('installs both packages with no runtime dependencies', async () => {
    const { stdout } = await run('npm', ['ls', '--all', '--parseable'], { cwd: dir });
    const installed = stdout
      .trim()
      .split('\n')
      .filter((l) => l.includes('node_modules'));
    expect(installed.map((l) => l.slice(l.indexOf('node_modules') + 'node_modules/'.length)).sort()).toEqual([
      '@siwe-keys/client',
      '@siwe-keys/web',
    ]);
  });

  it('verifies a real key with @siwe-keys/client from plain Node', async () => {
    const user = await signIn(h);
    const domainToken = (await createDomain(h, user.token, uniqueDomainName('pack'))).token as string;
    const key = (await createKey(h, user.token, { name: 'packed' })).key as string;
    const script = [
      "import { createVerifier, REFUSALS } from '@siwe-keys/client';",
      `const v = createVerifier({ serviceUrl: ${JSON.stringify(srv.url)}, domainToken: process.env.DOMAIN_TOKEN });`,
      'const ok = await v.verify({ key: process.env.API_KEY });',
      "const bad = await v.verify({ key: 'sk_net_nope' });",
      "const { siweKeysAuth } = await import('@siwe-keys/client/hono');",
      'console.log(JSON.stringify({ ok: ok.valid, bad: bad.code, status: REFUSALS[bad.code].status, hono: typeof siweKeysAuth }));',
    ].join('\n');
    writeFileSync(join(dir, 'verify.mjs'), script);
    const { stdout } = await run(process.execPath, ['verify.mjs'], {
      cwd: dir,
      env: { ...process.env, DOMAIN_TOKEN: domainToken, API_KEY: key, NODE_OPTIONS: '' },
    });
    expect(JSON.parse(stdout)).toEqual({ ok: true, bad: 'malformed', status: 401, hono: 'function' });
  });

  it('bundles @siwe-keys/web for a browser and builds a valid EIP-4361 message', async () => {
    writeFileSync(
      join(dir, 'page.mjs'),
      [
        "import { createSiweKeys, signInMessage } from '@siwe-keys/web';",
        "const message = signInMessage({ address: '0x000000000000000000000000000000000000dEaD', chainId: 1, nonce: 'abcdef123456', domain: 'keys.example.org', uri: 'https://keys.example.org', statement: 'hi', now: new Date('2026-11-29T00:00:00Z') });",
        'console.log(JSON.stringify({ message, factory: typeof createSiweKeys }));',
      ].join('\n'),
    );
    const { build } = await import('esbuild');
    await build({
      entryPoints: [join(dir, 'page.mjs')],
      outfile: join(dir, 'bundle.js'),
      bundle: true,
      platform: 'browser',
      format: 'esm',
      absWorkingDir: dir,
      logLevel: 'silent',
    });
    // The browser bundle runs as is (the message builder touches no DOM when domain and uri are given).
    const { stdout } = await run(process.execPath, ['bundle.js'], { cwd: dir, env: { ...process.env, NODE_OPTIONS: '' } });
    const out = JSON.parse(stdout) as { message: string; factory: string };
    expect(out.factory).toBe('function');
    expect(out.message.split('\n').slice(0, 2)).toEqual([
      'keys.example.org wants you to sign in with your Ethereum account:',
      '0x000000000000000000000000000000000000dEaD',
    ]);
    expect(out.message).toContain('\nNonce: abcdef123456\n');
  });

  it('ships .d.ts files a TypeScript consumer compiles against', async () => {
    writeFileSync(
      join(dir, 'consumer.ts'),
      [
        "import { createVerifier, type VerifyAnswer } from '@siwe-keys/client';",
        "import { checkAddress, createSiweKeys, type KeyView, type TeamDetailView, type TeamView } from '@siwe-keys/web';",
        "const v = createVerifier({ serviceUrl: 'http://x', domainToken: 't' });",
        "const a: Promise<VerifyAnswer> = v.verify({ key: 'k', scope: 'inference:read' });",
        'const s = createSiweKeys();',
        'const k: Promise<{ data: KeyView[] }> = s.keys.list();',
        'const t: Promise<{ data: TeamView[] }> = s.teams.list();',
        "const d: Promise<TeamDetailView> = s.teams.get('t1');",
        "const tk: Promise<{ data: KeyView[] }> = s.keys.list({ team_id: 't1' });",
        "const ok: boolean = checkAddress('0x0000000000000000000000000000000000000000').ok;",
        'export { a, k, t, d, tk, ok };',
      ].join('\n'),
    );
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          target: 'ES2022',
          lib: ['ES2022', 'DOM'],
          noEmit: true,
          skipLibCheck: false,
          types: [],
        },
        files: ['consumer.ts'],
      }),
    );
    const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
    const res = await run(process.execPath, [tsc, '-p', dir], { cwd: dir }).catch((e: { stdout: string }) => e);
    expect('stdout' in res ? res.stdout : '').toBe('');
  });
});
