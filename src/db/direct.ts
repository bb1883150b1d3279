import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

/**
 * A synchronous one-row reader a dialect may offer for the hottest queries (embedded SQLite):
 * it skips kysely's connection mutex and promise hops. Runtime-neutral registry; the Node SQLite
 * dialect registers itself, every other dialect goes through kysely as usual.
 */
export type DirectReader = (sql: string, params: readonly unknown[]) => unknown;

const readers = new WeakMap<Kysely<Database>, DirectReader>();

export function registerDirectReader(db: Kysely<Database>, reader: DirectReader): void {
  readers.set(db, reader);
}

export function directReader(db: Kysely<Database>): DirectReader | undefined {
  return readers.get(db);
}

const counters = new WeakMap<Kysely<Database>, () => number>();

/**
 * A counter that moves whenever another connection (another process) committed a write: SQLite's
 * PRAGMA data_version. The record cache checks it on every lookup.
 */
export function registerChangeCounter(db: Kysely<Database>, counter: () => number): void {
  counters.set(db, counter);
}

export function changeCounter(db: Kysely<Database>): (() => number) | undefined {
  return counters.get(db);
}
