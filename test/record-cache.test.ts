import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { createNodeService, type NodeService } from '../src/node.js';
import { generateSecret } from '../src/services/key-format.js';
import { RecordCache } from '../src/services/record-cache.js';
import {
  ADMIN_ACCOUNT,
  TEST_ORIGIN,
  del,
  json,
  nodeTargets,
  patch,
  post,
  signIn,
  signInAdmin,
  type Harness,
  type SignedIn,
} from './support/harness.js';
import { createDomain, createKey, developerAccount, uniqueDomainName, verify } from './support/fixtures.js';
import type { Application, DomainWithToken, KeyWithSecret } from './support/responses.js';

const run = promisify(execFile);

/**
 * Verification answers from in-memory records on Node. Every test first verifies (so the record is
 * cached), then changes it, then verifies again: a write site that forgot to invalidate fails here.
 */
describe.each(nodeTargets())('record cache invalidation on $name', (target) => {
  let h: Harness;
  let admin: SignedIn;
  let net: SignedIn;
  let networkToken: string;
  let publicToken: string;

  beforeAll(async () => {
    h = await target.start();
    admin = await signInAdmin(h);
    net = await signIn(h);
    networkToken = (await createDomain(h, net.token, uniqueDomainName('cache'))).token;
    publicToken = (await createDomain(h, admin.token, uniqueDomainName('cache-pub'), 'public')).token;
  });
  afterAll(async () => h.close());

  it('serves repeated verifications from memory (the record is cached)', async () => {
    const k = await createKey(h, net.token, { name: 'cached' });
    // On PostgreSQL the key's creation NOTIFY can arrive while the first verification reads the row;
    // the cache then (rightly) does not store that read. Within a few verifications it is cached.
    for (let i = 0; i < 50 && (h.service?.deps.records?.size.keys ?? 0) === 0; i++) {
      expect((await verify(h, networkToken, { key: k.key })).valid).toBe(true);
      await new Promise((r) => setTimeout(r, 10));
    }
    const before = h.service?.deps.records?.size.keys ?? 0;
    expect(before).toBeGreaterThan(0);
    expect((await verify(h, networkToken, { key: k.key })).valid).toBe(true);
    expect(h.service?.deps.records?.size.keys).toBe(before);

    // Proof that the answer comes from memory, not from a read: a write that bypasses the invalidation
    // rule (raw SQL on the same handle: no changeSteps, no NOTIFY, no data_version change for this
    // connection) is not seen while the record is cached; the same write through the API is.
    const db = h.service?.deps.db;
    if (!db) throw new Error('node target without a database handle');
    await sql`UPDATE api_keys SET status = 'disabled' WHERE id = ${k.id}`.execute(db);
    expect((await verify(h, networkToken, { key: k.key })).valid).toBe(true);
    await sql`UPDATE api_keys SET status = 'active' WHERE id = ${k.id}`.execute(db);
    await patch(h, `/v1/keys/${k.id}`, { status: 'disabled' }, net.token);
    expect((await verify(h, networkToken, { key: k.key })).code).toBe('disabled');
  });

  it('refuses a disabled key at once and accepts it again once enabled', async () => {
    const k = await createKey(h, net.token, { name: 'c-disable' });
    expect((await verify(h, networkToken, { key: k.key })).valid).toBe(true);
    await patch(h, `/v1/keys/${k.id}`, { status: 'disabled' }, net.token);
    expect((await verify(h, networkToken, { key: k.key })).code).toBe('disabled');
    await patch(h, `/v1/keys/${k.id}`, { status: 'active' }, net.token);
    expect((await verify(h, networkToken, { key: k.key })).valid).toBe(true);
  });

  it('applies changed scopes, models, limits and expiry at once', async () => {
    const k = await createKey(h, net.token, { name: 'c-settings' });
    expect((await verify(h, networkToken, { key: k.key, model: 'm1' })).valid).toBe(true);
    await patch(h, `/v1/keys/${k.id}`, { scopes: ['inference:read'] }, net.token);
    expect((await verify(h, networkToken, { key: k.key })).code).toBe('scope_denied');
    await patch(h, `/v1/keys/${k.id}`, { scopes: ['inference:write'], models: ['m2'] }, net.token);
    expect((await verify(h, networkToken, { key: k.key, model: 'm1' })).code).toBe('model_not_allowed');
    await patch(h, `/v1/keys/${k.id}`, { models: null, limits: { rpm: 7 } }, net.token);
    expect((await verify(h, networkToken, { key: k.key })).ratelimit).toMatchObject({ limit: 7 });
    await patch(h, `/v1/keys/${k.id}`, { limits: { daily_credits: 0 } }, net.token);
    expect((await verify(h, networkToken, { key: k.key, cost: 1 })).code).toBe('api_key_quota_exceeded');
    if (h.clock) {
      const soon = new Date(h.clock.now().getTime() + 60_000).toISOString();
      await patch(h, `/v1/keys/${k.id}`, { expires_at: soon }, net.token);
      h.clock.advance(61_000);
      expect((await verify(h, networkToken, { key: k.key })).code).toBe('expired');
    }
  });

  it('refuses a rotated-out secret at once, or when its grace period ends', async () => {
    const k = await createKey(h, net.token, { name: 'c-rotate' });
    expect((await verify(h, networkToken, { key: k.key })).valid).toBe(true);
    const r1 = await json<KeyWithSecret>(await post(h, `/v1/keys/${k.id}/rotate`, {}, net.token));
    expect((await verify(h, networkToken, { key: k.key })).code).toBe('not_found');
    expect((await verify(h, networkToken, { key: r1.key })).valid).toBe(true);
    const r2 = await json<KeyWithSecret>(await post(h, `/v1/keys/${k.id}/rotate`, { grace_seconds: 60 }, net.token));
    expect((await verify(h, networkToken, { key: r1.key })).valid).toBe(true);
    expect((await verify(h, networkToken, { key: r2.key })).valid).toBe(true);
    if (h.clock) {
      h.clock.advance(61_000);
      expect((await verify(h, networkToken, { key: r1.key })).code).toBe('not_found');
      expect((await verify(h, networkToken, { key: r2.key })).valid).toBe(true);
    }
  });

  it('refuses a deleted key at once', async () => {
    const k = await createKey(h, net.token, { name: 'c-delete' });
    expect((await verify(h, networkToken, { key: k.key })).valid).toBe(true);
    expect((await del(h, `/v1/keys/${k.id}`, net.token)).status).toBe(204);
    expect((await verify(h, networkToken, { key: k.key })).code).toBe('not_found');
  });

  it('refuses a deleted domain and a rotated-out domain token at once', async () => {
    const k = await createKey(h, net.token, { name: 'c-domain' });
    const d = await createDomain(h, net.token, uniqueDomainName('c-dom'));
    expect((await verify(h, d.token, { key: k.key })).valid).toBe(true);
    const rotated = await json<DomainWithToken>(await post(h, `/v1/domains/${d.id}/token/rotate`, {}, net.token));
    expect((await post(h, '/v1/verify', { key: k.key }, d.token)).status).toBe(401);
    expect((await verify(h, rotated.token, { key: k.key })).valid).toBe(true);
    expect((await del(h, `/v1/domains/${d.id}`, net.token)).status).toBe(204);
    expect((await post(h, '/v1/verify', { key: k.key }, rotated.token)).status).toBe(401);
  });

  it('accepts a key created after its secret was looked up (negative entries never hide a new record)', async () => {
    const ghost = generateSecret('sk', 'net');
    expect((await verify(h, networkToken, { key: ghost })).code).toBe('not_found');
    const k = await createKey(h, net.token, { name: 'c-new' });
    expect((await verify(h, networkToken, { key: k.key })).valid).toBe(true);
  });

  it('enforces a balance from the moment an admin grants credits', async () => {
    const u = await signIn(h);
    const k = await createKey(h, u.token, { name: 'c-credits' });
    expect(await verify(h, networkToken, { key: k.key })).toMatchObject({ valid: true, credits_remaining: null });
    const res = await post(h, `/v1/admin/accounts/${u.address}/credits`, { delta: 5, reason: 'test' }, admin.token);
    expect(res.status).toBe(200);
    expect(await verify(h, networkToken, { key: k.key })).toMatchObject({ valid: true, credits_remaining: 5 });
    expect((await verify(h, networkToken, { key: k.key, cost: 6 })).code).toBe('billing_shortfall');
  });

  it('reflects a trial approval on the keys the account already had at once', async () => {
    const u = await signIn(h);
    const k = await createKey(h, u.token, { name: 'c-trial' });
    expect(await verify(h, networkToken, { key: k.key })).toMatchObject({ valid: true, credits_remaining: null });
    const app = await json<Application>(await post(h, '/v1/trial/applications', { use_case: 'cache' }, u.token));
    expect((await post(h, `/v1/admin/trial/applications/${app.id}/approve`, { credits: 321 }, admin.token)).status).toBe(200);
    // The approval disables the account's network keys: the cached record sees it at once.
    expect((await verify(h, networkToken, { key: k.key })).code).toBe('disabled');
    // Re-enabled, the key is still refused on network domains: the cached record carries the plan.
    expect((await patch(h, `/v1/keys/${k.id}`, { status: 'active' }, u.token)).status).toBe(200);
    expect((await verify(h, networkToken, { key: k.key })).code).toBe('key_type_mismatch');
  });

  it('claims rpm slots in blocks and still allows exactly the limit', async () => {
    const k = await createKey(h, net.token, { name: 'c-rpm-block', limits: { rpm: 64 } });
    if (h.clock) {
      // Keep the burst inside one minute of the injected clock.
      const into = h.clock.now().getTime() % 60_000;
      if (into > 50_000) h.clock.advance(60_000 - into + 1_000);
    }
    const answers = [];
    for (let i = 0; i < 70; i++) answers.push(await verify(h, networkToken, { key: k.key }));
    expect(answers.filter((a) => a.valid)).toHaveLength(64);
    expect(answers.slice(64).every((a) => a.code === 'rate_limited')).toBe(true);
    expect(answers.slice(0, 64).map((a) => a.ratelimit?.remaining)).toEqual(Array.from({ length: 64 }, (_, i) => 63 - i));
  });

  it('hands back the slot of a refused charge, and never claims past the limit', async () => {
    const k = await createKey(h, net.token, { name: 'c-rpm-giveback', limits: { rpm: 2 } });
    const blocks = h.service?.deps.rpm;
    expect(blocks).toBeDefined();
    const minute = 1_000_000;
    expect(await blocks?.take(k.id, 2, minute)).toBe(1);
    expect(await blocks?.take(k.id, 2, minute)).toBe(2);
    expect(await blocks?.take(k.id, 2, minute)).toBeNull();
    blocks?.giveBack(k.id, 2, minute);
    expect(await blocks?.take(k.id, 2, minute)).toBe(2);
    expect(await blocks?.take(k.id, 2, minute)).toBeNull();
  });
});

