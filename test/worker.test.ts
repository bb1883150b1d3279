import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { calculateJwkThumbprint, decodeProtectedHeader, exportJWK, exportPKCS8, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import { createDomain, createKey, uniqueDomainName } from './support/fixtures.js';
import {
  ADMIN_ACCOUNT,
  get,
  getNonce,
  json,
  newWallet,
  post,
  signIn,
  siweText,
  startWorkerDev,
  stopWorkerDev,
  TEST_ORIGIN,
  workerHarness,
  workersTarget,
} from './support/harness.js';
import type { Account, AuditEvent, ErrorBody, Jwks, Key, Page, Session, VerifyResult } from './support/responses.js';

// What only the Workers entry does: configuration from bindings, the signing key from a wrangler
// secret or from D1, start-up errors. The shared HTTP suites cover the rest on this target.
describe.skipIf(process.env.TEST_WORKERS !== '1')('Workers entry (src/worker.ts) on workerd', () => {
  const vars = { PUBLIC_URL: TEST_ORIGIN, ADMIN_ADDRESSES: ADMIN_ACCOUNT.address };

  it('signs sessions with the JWT_PRIVATE_KEY secret', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const kid = await calculateJwkThumbprint(await exportJWK(publicKey));
    const h = workerHarness(await startWorkerDev({ ...vars, JWT_PRIVATE_KEY: await exportPKCS8(privateKey) }));
    try {
      const s = await signIn(h);
      expect(decodeProtectedHeader(s.token).kid).toBe(kid);
      const jwks = await json<Jwks>(await get(h, '/.well-known/jwks.json'));
      expect(jwks.keys.map((k) => k.kid)).toContain(kid);
      expect(JSON.stringify(jwks)).not.toContain('"d"');
    } finally {
      await h.close();
    }
  });

  // Two workerd start-ups inside the test body (not a hook): 30-50 s on a busy 2-core machine.
  it('without the secret, keeps its generated signing key in D1 so sessions survive a restart', async () => {
    const state = mkdtempSync(join(tmpdir(), 'siwe-keys-d1-restart-'));
    try {
      const first = workerHarness(await startWorkerDev(vars, { persistTo: state }));
      const s = await signIn(first);
      await first.close();
      const second = workerHarness(await startWorkerDev(vars, { persistTo: state }));
      try {
        const res = await get(second, '/v1/me', s.token);
        expect(res.status).toBe(200);
        expect((await json<Account>(res)).address).toBe(s.address);
      } finally {
        await second.close();
      }
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
  }, 120_000);

  it('takes the client IP from CF-Connecting-IP (as the edge sets it) for the audit trail', async () => {
    const h = await workersTarget.start();
    const wallet = newWallet();
    const message = siweText(wallet.address, await getNonce(h), new Date());
    const res = await post(h, '/v1/auth/verify', { message, signature: await wallet.signMessage({ message }) }, undefined, {
      'cf-connecting-ip': '203.0.113.7',
    });
    expect(res.status).toBe(200);
    const events = (await json<Page<AuditEvent>>(await get(h, '/v1/audit', (await json<Session>(res)).token))).data;
    expect(events.find((e: { action: string }) => e.action === 'auth.sign_in')?.ip).toBe('203.0.113.7');
  });

  it('writes last_used_at after the response (the batched flush is handed to waitUntil)', async () => {
    const h = await workersTarget.start();
    const owner = await signIn(h);
    const domainToken = (await createDomain(h, owner.token, uniqueDomainName('lastused'))).token;
    const k = await createKey(h, owner.token, { name: 'last-used' });
    expect(k.last_used_at).toBeNull();
    expect((await json<VerifyResult>(await post(h, '/v1/verify', { key: k.key }, domainToken))).valid).toBe(true);
    // The write happens after the verification answered; poll for it (bounded).
    let lastUsed: string | null = null;
    for (let i = 0; i < 50 && lastUsed === null; i++) {
      lastUsed = (await json<Key>(await get(h, `/v1/keys/${k.id}`, owner.token))).last_used_at;
      if (lastUsed === null) await new Promise((r) => setTimeout(r, 100));
    }
    expect(lastUsed).not.toBeNull();
  });

  it('answers 503 and logs one line naming the variable when the configuration is invalid', async () => {
    const w = await startWorkerDev({ ...vars, SIWE_CHAIN_IDS: 'mainnet' }, { readyStatus: 503 });
    try {
      const res = await fetch(`${w.base}/healthz`);
      expect(res.status).toBe(503);
      const body = await json<ErrorBody>(res);
      expect(body.error.code).toBe('service_unavailable');
      expect(res.headers.get('x-request-id')).toBe(body.error.request_id);
      // wrangler relays the worker's console output a moment after the response.
      for (let i = 0; i < 50 && !w.logs.some((l) => l.includes('invalid configuration')); i++) await new Promise((r) => setTimeout(r, 100));
      expect(w.logs.filter((l) => l.includes('invalid configuration'))[0]).toContain('invalid configuration: SIWE_CHAIN_IDS');
    } finally {
      await stopWorkerDev(w);
    }
  });
});
