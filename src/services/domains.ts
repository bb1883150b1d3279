import type { Kysely } from 'kysely';
import { countDomains, deleteDomain, findDomain, insertDomain, listDomains, setDomainToken, type DomainRow } from '../db/repositories/domains.js';
import { isUniqueViolation } from '../db/errors.js';
import type { Database } from '../db/schema.js';
import { BatchConditionFailed, inBatch } from '../db/tx.js';
import { AppError } from '../errors.js';
import { newId } from '../ids.js';
import { iso } from './accounts.js';
import { auditEvent, type RequestMeta } from './audit.js';
import { toPage, type Page } from './pagination.js';
import { generateSecret, hashSecret, secretHint } from './key-format.js';
import type { DomainView } from '../contract/views.js';

export type { DomainView };

export interface Caller {
  address: string;
  roles: string[];
}

export interface DomainsDeps {
  db: Kysely<Database>;
  keyPrefix: string;
  maxDomainsPerAccount: number;
}

export function domainView(r: DomainRow): DomainView {
  return { id: r.id, name: r.name, visibility: r.visibility, owner: r.owner, token_hint: r.token_hint, created_at: iso(r.created_at) as string };
}

const isAdmin = (c: Caller): boolean => c.roles.includes('admin');

async function newToken(prefix: string): Promise<{ token: string; token_hash: string; token_hint: string }> {
  const token = generateSecret(prefix, 'dom');
  return { token, token_hash: hashSecret(token), token_hint: secretHint(token) };
}

export async function createDomain(
  deps: DomainsDeps,
  caller: Caller,
  input: { name: string; visibility?: 'network' | 'public' },
  meta: RequestMeta,
): Promise<{ domain: DomainView; token: string }> {
  const visibility = input.visibility ?? 'network';
  // Why: public domains accept the platform's free-trial keys, so only the platform may run one.
  if (visibility === 'public' && !isAdmin(caller)) throw new AppError('forbidden', 'Only admins can register public domains.');
  if (!isAdmin(caller) && (await countDomains(deps.db, caller.address)) >= deps.maxDomainsPerAccount) {
    throw new AppError('limit_reached', `An account can register at most ${deps.maxDomainsPerAccount} domains.`);
  }
  const { token, token_hash, token_hint } = await newToken(deps.keyPrefix);
  const row: DomainRow = { id: newId('dom', meta.now), name: input.name, visibility, owner: caller.address, token_hash, token_hint, created_at: meta.now.getTime() };
  try {
    await inBatch(deps.db, [
      insertDomain(deps.db, row),
      auditEvent(deps.db, meta, { actor: caller.address, account: caller.address, action: 'domain.create', target: row.id, detail: { name: row.name, visibility } }),
    ]);
  } catch (err) {
    if (isUniqueViolation(err)) throw new AppError('domain_taken', `The domain ${input.name} is already registered.`, { extra: { param: 'name' } });
    throw err;
  }
  return { domain: domainView(row), token };
}

async function visibleDomain(db: Kysely<Database>, caller: Caller, id: string): Promise<DomainRow> {
  const row = await findDomain(db, id);
  // Someone else's domain is "not found" for non-admins: no existence leak.
  if (!row || (row.owner !== caller.address && !isAdmin(caller))) throw new AppError('not_found', 'No such domain.');
  return row;
}

export async function getDomain(deps: DomainsDeps, caller: Caller, id: string): Promise<DomainView> {
  return domainView(await visibleDomain(deps.db, caller, id));
}

export async function listVisibleDomains(
  deps: DomainsDeps,
  caller: Caller,
  q: { limit: number; cursor?: string },
): Promise<Page<DomainView>> {
  const rows = await listDomains(deps.db, { owner: isAdmin(caller) ? undefined : caller.address, cursor: q.cursor, limit: q.limit + 1 });
  return toPage(rows, q.limit, domainView);
}

export async function removeDomain(deps: DomainsDeps, caller: Caller, id: string, meta: RequestMeta): Promise<void> {
  const row = await visibleDomain(deps.db, caller, id);
  try {
    await inBatch(deps.db, [
      { query: deleteDomain(deps.db, id), mustChange: true },
      auditEvent(deps.db, meta, { actor: caller.address, account: row.owner, action: 'domain.delete', target: id, detail: { name: row.name } }),
    ]);
  } catch (err) {
    if (err instanceof BatchConditionFailed) throw new AppError('not_found', 'No such domain.');
    throw err;
  }
}

export async function rotateDomainToken(deps: DomainsDeps, caller: Caller, id: string, meta: RequestMeta): Promise<{ domain: DomainView; token: string }> {
  const row = await visibleDomain(deps.db, caller, id);
  const { token, token_hash, token_hint } = await newToken(deps.keyPrefix);
  try {
    await inBatch(deps.db, [
      // Conditional on the token we read: of two concurrent rotations exactly one token survives.
      { query: setDomainToken(deps.db, id, { token_hash, token_hint }).where('token_hash', '=', row.token_hash), mustChange: true },
      auditEvent(deps.db, meta, { actor: caller.address, account: row.owner, action: 'domain.token_rotate', target: id, detail: { token_hint } }),
    ]);
  } catch (err) {
    if (err instanceof BatchConditionFailed) throw new AppError('not_found', 'No such domain, or its token was rotated meanwhile.');
    throw err;
  }
  return { domain: domainView({ ...row, token_hash, token_hint }), token };
}
