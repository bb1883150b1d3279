import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Kysely } from 'kysely';
import { ManualClock } from '../clock.js';
import { REFUSAL_CODES } from '../contract/verify-codes.js';
import { openSqlite } from '../db/dialects/sqlite.js';
import { upsertAccountOnSignInQuery } from '../db/repositories/accounts.js';
import { migrateToLatest } from '../db/migrate.js';
import type { Database, KeyUpdate } from '../db/schema.js';
import type { Actor } from './actor.js';
import { createDomain } from './domains.js';
import { generateSecret } from './key-format.js';
import { createKey } from './keys.js';
import { LastUsedTracker } from './last-used.js';
import { minuteWindow } from './windows.js';
import { type VerifyDeps, type VerifyInput, verifyKey } from './verify.js';

const PREFIX = 'sk';
const wallet = '0x2222222222222222222222222222222222222222';
const actor: Actor = {
  kind: 'session',
  address: wallet,
  roles: ['user'],
  sid: 'ses_1',
  request: { requestId: 'r', ip: null, userAgent: null },
};

/**
 * One key made to fail every check at once; each step repairs the check the answer named, so the
 * next answer must be the next code of the contract's refusal order.
 */
describe('verifyKey refusal order', () => {
  const clock = new ManualClock('2026-03-01T12:00:30.000Z');
  let db: Kysely<Database>;
  let deps: VerifyDeps;
  let secret: string;
  let keyId: string;
  let domain: { id: string; visibility: 'network' | 'public' };

  beforeAll(async () => {
    db = openSqlite(':memory:').db;
    await migrateToLatest(db);
    const now = clock.now().getTime();
    await upsertAccountOnSignInQuery(db, wallet, now).execute();
    const made = await createKey({ db, clock, keyPrefix: PREFIX, maxKeysPerAccount: 10 }, actor, { name: 'k' });
    secret = made.secret;
    keyId = made.key.id;
    domain = (await createDomain({ db, clock, keyPrefix: PREFIX, maxDomainsPerAccount: 10 }, actor, { name: 'node.example.org' })).domain;
    deps = { db, keyPrefix: PREFIX, lastUsed: new LastUsedTracker(db) };
  });
  afterAll(() => db.destroy());

  const setKey = (set: KeyUpdate) => db.updateTable('api_keys').set(set).where('id', '=', keyId).execute();
  const setCredits = (credits: number | null) => db.updateTable('accounts').set({ credits }).where('address', '=', wallet).execute();
  const ask = async (input: Partial<VerifyInput> = {}): Promise<string> =>
    (await verifyKey(deps, domain, { key: secret, scope: 'analytics:read', model: 'other', cost: 1, ...input }, clock.now())).code;

  it('answers the first failing check, in the contract order, for a key failing all of them', async () => {
    const now = clock.now().getTime();
    await setKey({
      status: 'disabled',
      expires_at: now - 1,
      type: 'developer',
      scopes: JSON.stringify(['inference:write']),
      models: JSON.stringify(['allowed']),
      rpm: 1,
      rpm_window: minuteWindow(now),
      rpm_count: 1,
      daily_credits: 0,
    });
    await setCredits(0);

    const answers: string[] = [];
    answers.push(await ask({ key: 'not-a-key' }));
    // Well formed (checksum included), never issued.
    answers.push(await ask({ key: generateSecret(PREFIX, 'net') }));
    const repairs: (() => Promise<unknown>)[] = [
      () => setKey({ status: 'active' }),
      () => setKey({ expires_at: null }),
      () => setKey({ type: 'network' }),
      async () => undefined, // the scope: asked for inference:write from here on
      () => setKey({ models: null }),
      () => setKey({ rpm: null }),
      () => setKey({ daily_credits: null }),
      () => setCredits(10),
    ];
    let scope = 'analytics:read';
    for (const repair of repairs) {
      answers.push(await ask({ scope }));
      await repair();
      scope = answers.at(-1) === 'scope_denied' ? 'inference:write' : scope;
    }
    answers.push(await ask({ scope }));

    expect(answers).toEqual([
      'malformed',
      'not_found',
      'disabled',
      'expired',
      'key_type_mismatch',
      'scope_denied',
      'model_not_allowed',
      'rate_limited',
      'api_key_quota_exceeded',
      'billing_shortfall',
      'valid',
    ]);
    // The order tested is the contract's: every refusal code but the gateway's own, in its table's order.
    expect(REFUSAL_CODES.filter((c) => answers.includes(c))).toEqual(answers.slice(0, -1));
  });
});
