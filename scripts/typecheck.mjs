#!/usr/bin/env node
// `npm run typecheck`: the three TypeScript configurations, checked at the same time.
//   tsconfig.json         the Node code, tests, scripts and packages
//   tsconfig.worker.json  what src/worker.ts reaches, without Node types (a Node built-in fails)
//   tsconfig.web.json     the console (src/web/main.ts), browser types only
// Each is its own program (different `types`), so none can reuse another's work; run one after
// another they took ~80 + ~55 + ~15 s on a busy 2-core machine, and tsc uses one core. Each
// one's output is printed whole when it ends (not interleaved); the exit code is non-zero when
// any of them failed.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const configs = ['tsconfig.json', 'tsconfig.worker.json', 'tsconfig.web.json'];

function check(config) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, [tsc, '--noEmit', '-p', config], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    const out = [];
    child.stdout.on('data', (c) => out.push(c));
    child.stderr.on('data', (c) => out.push(c));
    child.once('error', (err) => resolve({ config, code: 1, text: `${err.message}\n`, seconds: 0 }));
    child.once('close', (code, signal) =>
      resolve({
        config,
        code: signal ? 1 : (code ?? 1),
        text: Buffer.concat(out).toString('utf8'),
        seconds: (Date.now() - started) / 1000,
      }),
    );
  });
}

const results = await Promise.all(configs.map(check));
let failed = 0;
for (const r of results) {
  if (r.text) process.stdout.write(r.text.endsWith('\n') ? r.text : `${r.text}\n`);
  console.error(`typecheck: ${r.config} ${r.code === 0 ? 'ok' : `failed (exit ${r.code})`} in ${r.seconds.toFixed(1)} s`);
  if (r.code !== 0) failed += 1;
}
process.exit(failed ? 1 : 0);
