import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { openSqlite } from '../src/db/dialects/sqlite.js';
import { openPostgres } from '../src/db/dialects/postgres.js';
import { createSessionSigner } from '../src/services/sessions.js';
import { insertSessionQuery } from '../src/db/repositories/sessions.js';
import { createPgTestDatabase } from './support/postgres.js';
import type { Kysely } from 'kysely';
import type { Database } from '../src/db/schema.js';

const engines: [string, () => Promise<{ db: Kysely<Database>; close(): Promise<void> }>][] = [
  [
    'sqlite',
    async () => {
      const { db } = openSqlite(':memory:');
      return { db, close: () => db.destroy() };
    },
  ],
];
if (process.env.TEST_POSTGRES_URL) {
  engines.push([
    'postgres',
    async () => {
      const t = await createPgTestDatabase(process.env.TEST_POSTGRES_URL as string);
      const db = openPostgres(t.url);
      return {
        db,
        close: async () => {
          await db.destroy();
          await t.drop();
        },
      };
    },
  ]);
}

describe.each(engines)('session signing keys on %s', (_name, open) => {
  let env: Awaited<ReturnType<(typeof engines)[0][1]>>;
  const clock = new ManualClock();
  beforeAll(async () => {
    env = await open();
    await migrateToLatest(env.db);
  });
  afterAll(async () => env.close());

  const signer = () => createSessionSigner({ db: env.db, clock, issuer: 'http://x', audience: 'http://x', sessionTtlSeconds: 3600 });

  async function session(sid: string): Promise<void> {
    const now = clock.now().getTime();
    await insertSessionQuery(env.db, {
      id: sid,
      address: '0x0000000000000000000000000000000000000001',
      roles: '["user"]',
      created_at: now,
      expires_at: now + 3600_000,
      revoked_at: null,
      ip: null,
      user_agent: null,
    }).execute();
  }

  it('instances starting at once on an empty database adopt one signing key', async () => {
    const [a, b, c] = await Promise.all([signer(), signer(), signer()]);
    const kid = (s: typeof a) => s.jwks().keys.map((k) => k.kid);
    expect(kid(a)).toHaveLength(1);
    expect(kid(b)).toEqual(kid(a));
    expect(kid(c)).toEqual(kid(a));
    await session('ses_one');
    const token = await a.sign({
      address: '0x0000000000000000000000000000000000000001',
      sid: 'ses_one',
      roles: ['user'],
      expiresAt: new Date(clock.now().getTime() + 3600_000),
    });
    expect((await b.verify(token)).sid).toBe('ses_one');
  });

  it('after a rotation on one instance, tokens from either key verify on the other', async () => {
    const a = await signer();
    const b = await signer();
    await session('ses_two');
    const exp = new Date(clock.now().getTime() + 3600_000);
    const old = await b.sign({ address: '0x0000000000000000000000000000000000000001', sid: 'ses_two', roles: ['user'], expiresAt: exp });
    const newKid = await a.rotate();
    const fresh = await a.sign({ address: '0x0000000000000000000000000000000000000001', sid: 'ses_two', roles: ['user'], expiresAt: exp });
    clock.advance(1_500); // past the unknown-kid reload throttle
    expect((await b.verify(fresh)).sid).toBe('ses_two');
    expect((await a.verify(old)).sid).toBe('ses_two');
    expect(b.jwks().keys.map((k) => k.kid)).toContain(newKid);
  });
});
