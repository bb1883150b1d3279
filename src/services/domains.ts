import type { Kysely } from 'kysely';
import {
  countDomains,
  deleteClaimsForNameQuery,
  deleteDomainQuery,
  findClaim,
  findClaimByName,
  findDomain,
  findDomainByName,
  insertClaimQuery,
  insertDomainQuery,
  listDomains,
  setDomainTokenQuery,
  setDomainVerifiedQuery,
} from '../db/repositories/domains.js';
import { isUniqueViolation } from '../db/errors.js';
import type { Database, DomainClaimRow, DomainRow } from '../db/schema.js';
import { changeSteps, recordsChanged, type RecordChange } from '../db/record-changes.js';
import { BatchConditionFailed, inBatch } from '../db/tx.js';
import { AppError } from '../errors.js';
import { newId, randomBase62 } from '../ids.js';
import { iso } from './accounts.js';
import { auditEventStep } from './audit.js';
import { auditMeta, isAdmin, type Actor } from './actor.js';
import { isTeamId } from '../db/repositories/teams.js';
import type { Action } from './authorize.js';
import { ownerForTeamOrSelf, requireOwnerAccess } from './teams.js';
import type { Clock } from '../clock.js';
import { toPage, type Page } from './pagination.js';
import type { DomainChecker } from './domain-proof.js';
import { generateSecret, hashSecret, secretHint } from './key-format.js';
import type { DomainClaim, Domain as DomainView } from '../contract/domains.js';

export interface DomainsDeps {
  db: Kysely<Database>;
  clock: Clock;
  keyPrefix: string;
  maxDomainsPerAccount: number;
  /** Needed only by the ownership checks. */
  checker?: DomainChecker;
  /** Counts ownership and claim checks per account (see OWNERSHIP_CHECKS_PER_MINUTE); none: unlimited. */
  checkLimiter?: { hit(key: string): number };
}

/** Ownership and claim checks an account may run per minute, per instance. */
export const OWNERSHIP_CHECKS_PER_MINUTE = 10;

/**
 * Why: every check makes the service send DNS and HTTP requests; a signed-in account must not be
 * able to turn it into a request cannon. Per account, per instance. Counted before anything else,
 * after the request was validated (a malformed request is a 400, not a 429).
 */
function countCheck(deps: DomainsDeps, caller: Actor): void {
  const wait = deps.checkLimiter?.hit(caller.address) ?? 0;
  if (wait > 0) {
    throw new AppError('rate_limited', `Too many ownership checks from your account. Try again in ${wait} s.`, {
      headers: { 'retry-after': String(wait) },
    });
  }
}

export function domainView(r: DomainRow): DomainView {
  return {
    id: r.id,
    name: r.name,
    visibility: r.visibility,
    owner: r.owner,
    token_hint: r.token_hint,
    created_at: iso(r.created_at) as string,
    ownership: r.verified_at === null ? 'unverified' : 'verified',
    ownership_challenge: r.ownership_challenge ?? `legacy-${r.id}`,
    verified_at: iso(r.verified_at),
    team_id: isTeamId(r.owner) ? r.owner : null,
    created_by: r.created_by,
  };
}

/** The value an owner publishes to prove the name: unique per domain (and per claim). */
export function newChallenge(): string {
  return `siwe-keys-${randomBase62(32)}`;
}

/** The visibility asked for (network by default), if the caller may run such a domain. */
function allowedVisibility(caller: Actor, asked: 'network' | 'public' | undefined): 'network' | 'public' {
  const visibility = asked ?? 'network';
  // Why: public domains accept the platform's free-trial keys, so only the platform may run one.
  if (visibility === 'public' && !isAdmin(caller)) throw new AppError('forbidden', 'Only admins can register public domains.');
  return visibility;
}

async function newToken(prefix: string): Promise<{ token: string; token_hash: string; token_hint: string }> {
  const token = generateSecret(prefix, 'dom');
  return { token, token_hash: hashSecret(token), token_hint: secretHint(token) };
}

