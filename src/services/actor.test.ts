import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Kysely } from 'kysely';
import { ManualClock } from '../clock.js';
import { openSqlite } from '../db/dialects/sqlite.js';
import { migrateToLatest } from '../db/migrate.js';
import type { Database } from '../db/schema.js';
import { AppError } from '../errors.js';
import { type Actor, actorId, systemActor } from './actor.js';
import { adminStats } from './analytics.js';
import { listAllAudit } from './audit.js';
import { approve, changeCredits, listForAdmin, reject, type TrialDeps } from './trial.js';
import type { VerifyStats } from './verify-stats.js';

const request = { requestId: 'req_test', ip: null, userAgent: null };
const wallet = '0x1111111111111111111111111111111111111111';
const session: Actor = { kind: 'session', address: wallet, roles: ['user'], sid: 'ses_1', request };
const adminKey: Actor = { kind: 'key', address: wallet, roles: ['user'], keyId: 'key_1', scopes: ['admin'], request };

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof AppError) return err.code;
    throw err;
  }
  return 'accepted';
}

describe('Actor', () => {
  it('names a session by its wallet, a key by its id and the command line by its name in the audit trail', () => {
    expect(actorId(session)).toBe(wallet);
    expect(actorId(adminKey)).toBe('key_1');
    expect(actorId(systemActor('cli', 'siwe-keys-cli', 'cli_1'))).toBe('cli');
  });
});

describe('admin services', () => {
  let db: Kysely<Database>;
  let trial: TrialDeps;
  beforeAll(async () => {
    db = openSqlite(':memory:').db;
    await migrateToLatest(db);
    trial = { db, clock: new ManualClock(), trialCredits: 100, adminAddresses: [] };
  });
  afterAll(() => db.destroy());

  // Why: the admin routes check the role in a middleware; the services check it again, so no
  // other caller (a new route, a team endpoint) can reach them without it.
  it('refuse an actor without the admin role, before reading anything', async () => {
    const stats = { db, clock: new ManualClock(), verifyStats: { flush: async () => {} } as unknown as VerifyStats };
    for (const actor of [session, adminKey]) {
      expect(await refusal(listForAdmin(trial, actor, { limit: 10 }))).toBe('forbidden');
      expect(await refusal(approve(trial, actor, { id: 'app_none' }))).toBe('forbidden');
      expect(await refusal(reject(trial, actor, { id: 'app_none', reason: 'no' }))).toBe('forbidden');
      expect(await refusal(changeCredits(trial, actor, { address: wallet, delta: 5, reason: 'gift' }))).toBe('forbidden');
      expect(await refusal(adminStats(stats, actor, {}))).toBe('forbidden');
      expect(await refusal(listAllAudit({ db }, actor, { limit: 10 }))).toBe('forbidden');
    }
  });

  it('let an admin and the command line through', async () => {
    const admin: Actor = { ...session, roles: ['user', 'admin'] };
    for (const actor of [admin, systemActor('cli', 'siwe-keys-cli', 'cli_1')]) {
      expect(await refusal(approve(trial, actor, { id: 'app_none' }))).toBe('not_found');
      expect((await listForAdmin(trial, actor, { limit: 10 })).data).toEqual([]);
    }
  });

  it('refuse a malformed address for a credit change with invalid_request naming the field', async () => {
    const cli = systemActor('cli', 'siwe-keys-cli', 'cli_1');
    expect(await refusal(changeCredits(trial, cli, { address: '0x12', delta: 5, reason: 'gift' }))).toBe('invalid_request');
    expect(await refusal(changeCredits(trial, cli, { address: wallet, delta: 5, reason: 'gift' }))).toBe('not_found');
  });
});
