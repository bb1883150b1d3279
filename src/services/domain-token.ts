import type { Kysely } from 'kysely';
import { findDomainByTokenHash } from '../db/repositories/domains.js';
import type { Database, DomainRow } from '../db/schema.js';
import { AppError } from '../errors.js';
import { bearerToken } from '../middleware/session-auth.js';
import { hashSecret, parseSecret } from './key-format.js';
import type { RecordCache } from './record-cache.js';

/**
 * The domain a domain token (an Authorization header) belongs to, or 401 invalid_domain_token.
 * Shape and checksum first (no lookup for a mistyped token), then memory (Node), then one read.
 */
export async function findDomainForToken(
  deps: { db: Kysely<Database>; records?: RecordCache },
  authorization: string | undefined,
): Promise<DomainRow> {
  const token = bearerToken(authorization);
  const parsed = token ? parseSecret(token) : null;
  if (!token || !parsed || parsed.kind !== 'dom') throw new AppError('invalid_domain_token');
  const hash = hashSecret(token);
  let domain = deps.records?.getDomain(hash);
  if (domain === undefined) {
    const gen = deps.records?.gen ?? 0;
    domain = (await findDomainByTokenHash(deps.db, hash)) ?? null;
    deps.records?.putDomain(hash, domain, gen);
  }
  if (!domain) throw new AppError('invalid_domain_token');
  return domain;
}