export async function createDomain(
  deps: DomainsDeps,
  caller: Actor,
  input: { name: string; visibility?: 'network' | 'public'; team_id?: string },
): Promise<{ domain: DomainView; token: string }> {
  const meta = auditMeta(caller, deps.clock.now());
  // With team_id the team owns it (owners and admins register team domains).
  const owner = await ownerForTeamOrSelf(deps.db, caller, input.team_id, 'domain.create');
  const visibility = allowedVisibility(caller, input.visibility);
  if (!isAdmin(caller) && (await countDomains(deps.db, owner)) >= deps.maxDomainsPerAccount) {
    throw new AppError('limit_reached', `An account can register at most ${deps.maxDomainsPerAccount} domains.`);
  }
  const { token, token_hash, token_hint } = await newToken(deps.keyPrefix);
  const row: DomainRow = {
    id: newId('dom', meta.now),
    name: input.name,
    visibility,
    owner,
    token_hash,
    token_hint,
    created_at: meta.now.getTime(),
    ownership_challenge: newChallenge(),
    verified_at: null,
    verified_by: null,
    created_by: owner === caller.address ? null : caller.address,
  };
  try {
    await inBatch(deps.db, [
      insertDomainQuery(deps.db, row),
      auditEventStep(deps.db, meta, {
        actor: caller.address,
        account: owner,
        action: 'domain.create',
        target: row.id,
        detail: { name: row.name, visibility },
      }),
      ...changeSteps(deps.db, { new: true }),
    ]);
    recordsChanged(deps.db, { new: true });
  } catch (err) {
    if (isUniqueViolation(err)) throw await takenError(deps.db, caller, input.name);
    throw err;
  }
  return { domain: domainView(row), token };
}

/**
 * The domain, if the caller may do `action` to it: its own, its team's (as the policy answers for
 * the caller's role), or any for admins. Someone else's is "not found": no existence leak.
 */
async function visibleDomain(db: Kysely<Database>, caller: Actor, id: string, action: Action = 'read'): Promise<DomainRow> {
  const row = await findDomain(db, id);
  if (!row) throw new AppError('not_found', 'No such domain.');
  if (!isAdmin(caller)) await requireOwnerAccess(db, caller.address, row.owner, action, 'domain');
  return row;
}

export async function getDomain(deps: DomainsDeps, caller: Actor, id: string): Promise<DomainView> {
  return domainView(await visibleDomain(deps.db, caller, id));
}

export async function listVisibleDomains(
  deps: DomainsDeps,
  caller: Actor,
  q: { limit: number; cursor?: string; team_id?: string },
): Promise<Page<DomainView>> {
  // A team's domains with team_id (any member); else the caller's own, or every domain for admins.
  const owner =
    q.team_id !== undefined ? await ownerForTeamOrSelf(deps.db, caller, q.team_id, 'read') : isAdmin(caller) ? undefined : caller.address;
  const rows = await listDomains(deps.db, { owner, cursor: q.cursor, limit: q.limit + 1 });
  return toPage(rows, q.limit, domainView);
}

export async function removeDomain(deps: DomainsDeps, caller: Actor, id: string): Promise<void> {
  const meta = auditMeta(caller, deps.clock.now());
  const row = await visibleDomain(deps.db, caller, id, 'domain.manage');
  try {
    await inBatch(deps.db, [
      { query: deleteDomainQuery(deps.db, id), mustChange: true },
      auditEventStep(deps.db, meta, {
        actor: caller.address,
        account: row.owner,
        action: 'domain.delete',
        target: id,
        detail: { name: row.name },
      }),
      ...changeSteps(deps.db, { domain: id }),
    ]);
    recordsChanged(deps.db, { domain: id });
  } catch (err) {
    if (err instanceof BatchConditionFailed) throw new AppError('not_found', 'No such domain.');
    throw err;
  }
}

export async function rotateDomainToken(deps: DomainsDeps, caller: Actor, id: string): Promise<{ domain: DomainView; token: string }> {
  const meta = auditMeta(caller, deps.clock.now());
  const row = await visibleDomain(deps.db, caller, id, 'domain.manage');
  const { token, token_hash, token_hint } = await newToken(deps.keyPrefix);
  try {
    await inBatch(deps.db, [
      // Conditional on the token we read: of two concurrent rotations exactly one token survives.
      { query: setDomainTokenQuery(deps.db, id, { token_hash, token_hint }).where('token_hash', '=', row.token_hash), mustChange: true },
      auditEventStep(deps.db, meta, {
        actor: caller.address,
        account: row.owner,
        action: 'domain.token_rotate',
        target: id,
        detail: { token_hint },
      }),
      ...changeSteps(deps.db, { domain: id }),
    ]);
    recordsChanged(deps.db, { domain: id });
  } catch (err) {
    if (err instanceof BatchConditionFailed) throw new AppError('not_found', 'No such domain, or its token was rotated meanwhile.');
    throw err;
  }
  return { domain: domainView({ ...row, token_hash, token_hint }), token };
}

