import { sql, type Compilable, type Kysely } from 'kysely';
import type { Database } from './schema.js';
import { isPostgres } from './tx.js';

/**
 * What a write did to the records the verification cache holds (src/services/record-cache.ts).
 * `new` means "a key or a domain token now exists that did not before" (negative entries go).
 */
export type RecordChange = { key: string } | { account: string } | { domain: string } | { new: true };

/** The PostgreSQL channel instances LISTEN on (src/db/pg-listen.ts). */
export const RECORDS_CHANNEL = 'siwe_keys_records';

export function encodeChange(c: RecordChange): string {
  if ('key' in c) return `k:${c.key}`;
  if ('account' in c) return `a:${c.account}`;
  if ('domain' in c) return `d:${c.domain}`;
  return 'n:';
}

export function decodeChange(payload: string): RecordChange | null {
  const v = payload.slice(2);
  switch (payload.slice(0, 2)) {
    case 'k:':
      return { key: v };
    case 'a:':
      return { account: v };
    case 'd:':
      return { domain: v };
    case 'n:':
      return { new: true };
    default:
      return null;
  }
}

/**
 * Steps to append to the writing batch. On PostgreSQL, a NOTIFY inside the writing transaction:
 * delivered to every listening instance exactly when (and only if) the write commits. Other
 * dialects need none (SQLite: other processes are seen through PRAGMA data_version; Workers: no cache).
 */
export function changeSteps(db: Kysely<Database>, ...changes: RecordChange[]): Compilable[] {
  if (!isPostgres(db)) return [];
  return changes.map((c) => db.selectNoFrom(sql<string>`pg_notify(${RECORDS_CHANNEL}, ${encodeChange(c)})`.as('n')));
}

type Listener = (c: RecordChange) => void;
const listeners = new WeakMap<Kysely<Database>, Set<Listener>>();

/** A cache on this instance subscribes to the changes written through this database handle. */
export function onRecordsChanged(db: Kysely<Database>, fn: Listener): () => void {
  let set = listeners.get(db);
  if (!set) listeners.set(db, (set = new Set()));
  set.add(fn);
  return () => set.delete(fn);
}

/** Called by every write site after its batch committed: this instance's cache drops the records. */
export function recordsChanged(db: Kysely<Database>, ...changes: RecordChange[]): void {
  const set = listeners.get(db);
  if (!set) return;
  for (const c of changes) for (const fn of set) fn(c);
}
