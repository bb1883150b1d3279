import type { Kysely } from 'kysely';
import { preparedQuery } from '../hot-queries.js';
import type { AccountRow, Database, KeyRow } from '../schema.js';

/** The columns verification uses, and nothing else (a 27-column `k.*` row costs more to build than to find). */
export type VerifyKeyRow = Pick<
  KeyRow,
  | 'id'
  | 'account'
  | 'type'
  | 'status'
  | 'scopes'
  | 'models'
  | 'rpm'
  | 'daily_credits'
  | 'monthly_credits'
  | 'expires_at'
  | 'hash'
  | 'prev_expires_at'
  | 'day_window'
  | 'day_used'
  | 'month_window'
  | 'month_used'
  | 'total_used' // bounded at MAX_COUNTER
  | 'rpm_window'
  | 'rpm_count'
> &
  Pick<AccountRow, 'plan' | 'credits'> & {
    /** When the asking domain last verified this key (null: never). */
    domain_verified_at: number | null;
  };

/** One indexed read by hash (or the previous hash while a rotation's grace period runs). */
export const findVerifyKey: (db: Kysely<Database>, hash: string, now: number, domainId: string) => Promise<VerifyKeyRow | undefined> =
  preparedQuery(
    (db, hash: string, now: number, domainId: string) =>
      db
        .selectFrom('api_keys as k')
        .innerJoin('accounts as a', 'a.address', 'k.account')
        .leftJoin('domain_keys as dk', (join) => join.onRef('dk.key_id', '=', 'k.id').on('dk.domain_id', '=', domainId))
        .select([
          'k.id',
          'k.account',
          'k.type',
          'k.status',
          'k.scopes',
          'k.models',
          'k.rpm',
          'k.daily_credits',
          'k.monthly_credits',
          'k.expires_at',
          'k.hash',
          'k.prev_expires_at',
          'k.day_window',
          'k.day_used',
          'k.month_window',
          'k.month_used',
          'k.total_used',
          'k.rpm_window',
          'k.rpm_count',
          'a.plan',
          'a.credits',
          'dk.last_verified_at as domain_verified_at',
        ])
        .where((eb) => eb.or([eb('k.hash', '=', hash), eb.and([eb('k.prev_hash', '=', hash), eb('k.prev_expires_at', '>', now)])])),
    ['h', 1, 'd'],
    (hash, now, domainId) => [domainId, hash, hash, now],
  ) as (db: Kysely<Database>, hash: string, now: number, domainId: string) => Promise<VerifyKeyRow | undefined>;

export type KeyBalanceRow = Pick<KeyRow, 'day_window' | 'day_used' | 'month_window' | 'month_used' | 'total_used'> &
  Pick<AccountRow, 'credits'>;

/** The fast-changing state of a cached key, read only when the key has credit limits or the account a balance. */
export const findKeyBalance: (db: Kysely<Database>, keyId: string) => Promise<KeyBalanceRow | undefined> = preparedQuery(
  (db, keyId: string) =>
    db
      .selectFrom('api_keys as k')
      .innerJoin('accounts as a', 'a.address', 'k.account')
      .select(['k.day_window', 'k.day_used', 'k.month_window', 'k.month_used', 'k.total_used', 'a.credits'])
      .where('k.id', '=', keyId),
  ['k'],
  (keyId) => [keyId],
);