// ---- ownership proof and claims ----

/** 409 domain_taken, saying whether the name can be claimed (its holder never proved it). */
async function takenError(db: Kysely<Database>, caller: Actor, name: string): Promise<AppError> {
  const holder = await findDomainByName(db, name);
  if (holder && holder.verified_at === null && holder.owner !== caller.address) {
    return new AppError(
      'domain_taken',
      `The domain ${name} is registered but its holder has not proven it. If it is yours, claim it with POST /v1/domains/claim and prove it.`,
      { extra: { param: 'name', claimable: true } },
    );
  }
  return new AppError('domain_taken', `The domain ${name} is already registered.`, { extra: { param: 'name', claimable: false } });
}

function checkerOf(deps: DomainsDeps): DomainChecker {
  if (!deps.checker) throw new AppError('internal_error', 'Domain checks are not configured.');
  return deps.checker;
}

function notProven(name: string, reasons: string[]): AppError {
  return new AppError(
    'ownership_not_proven',
    `Neither the TXT record at _siwe-keys.${name} nor https://${name}/.well-known/siwe-keys.txt carries the challenge.`,
    {
      extra: { reasons },
    },
  );
}

/** Runs the DNS/HTTP check for one of the caller's domains; on success it is `verified`. */
export async function checkDomainOwnership(deps: DomainsDeps, caller: Actor, id: string): Promise<DomainView> {
  countCheck(deps, caller);
  const meta = auditMeta(caller, deps.clock.now());
  const row = await visibleDomain(deps.db, caller, id, 'domain.manage');
  const challenge = row.ownership_challenge ?? `legacy-${row.id}`;
  const result = await checkerOf(deps).check(row.name, challenge);
  if (!result.ok) throw notProven(row.name, result.reasons);
  const at = meta.now.getTime();
  try {
    await inBatch(deps.db, [
      { query: setDomainVerifiedQuery(deps.db, id, challenge, at, result.method), mustChange: true },
      // Pending claims on a proven name can never succeed.
      deleteClaimsForNameQuery(deps.db, row.name),
      auditEventStep(deps.db, meta, {
        actor: caller.address,
        account: row.owner,
        action: 'domain.ownership_verified',
        target: id,
        detail: { name: row.name, method: result.method },
      }),
    ]);
  } catch (err) {
    if (err instanceof BatchConditionFailed) throw new AppError('not_found', 'No such domain.');
    throw err;
  }
  return domainView({ ...row, ownership_challenge: challenge, verified_at: at, verified_by: result.method });
}

export type ClaimView = DomainClaim;

const claimView = (r: DomainClaimRow): ClaimView => ({
  id: r.id,
  name: r.name,
  visibility: r.visibility,
  status: 'pending',
  ownership_challenge: r.challenge,
  created_at: iso(r.created_at) as string,
});

/**
 * Starts taking a name that another account registered but never proved. The claim carries its own
 * challenge; it becomes the owner only when that challenge is found on the name (checkClaim).
 * Idempotent per (name, claimant).
 */
