import type { Migration } from 'kysely';
import * as m0001 from './0001_init.js';
import * as m0005 from './0005_webhooks.js';

/** Static registry: Workers cannot read migration files from disk. Append only. */
export const migrations: Record<string, Migration> = {
  '0001_init': m0001,
  '0005_webhooks': m0005,
};
