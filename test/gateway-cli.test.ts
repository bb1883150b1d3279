import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compiledCli } from './support/compiled.js';
import { closedPortUrl, startFakeUpstream, type FakeUpstream } from './support/fake-upstream.js';

// The command an operator runs (`siwe-keys gateway ...`, which `npm run gateway` also runs),
// started as a real process.

function run(args: string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, compiledCli('gateway', ...args), {
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function collect(child: ChildProcess): { out: () => string; err: () => string; exit: Promise<number | null> } {
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  return { out: () => out, err: () => err, exit: new Promise((r) => child.once('exit', (code) => r(code))) };
}

describe('siwe-keys gateway command', () => {
  let upstream: FakeUpstream;
  let dir: string;
  beforeAll(async () => {
    upstream = await startFakeUpstream();
    dir = mkdtempSync(join(tmpdir(), 'siwe-keys-gw-cli-'));
  });
  afterAll(async () => {
    await upstream.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints "listening on http://HOST:PORT", serves /healthz and stops on SIGTERM', async () => {
    const pricing = join(dir, 'pricing.json');
    writeFileSync(pricing, JSON.stringify({ default: { input: 1, output: 2 }, models: { 'llama-3-8b': { input: 1, output: 1 } } }));
    const child = run(['--service', await closedPortUrl(), '--upstream', upstream.url, '--port', '0', '--pricing', pricing], {
      GATEWAY_DOMAIN_TOKEN: 'dt_from_the_environment',
      GATEWAY_HOST: '127.0.0.1',
    });
    const io = collect(child);
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout?.on('data', () => {
        const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(io.out());
        if (m) resolve(m[1]);
      });
      child.once('exit', (code) => reject(new Error(`exited ${code}: ${io.err()}`)));
    });
    const res = await fetch(`${url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
    // the key service is down: fail closed
    const refused = await fetch(`${url}/v1/models`, { headers: { authorization: 'Bearer sk_net_whatever' } });
    expect(refused.status).toBe(503);
    child.kill('SIGTERM');
    expect(await io.exit).toBe(0);
    expect(io.err()).not.toContain('dt_from_the_environment');
    expect(io.err()).not.toContain('sk_net_whatever');
  });

  it('runs --workers 2 processes on one port, and SIGTERM stops them all', async () => {
    const child = run(['--service', await closedPortUrl(), '--upstream', upstream.url, '--port', '0', '--workers', '2'], {
      GATEWAY_DOMAIN_TOKEN: 'dt_x',
      GATEWAY_HOST: '127.0.0.1',
    });
    const io = collect(child);
    try {
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout?.on('data', () => {
          const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(io.out());
          if (m) resolve(m[1]);
        });
        child.once('exit', (code) => reject(new Error(`exited ${code}: ${io.err()}`)));
      });
      const pids = [...io.err().matchAll(/worker (\d+) listening/g)].map((m) => Number(m[1]));
      expect(new Set(pids).size).toBe(2);
      for (let i = 0; i < 4; i++) expect((await fetch(`${url}/healthz`, { headers: { connection: 'close' } })).status).toBe(200);
      child.kill('SIGTERM');
      expect(await io.exit).toBe(0);
      await new Promise((r) => setTimeout(r, 200));
      for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
    } finally {
      // A failed assertion must not leave the supervisor and its workers running after the suite.
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });

  it('refuses a bad --workers with one line naming it', async () => {
    const io = collect(
      run(['--service', 'http://127.0.0.1:1', '--upstream', 'http://127.0.0.1:2', '--domain-token', 'dt_x', '--workers', 'many']),
    );
    expect(await io.exit).toBe(2);
    expect(io.err().trim()).toBe(
      'invalid configuration: --workers / GATEWAY_WORKERS: expected a whole number from 1 to 256, or "auto" (one per core)',
    );
  });

  it('stops with one line naming a missing setting', async () => {
    const io = collect(run(['--service', 'http://127.0.0.1:1', '--domain-token', 'dt_x']));
    expect(await io.exit).toBe(2);
    expect(io.err().trim()).toBe('invalid configuration: --upstream / GATEWAY_UPSTREAM: required');
  });

  it('stops with one line naming an unreadable pricing file', async () => {
    const io = collect(
      run([
        '--service',
        'http://127.0.0.1:1',
        '--upstream',
        'http://127.0.0.1:2',
        '--domain-token',
        'dt_x',
        '--pricing',
        join(dir, 'missing.json'),
      ]),
    );
    expect(await io.exit).toBe(2);
    expect(io.err().trim()).toMatch(/^invalid configuration: --pricing \/ GATEWAY_PRICING: cannot read .*missing\.json \(ENOENT\)$/);
  });
});
