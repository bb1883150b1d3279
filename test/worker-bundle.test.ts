import { join } from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');

// The same resolution wrangler uses for a Worker without nodejs_compat (platform browser,
// conditions workerd/worker/browser): a Node built-in anywhere in the import graph fails the build.
async function bundleWorker() {
  return build({
    absWorkingDir: ROOT,
    entryPoints: ['src/worker.ts'],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    conditions: ['workerd', 'worker', 'browser'],
    metafile: true,
    logLevel: 'silent',
  });
}

describe('Workers bundle of src/worker.ts', () => {
  it('builds without Node built-ins, as workerd without nodejs_compat needs', async () => {
    const res = await bundleWorker();
    expect(res.errors).toEqual([]);
    const imports = Object.values(res.metafile.outputs).flatMap((o) => o.imports.map((i) => i.path));
    expect(imports.filter((p) => p.startsWith('node:'))).toEqual([]);
  });

  it('pulls in neither the Node entry nor its database drivers', async () => {
    const res = await bundleWorker();
    const inputs = Object.keys(res.metafile.inputs);
    const forbidden = [
      'src/node.ts',
      'src/cli.ts',
      'src/db/dialects/sqlite.ts',
      'src/db/dialects/postgres.ts',
      'node_modules/better-sqlite3/',
      'node_modules/pg/',
      'node_modules/@hono/node-server/',
    ];
    expect(inputs.filter((f) => forbidden.some((bad) => f.startsWith(bad)))).toEqual([]);
    // And it is the real app: the D1 dialect and the routes are in it.
    expect(inputs).toContain('src/db/dialects/d1.ts');
    expect(inputs).toContain('src/app.ts');
  });
});
