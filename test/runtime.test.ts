import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { SourceMap } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NO_TYPESCRIPT, REPO_ROOT } from './support/compiled.js';
import { freePort } from './support/process.js';

const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  scripts: Record<string, string>;
};

describe('the production runtime: compiled JavaScript, no TypeScript loader', () => {
  it('the no-TypeScript guard used by the spawned suites refuses tsx and .ts files', () => {
    for (const args of [
      ['--import', 'tsx', '-e', ''],
      [join(REPO_ROOT, 'src/cli.ts'), '--help'],
    ]) {
      const r = spawnSync(process.execPath, ['--import', NO_TYPESCRIPT, ...args], { cwd: REPO_ROOT, encoding: 'utf8' });
      expect(r.status).not.toBe(0);
      expect(r.stderr).toContain('no TypeScript at run time');
    }
  });

  it('plain `node dist/cli.js serve` answers /healthz and drains on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'siwe-keys-dist-'));
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', NO_TYPESCRIPT, 'dist/cli.js', 'serve'], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH, PORT: String(port), DATABASE_URL: `file:${join(dir, 'db.sqlite')}`, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', r));
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', () => out.includes('listening on') && resolve());
        void exited.then((code) => reject(new Error(`exited ${code}: ${out}`)));
      });
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(res.status).toBe(200);
      expect(readFileSync(`/proc/${child.pid}/cmdline`, 'utf8')).not.toContain('tsx');
    } finally {
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the `siwe-keys` command (bin/siwe-keys.js) runs the compiled CLI', () => {
    const r = spawnSync(process.execPath, ['--import', NO_TYPESCRIPT, 'bin/siwe-keys.js', '--help'], { cwd: REPO_ROOT, encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('serve [--workers N]');
    expect(readFileSync(join(REPO_ROOT, 'bin/siwe-keys.js'), 'utf8')).toContain("import('../dist/cli.js')");
  });

  it('ships source maps that lead from the bundle back to src/ files and lines', () => {
    const jsFiles = [
      'dist/cli.js',
      ...readdirSync(join(REPO_ROOT, 'dist/chunks'))
        .filter((f) => f.endsWith('.js'))
        .map((f) => `dist/chunks/${f}`),
    ];
    const sources = new Set<string>();
    let mapped: { file: string; line: number } | undefined;
    for (const file of jsFiles) {
      const js = readFileSync(join(REPO_ROOT, file), 'utf8');
      const map = new SourceMap(JSON.parse(readFileSync(join(REPO_ROOT, `${file}.map`), 'utf8')));
      for (const s of (map.payload as { sources: string[] }).sources) sources.add(join(REPO_ROOT, dirname(file), s));
      // where the bundle defines parseWorkers, the map must point at its definition in src/cluster.ts
      const at = js.split('\n').findIndex((l) => l.includes('function parseWorkers('));
      if (at >= 0) {
        const entry = map.findEntry(at, js.split('\n')[at].indexOf('function parseWorkers(')) as {
          originalSource: string;
          originalLine: number;
        };
        mapped = { file: join(REPO_ROOT, dirname(file), entry.originalSource), line: entry.originalLine };
      }
    }
    for (const f of ['src/cli.ts', 'src/cluster.ts', 'src/app.ts', 'src/gateway/node.ts']) expect(sources).toContain(join(REPO_ROOT, f));
    const srcLine = readFileSync(join(REPO_ROOT, 'src/cluster.ts'), 'utf8')
      .split('\n')
      .findIndex((l) => l.includes('function parseWorkers('));
    expect(mapped).toEqual({ file: join(REPO_ROOT, 'src/cluster.ts'), line: srcLine });
    expect(readFileSync(join(REPO_ROOT, 'dist/cli.js'), 'utf8')).toMatch(/\/\/# sourceMappingURL=cli\.js\.map\s*$/);
  });

  it('keeps native dependencies out of the bundle, in node_modules', () => {
    const js = [
      'dist/cli.js',
      ...readdirSync(join(REPO_ROOT, 'dist/chunks'))
        .filter((f) => f.endsWith('.js'))
        .map((f) => `dist/chunks/${f}`),
    ]
      .map((f) => readFileSync(join(REPO_ROOT, f), 'utf8'))
      .join('\n');
    expect(js).toMatch(/from\s*"better-sqlite3"/);
    expect(js).toMatch(/from\s*"pg"/);
  });

  it('has tsx as a development dependency only, and no run-time script uses it', () => {
    expect(pkg.dependencies.tsx).toBeUndefined();
    expect(pkg.devDependencies.tsx).toBeDefined();
    for (const name of ['prepare', 'build', 'start', 'migrate', 'admin', 'gateway']) expect(pkg.scripts[name]).not.toMatch(/tsx/);
    expect(pkg.scripts.prepare).toBe('node scripts/build.mjs --if-possible');
    expect(pkg.scripts.start).toBe('exec node bin/siwe-keys.js serve');
  });
});
