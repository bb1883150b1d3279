import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_ACCOUNT, TEST_ORIGIN, get, json, signIn, type Harness, httpHarness } from './support/harness.js';
import { freePort, startServeProcess } from './support/process.js';
import type { Jwks } from './support/responses.js';

const run = promisify(execFile);

describe('operations on the real process', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'siwe-keys-ops-'));
    env = {
      DATABASE_URL: `file:${join(dir, 'db.sqlite')}`,
      PUBLIC_URL: TEST_ORIGIN,
      ADMIN_ADDRESSES: ADMIN_ACCOUNT.address,
      LOG_LEVEL: 'warn',
      NONCE_RATE_LIMIT: '0',
      SIGNIN_RATE_LIMIT: '0',
    };
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const harness = (url: string): Harness => httpHarness(url);

  it('drains an in-flight request on SIGTERM, then exits 0 and refuses new connections', async () => {
    const port = await freePort();
    const srv = await startServeProcess({ ...env, PORT: String(port) });
    // A request whose body is still arriving when the signal comes.
    const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          path: '/v1/auth/verify',
          method: 'POST',
          headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
        },
        (res) => {
          let body = '';
          res.on('data', (d) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.write('{"message": "not a siwe message",');
      setTimeout(() => {
        srv.child.kill('SIGTERM');
        setTimeout(() => req.end(' "signature": "0x00"}'), 300);
      }, 200);
    });
    const res = await answer;
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body).error.code).toBe('invalid_siwe_message');
    expect(await srv.stop()).toBe(0);
    expect(srv.output.join('\n')).toContain('SIGTERM: draining in-flight requests');
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
  });

  it('rotates the session signing key: old sessions keep working, new ones use the new kid', async () => {
    const first = await startServeProcess({ ...env, PORT: String(await freePort()) });
    const h1 = harness(first.url);
    const before = await signIn(h1);
    const oldKids = (await json<Jwks>(await get(h1, '/.well-known/jwks.json'))).keys.map((k) => k.kid);
    const out = await run(process.execPath, ['bin/siwe-keys.js', 'rotate-signing-key'], { env: { ...process.env, ...env } });
    const newKid = /new session signing key (\S+);/.exec(out.stdout)?.[1];
    expect(newKid).toBeTruthy();
    expect(oldKids).not.toContain(newKid);
    await first.stop();

    const second = await startServeProcess({ ...env, PORT: String(await freePort()) });
    const h2 = harness(second.url);
    try {
      expect((await get(h2, '/v1/me', before.token)).status).toBe(200);
      const after = await signIn(h2);
      const header = JSON.parse(Buffer.from(after.token.split('.')[0], 'base64url').toString());
      expect(header.kid).toBe(newKid);
      const jwks = (await json<Jwks>(await get(h2, '/.well-known/jwks.json'))).keys.map((k) => k.kid);
      expect(jwks).toEqual(expect.arrayContaining([newKid, ...oldKids]));
    } finally {
      await second.stop();
    }
  });
});