describe('record cache bounds', () => {
  const rec = (id: string) => ({
    id,
    account: 'a',
    type: 'network' as const,
    status: 'active' as const,
    scopes: [],
    models: null,
    rpm: null,
    daily_credits: null,
    monthly_credits: null,
    expires_at: null,
    plan: 'network' as const,
    creditsEnforced: false,
    prevUntil: null,
    verifiedBy: new Map<string, number>(),
  });

  it('evicts the least recently used record beyond its size', () => {
    const c = new RecordCache({ maxKeys: 2 });
    c.putKey('h1', rec('k1'), c.gen);
    c.putKey('h2', rec('k2'), c.gen);
    c.getKey('h1');
    c.putKey('h3', rec('k3'), c.gen);
    expect(c.getKey('h2')).toBeUndefined();
    expect(c.getKey('h1')?.id).toBe('k1');
    expect(c.getKey('h3')?.id).toBe('k3');
  });

  it('bounds negative entries in number and time', () => {
    const c = new RecordCache({ maxNegative: 2, negativeTtlMs: 0 });
    c.putKey('n1', null, c.gen);
    expect(c.getKey('n1')).toBeUndefined();
    const d = new RecordCache({ maxNegative: 2 });
    for (const h of ['n1', 'n2', 'n3']) d.putKey(h, null, d.gen);
    expect(d.size.negative).toBe(2);
    expect(d.getKey('n1')).toBeUndefined();
    expect(d.getKey('n3')).toBeNull();
  });

  it('does not store a row read before an invalidation', () => {
    const c = new RecordCache();
    const gen = c.gen;
    c.apply({ key: 'k1' });
    c.putKey('h1', rec('k1'), gen);
    expect(c.getKey('h1')).toBeUndefined();
  });

  it('drops everything when the change counter moves (checked once per timer tick), and stores nothing while disabled', async () => {
    let version = 1;
    const c = new RecordCache({ changeCounter: () => version });
    c.putKey('h1', rec('k1'), c.gen);
    expect(c.getKey('h1')?.id).toBe('k1');
    version = 2;
    await new Promise((r) => setTimeout(r, 2));
    expect(c.getKey('h1')).toBeUndefined();
    c.setEnabled(false);
    c.putKey('h1', rec('k1'), c.gen);
    expect(c.getKey('h1')).toBeUndefined();
  });
});

