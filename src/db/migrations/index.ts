import type { Migration } from 'kysely';
import * as m0001 from './0001_init.js';
import * as m0002 from './0002_security_core.js';
import * as m0003 from './0003_domain_ownership.js';
import * as m0004 from './0004_analytics.js';
import * as m0005 from './0005_webhooks.js';
import * as m0006 from './0006_teams.js';

/** Static registry: Workers cannot read migration files from disk. Append only. */
export const migrations: Record<string, Migration> = {
  '0001_init': m0001,
  '0002_security_core': m0002,
  '0003_domain_ownership': m0003,
  '0004_analytics': m0004,
  '0005_webhooks': m0005,
  '0006_teams': m0006,
};
