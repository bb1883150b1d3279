import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseEnv, get, json, newWallet, patch, post, signIn, signInAdmin, siweText, type Harness } from './support/harness.js';
import { createDomain, createKey, developerAccount, uniqueDomainName, verify } from './support/fixtures.js';
import { compiledCli } from './support/compiled.js';
import { createPgTestDatabase } from './support/postgres.js';
import { freePort, startServeProcess } from './support/process.js';
import type { Account, Nonce } from './support/responses.js';

const pgUrl = process.env.TEST_POSTGRES_URL;

/**
 * A harness that opens a new TCP connection for every request: node:cluster hands each new
 * connection to the next worker in turn, so consecutive requests are answered by different workers
 * (a keep-alive connection would stay on one).
 */
function freshConnections(base: string): Harness {
  const url = new URL(base);
  return {
    name: base,
    logs: [],
    close: async () => undefined,
    request: (path, init = {}) =>
      new Promise<Response>((resolve, reject) => {
        const headers = new Headers(init.headers);
        const req = request(
          {
            host: url.hostname,
            port: url.port,
            path,
            method: init.method ?? 'GET',
            agent: false,
            headers: { ...Object.fromEntries(headers), connection: 'close' },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (d: Buffer) => chunks.push(d));
            res.on('end', () => {
              const h = new Headers();
              for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') h.set(k, v);
              const status = res.statusCode ?? 0;
              resolve(new Response(status === 204 || status === 304 ? null : Buffer.concat(chunks), { status, headers: h }));
            });
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        if (init.body !== undefined && init.body !== null) req.write(init.body as string);
        req.end();
      }),
  };
}

/** pids from the primary's "worker PID listening (i/N)" lines. */
function listeningPids(output: string[]): number[] {
  return output.map((l) => /^worker (\d+) listening/.exec(l)).flatMap((m) => (m ? [Number(m[1])] : []));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(what: string, ok: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const databases: { name: string; skip: boolean; create: () => Promise<{ url: string; drop(): Promise<void> }> }[] = [
  {
    name: 'SQLite (one file, WAL)',
    skip: false,
    create: async () => {
      const dir = mkdtempSync(join(tmpdir(), 'siwe-keys-cluster-'));
      return { url: `file:${join(dir, 'db.sqlite')}`, drop: async () => rmSync(dir, { recursive: true, force: true }) };
    },
  },
  { name: 'PostgreSQL (a pool per worker)', skip: !pgUrl, create: () => createPgTestDatabase(pgUrl as string) },
];

for (const database of databases) {
  describe.skipIf(database.skip)(`siwe-keys serve --workers 2 on ${database.name}`, () => {
    let db: { url: string; drop(): Promise<void> };
    let server: Awaited<ReturnType<typeof startServeProcess>>;
    let h: Harness;

    beforeAll(async () => {
      db = await database.create();
      const env = baseEnv({ DATABASE_URL: db.url, LOG_LEVEL: 'warn', HOST: '127.0.0.1', PORT: String(await freePort()) });
      server = await startServeProcess(env, ['--workers', '2']);
      h = freshConnections(server.url);
    });
    afterAll(async () => {
      await server?.stop();
      await db?.drop();
    });

    it('runs two worker processes beside the primary, on one port', () => {
      const pids = listeningPids(server.output);
      expect(new Set(pids).size).toBe(2);
      expect(pids).not.toContain(server.child.pid);
      expect(pids.every(alive)).toBe(true);
    });

    it('accepts a nonce exactly once, whichever worker answers', async () => {
      const wallet = newWallet();
      const { nonce } = await json<Nonce>(await get(h, '/v1/auth/nonce'));
      const message = siweText(wallet.address, nonce, new Date());
      const signature = await wallet.signMessage({ message });
      const answers = [];
      for (let i = 0; i < 4; i++) answers.push((await post(h, '/v1/auth/verify', { message, signature })).status);
      expect(answers).toEqual([200, 401, 401, 401]);
    });

    it('refuses a logged-out session on the very next request, whichever worker answers', async () => {
      const s = await signIn(h);
      // fresh connections alternate between the workers: both know the session
      for (let i = 0; i < 4; i++) expect((await get(h, '/v1/me', s.token)).status).toBe(200);
      expect((await post(h, '/v1/auth/logout', {}, s.token)).status).toBe(204);
      const after = [];
      for (let i = 0; i < 4; i++) after.push((await get(h, '/v1/me', s.token)).status);
      expect(after).toEqual([401, 401, 401, 401]);
    });

    it('refuses a disabled key on the very next verification, whichever worker answers', async () => {
      const op = await signIn(h);
      const domainToken = (await createDomain(h, op.token, uniqueDomainName('cluster'))).token;
      const k = await createKey(h, op.token, { name: 'cluster' });
      for (let i = 0; i < 2; i++) expect((await verify(h, domainToken, { key: k.key })).valid).toBe(true);
      expect((await patch(h, `/v1/keys/${k.id}`, { status: 'disabled' }, op.token)).status).toBe(200);
      const after = [];
      for (let i = 0; i < 4; i++) after.push((await verify(h, domainToken, { key: k.key })).code);
      expect(after).toEqual(['disabled', 'disabled', 'disabled', 'disabled']);
    });

    it('never overspends across workers: 50 parallel charges of 10 against 200 give exactly 20 valid', async () => {
      const admin = await signInAdmin(h);
      const pub = (await createDomain(h, admin.token, uniqueDomainName('pub'), 'public')).token;
      const dev = await developerAccount(h, 200, admin);
      const k = await createKey(h, dev.token, { name: 'race' });
      const answers = await Promise.all(Array.from({ length: 50 }, () => verify(h, pub, { key: k.key, cost: 10 })));
      expect(answers.filter((x) => x.valid)).toHaveLength(20);
      expect(answers.filter((x) => !x.valid).every((x) => x.code === 'billing_shortfall')).toBe(true);
      expect(await json<Account>(await get(h, '/v1/me', dev.token))).toMatchObject({ plan: 'developer', credits: 0 });
    });

    it('replaces a crashed worker and keeps answering meanwhile', async () => {
      const before = listeningPids(server.output);
      const victim = before[before.length - 1];
      process.kill(victim, 'SIGKILL');
      await until('the primary to see the crash', () => server.output.some((l) => l.startsWith(`worker ${victim} exited`)));
      // the other worker answers while the replacement starts
      for (let i = 0; i < 4; i++) expect((await get(h, '/healthz')).status).toBe(200);
      await until('a replacement worker', () => listeningPids(server.output).length > before.length);
      const replacement = listeningPids(server.output).at(-1) as number;
      expect(before).not.toContain(replacement);
      expect(alive(replacement)).toBe(true);
      for (let i = 0; i < 4; i++) expect((await get(h, '/healthz')).status).toBe(200);
    });

    it('drains every worker on SIGTERM: a request in flight is answered, then all exit 0', async () => {
      const pids = [...new Set(listeningPids(server.output))].filter(alive);
      expect(pids.length).toBe(2);
      const url = new URL(server.url);
      // A request whose body is still arriving when the signal comes.
      let sent!: () => void;
      const headersSent = new Promise<void>((r) => (sent = r));
      const answer = new Promise<number>((resolve, reject) => {
        const req = request(
          {
            host: url.hostname,
            port: url.port,
            path: '/v1/auth/verify',
            method: 'POST',
            agent: false,
            headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.on('error', reject);
        req.write('{"message": "not a siwe message",', () => sent());
        void headersSent.then(() =>
          setTimeout(() => {
            server.child.kill('SIGTERM');
            setTimeout(() => req.end(' "signature": "0x00"}'), 300);
          }, 200),
        );
      });
      const exited = new Promise<number | null>((r) => server.child.once('exit', r));
      expect(await answer).toBe(400);
      expect(await exited).toBe(0);
      await until('the workers to exit', () => pids.every((p) => !alive(p)), 15_000);
    });
  });
}

describe('siwe-keys serve with WORKERS', () => {
  it('takes the worker count from WORKERS when there is no flag', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'siwe-keys-cluster-env-'));
    const server = await startServeProcess({
      DATABASE_URL: `file:${join(dir, 'db.sqlite')}`,
      LOG_LEVEL: 'warn',
      PORT: String(await freePort()),
      WORKERS: '2',
    });
    try {
      expect(new Set(listeningPids(server.output)).size).toBe(2);
      expect((await freshConnections(server.url).request('/healthz')).status).toBe(200);
    } finally {
      expect(await server.stop()).toBe(0);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('siwe-keys serve --workers: start-up failures', () => {
  it('exits 1 when the workers cannot start (the port is taken), instead of restarting them forever', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'siwe-keys-cluster-fail-'));
    const env = { DATABASE_URL: `file:${join(dir, 'db.sqlite')}`, LOG_LEVEL: 'warn', PORT: String(await freePort()) };
    const first = await startServeProcess(env);
    try {
      const child = spawn(process.execPath, compiledCli('serve', '--workers', '2'), {
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const code = await new Promise<number | null>((r) => child.once('exit', r));
      expect(code).toBe(1);
      expect(out).toMatch(/EADDRINUSE/);
      expect(out).toMatch(/before the service was up; stopping/);
      expect(out).not.toMatch(/^listening on/m);
    } finally {
      expect(await first.stop()).toBe(0);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('siwe-keys serve --workers: bad values', () => {
  for (const bad of ['0', '-1', 'two', '1.5', '257']) {
    it(`refuses --workers ${bad} with one line naming the setting`, async () => {
      const child = spawn(process.execPath, compiledCli('serve', `--workers=${bad}`), {
        env: { PATH: process.env.PATH, DATABASE_URL: ':memory:' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const code = await new Promise<number | null>((r) => child.once('exit', r));
      expect(code).toBe(1);
      expect(err.trim()).toBe(
        'invalid configuration: --workers / WORKERS: expected a whole number from 1 to 256, or "auto" (one per core)',
      );
    });
  }
});