/** The admin CLI writes the same SQLite file from another process: the service sees it at once. */
describe('record cache and writes from another process (SQLite file)', () => {
  let dir: string;
  let svc: NodeService;
  let h: Harness;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'siwe-keys-cache-'));
    env = {
      ...process.env,
      DATABASE_URL: `file:${join(dir, 'db.sqlite')}`,
      PUBLIC_URL: TEST_ORIGIN,
      TRIAL_CREDITS: '555',
      ADMIN_ADDRESSES: ADMIN_ACCOUNT.address,
      NONCE_RATE_LIMIT: '0',
      SIGNIN_RATE_LIMIT: '0',
    };
    svc = await createNodeService(loadConfig(env));
    h = {
      name: 'cli',
      logs: [],
      service: svc,
      request: async (p, i) => svc.app.request(new URL(p, TEST_ORIGIN).toString(), i),
      close: () => svc.close(),
    };
  });
  afterAll(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers from the new state right after `siwe-keys admin approve` in another process', async () => {
    const u = await signIn(h);
    const op = await signIn(h);
    const domainToken = (await createDomain(h, op.token, uniqueDomainName('cli'))).token;
    const k = await createKey(h, u.token, { name: 'cli-cached' });
    expect(await verify(h, domainToken, { key: k.key })).toMatchObject({ valid: true, credits_remaining: null });
    expect(svc.deps.records?.size.keys).toBeGreaterThan(0);
    const app = await json<Application>(await post(h, '/v1/trial/applications', { use_case: 'cli' }, u.token));
    await run(process.execPath, ['bin/siwe-keys.js', 'admin', 'approve', app.id], { env });
    // The approval (written by the other process) disabled the key: the cached record was dropped.
    expect((await verify(h, domainToken, { key: k.key })).code).toBe('disabled');
  });
});