export async function claimDomain(
  deps: DomainsDeps,
  caller: Actor,
  input: { name: string; visibility?: 'network' | 'public' },
): Promise<{ claim: ClaimView; created: boolean }> {
  const meta = auditMeta(caller, deps.clock.now());
  const visibility = allowedVisibility(caller, input.visibility);
  const holder = await findDomainByName(deps.db, input.name);
  if (!holder)
    throw new AppError('not_claimable', `No domain holds ${input.name}: register it with POST /v1/domains.`, { extra: { param: 'name' } });
  if (holder.owner === caller.address)
    throw new AppError('not_claimable', `You already hold ${input.name}: prove it with POST /v1/domains/{id}/ownership/check.`, {
      extra: { param: 'name' },
    });
  // Why: a proven name stays with the account that proved it; squatting it is refused.
  if (holder.verified_at !== null)
    throw new AppError('domain_taken', `The domain ${input.name} is registered and proven by its owner.`, {
      extra: { param: 'name', claimable: false },
    });
  const existing = await findClaimByName(deps.db, input.name, caller.address);
  if (existing) return { claim: claimView(existing), created: false };
  if (!isAdmin(caller) && (await countDomains(deps.db, caller.address)) >= deps.maxDomainsPerAccount) {
    throw new AppError('limit_reached', `An account can register at most ${deps.maxDomainsPerAccount} domains.`);
  }
  const row: DomainClaimRow = {
    id: newId('dcl', meta.now),
    name: input.name,
    claimant: caller.address,
    visibility,
    challenge: newChallenge(),
    created_at: meta.now.getTime(),
  };
  try {
    await inBatch(deps.db, [
      insertClaimQuery(deps.db, row),
      auditEventStep(deps.db, meta, {
        actor: caller.address,
        account: caller.address,
        action: 'domain.claim_open',
        target: row.id,
        detail: { name: row.name },
      }),
    ]);
  } catch (err) {
    if (isUniqueViolation(err)) {
      const again = await findClaimByName(deps.db, input.name, caller.address);
      if (again) return { claim: claimView(again), created: false };
    }
    throw err;
  }
  return { claim: claimView(row), created: true };
}

/**
 * Checks a claim's challenge on the name. On success, in one batch: the unproven holder's domain is
 * deleted (its token dies with it), the claimant's domain is created already verified, and every
 * pending claim on the name is closed. Answers the new domain and its token (shown once).
 */
export async function checkClaim(deps: DomainsDeps, caller: Actor, claimId: string): Promise<{ domain: DomainView; token: string }> {
  countCheck(deps, caller);
  const meta = auditMeta(caller, deps.clock.now());
  const claim = await findClaim(deps.db, claimId);
  // Someone else's claim is "not found": no existence leak.
  if (!claim || claim.claimant !== caller.address) throw new AppError('not_found', 'No such claim.');
  const holder = await findDomainByName(deps.db, claim.name);
  if (holder && holder.verified_at !== null) {
    await deleteClaimsForNameQuery(deps.db, claim.name).execute();
    throw new AppError('domain_taken', `The domain ${claim.name} was proven by its holder; the claim is closed.`, {
      extra: { param: 'name', claimable: false },
    });
  }
  const result = await checkerOf(deps).check(claim.name, claim.challenge);
  if (!result.ok) throw notProven(claim.name, result.reasons);
  const at = meta.now.getTime();
  const { token, token_hash, token_hint } = await newToken(deps.keyPrefix);
  const row: DomainRow = {
    id: newId('dom', meta.now),
    name: claim.name,
    visibility: claim.visibility,
    owner: claim.claimant,
    token_hash,
    token_hint,
    created_at: at,
    ownership_challenge: claim.challenge,
    verified_at: at,
    verified_by: result.method,
    created_by: null, // a claim is personal: the claimant owns the domain
  };
  const steps = [];
  if (holder) {
    steps.push(
      // Only while the holder is still unproven: if it proved the name meanwhile, nothing changes.
      { query: deleteDomainQuery(deps.db, holder.id).where('verified_at', 'is', null), mustChange: true },
      auditEventStep(deps.db, meta, {
        actor: caller.address,
        account: holder.owner,
        action: 'domain.claimed_away',
        target: holder.id,
        detail: { name: holder.name, new_owner: caller.address },
      }),
    );
  }
  steps.push(
    insertDomainQuery(deps.db, row),
    deleteClaimsForNameQuery(deps.db, claim.name),
    auditEventStep(deps.db, meta, {
      actor: caller.address,
      account: caller.address,
      action: 'domain.claim',
      target: row.id,
      detail: { name: row.name, method: result.method, replaced: holder?.id ?? null },
    }),
  );
  // The holder's token dies with its domain on every instance; the new token may have been cached as unknown.
  const changes: RecordChange[] = holder ? [{ domain: holder.id }, { new: true }] : [{ new: true }];
  steps.push(...changeSteps(deps.db, ...changes));
  try {
    await inBatch(deps.db, steps);
    recordsChanged(deps.db, ...changes);
  } catch (err) {
    if (err instanceof BatchConditionFailed || isUniqueViolation(err)) {
      throw new AppError('domain_taken', `The domain ${claim.name} changed hands meanwhile; try again.`, { extra: { param: 'name' } });
    }
    throw err;
  }
  return { domain: domainView(row), token };
}
