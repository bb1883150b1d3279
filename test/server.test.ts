import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PrivateKeyAccount } from 'viem/accounts';
import { createSiweMessage } from 'viem/siwe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compiledCli } from './support/compiled.js';
import { loadConfig } from '../src/config.js';
import { startNodeServer, type NodeService } from '../src/node.js';
import { freePort, json, newWallet } from './support/harness.js';
import type { Account, ErrorBody, Nonce, Session } from './support/responses.js';

/**
 * The service as users run it: a real listening socket, real HTTP with fetch, and a client that
 * builds its message with viem's own createSiweMessage (not our builder).
 */

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Signs in over HTTP exactly as a dApp would: nonce, viem message, wallet signature, verify. */
async function signInOverHttp(baseUrl: string, publicUrl: string, account: PrivateKeyAccount): Promise<{ token: string; body: Session }> {
  const nonceRes = await fetch(`${baseUrl}/v1/auth/nonce`);
  expect(nonceRes.status).toBe(200);
  const { nonce } = await json<Nonce>(nonceRes);
  const url = new URL(publicUrl);
  const message = createSiweMessage({
    domain: url.host,
    address: account.address,
    statement: 'Sign in to siwe-keys.',
    uri: publicUrl,
    version: '1',
    chainId: 1,
    nonce,
    issuedAt: new Date(),
  });
  const signature = await account.signMessage({ message });
  const res = await fetch(`${baseUrl}/v1/auth/verify`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ message, signature }),
  });
  // The session, or an error (the assertion below fails on one).
  const body = await json<Session & Partial<ErrorBody>>(res);
  expect([res.status, body.error?.code]).toEqual([200, undefined]);
  return { token: body.token, body };
}

describe('the real Node server over HTTP', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'siwe-keys-server-'));
  // The port is chosen by the OS (PORT 0), so the public origin cannot be derived from it: it is set
  // the way a deployment behind a TLS proxy sets it.
  const publicUrl = 'https://keys.example.org';
  let svc: NodeService;

  beforeAll(async () => {
    const config = loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      PUBLIC_URL: publicUrl,
      DATABASE_URL: `file:${path.join(dir, 'server.db')}`,
      LOG_LEVEL: 'silent',
    });
    svc = await startNodeServer(config);
  });
  afterAll(async () => {
    await svc?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('listens on a free port and reports its real address', () => {
    expect(svc.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(svc.url).not.toBe('http://127.0.0.1:0');
  });

  it('signs in a viem local account, serves /v1/me, and refuses the token after logout', async () => {
    const account = newWallet();
    const { token, body } = await signInOverHttp(svc.url!, publicUrl, account);
    expect(body.account.address).toBe(account.address);

    const me = await fetch(`${svc.url}/v1/me`, { headers: { authorization: `Bearer ${token}` } });
    expect(me.status).toBe(200);
    expect((await json<Account>(me)).address).toBe(account.address);

    const logout = await fetch(`${svc.url}/v1/auth/logout`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    expect(logout.status).toBe(204);

    const after = await fetch(`${svc.url}/v1/me`, { headers: { authorization: `Bearer ${token}` } });
    expect(after.status).toBe(401);
    expect((await json<ErrorBody>(after)).error.code).toBe('invalid_session');
  });

  it('refuses a body over 64 KiB sent over the socket with 413', async () => {
    const res = await fetch(`${svc.url}/v1/auth/verify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ message: 'x'.repeat(70 * 1024), signature: '0x00' }),
    });
    expect(res.status).toBe(413);
    expect((await json<ErrorBody>(res)).error.code).toBe('payload_too_large');
  });
});

// ---- the CLI, as `npm start` runs it ----

interface Run {
  child: ChildProcessWithoutNullStreams;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

function runCli(args: string[], env: Record<string, string>): Run {
  const child = spawn(process.execPath, compiledCli(...args), {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
  });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

async function waitForLine(run: Run, line: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const check = (): void => {
      if (run.stdout().split('\n').includes(line)) {
        run.child.stdout.off('data', check);
        resolve();
      }
    };
    run.child.stdout.on('data', check);
    void run.exited.then((code) => reject(new Error(`exited with ${code} before "${line}"; stderr: ${run.stderr()}`)));
    check();
  });
}

describe('siwe-keys serve (npm start)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'siwe-keys-cli-'));
  const children: Run[] = [];
  afterAll(async () => {
    for (const r of children) {
      if (r.child.exitCode === null && r.child.signalCode === null) {
        r.child.kill('SIGKILL');
        await r.exited;
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('migrates, prints "listening on http://127.0.0.1:PORT", serves /healthz and a sign-in, and stops on SIGTERM', async () => {
    const port = await freePort();
    // Only PORT and a throw-away database: PUBLIC_URL and SIWE_DOMAINS take their defaults.
    const run = runCli(['serve'], { PORT: String(port), DATABASE_URL: `file:${path.join(dir, 'nested', 'cli.db')}` });
    children.push(run);
    await waitForLine(run, `listening on http://127.0.0.1:${port}`);

    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ ok: true });

    const account = newWallet();
    const { token } = await signInOverHttp(`http://127.0.0.1:${port}`, `http://localhost:${port}`, account);
    const me = await fetch(`http://127.0.0.1:${port}/v1/me`, { headers: { authorization: `Bearer ${token}` } });
    expect((await json<Account>(me)).address).toBe(account.address);

    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
  });

  it('stops with one line naming the variable when the configuration is invalid', async () => {
    const run = runCli(['serve'], { SIWE_CHAIN_IDS: 'abc', DATABASE_URL: `file:${path.join(dir, 'bad.db')}` });
    children.push(run);
    const code = await run.exited;
    expect(code).not.toBe(0);
    const lines = run.stderr().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('SIWE_CHAIN_IDS');
    expect(run.stdout()).not.toContain('listening');
  });
});
