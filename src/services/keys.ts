import type { Kysely } from 'kysely';
import { getAccountOrThrow } from '../db/repositories/accounts.js';
import {
  countKeys,
  deleteOwnKeyQuery,
  findOwnKey,
  insertKeyQuery,
  insertTombstoneQuery,
  listKeys,
  updateOwnKeyQuery,
} from '../db/repositories/keys.js';
import { isUniqueViolation } from '../db/errors.js';
import type { Database, KeyRow, KeyUpdate } from '../db/schema.js';
import { changeSteps, recordsChanged } from '../db/record-changes.js';
import { BatchConditionFailed, inBatch } from '../db/tx.js';
import { AppError } from '../errors.js';
import { newId } from '../ids.js';
import { iso } from './accounts.js';
import { auditEventStep } from './audit.js';
import { actorId, auditMeta, type Actor } from './actor.js';
import type { Clock } from '../clock.js';
import { toPage, type Page } from './pagination.js';
import { KEY_KIND, generateSecret, hashSecret, secretHint } from './key-format.js';
import { dayWindow, monthWindow } from './windows.js';
import { isTeamId } from '../db/repositories/teams.js';
import { keyOwnerFor, ownerForTeamOrSelf } from './teams.js';
import type { Key as KeyView } from '../contract/keys.js';
import type { KeyLimits, KeyType } from '../contract/views.js';
import { DEFAULT_SCOPES, SCOPES, type Scope } from '../contract/verify-codes.js';

const SESSION_ONLY = 'insufficient_scope';

export interface KeysDeps {
  db: Kysely<Database>;
  clock: Clock;
  keyPrefix: string;
  maxKeysPerAccount: number;
}

export function keyView(row: KeyRow, now: number): KeyView {
  const limits: KeyLimits = {};
  if (row.rpm !== null) limits.rpm = Number(row.rpm);
  if (row.daily_credits !== null) limits.daily_credits = Number(row.daily_credits);
  if (row.monthly_credits !== null) limits.monthly_credits = Number(row.monthly_credits);
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    type: row.type,
    scopes: JSON.parse(row.scopes) as string[],
    hint: row.hint,
    status: row.status,
    disabled_reason: row.status === 'disabled' ? row.disabled_reason : null,
    models: row.models === null ? null : (JSON.parse(row.models) as string[]),
    limits,
    usage: {
      today: row.day_window === dayWindow(now) ? Number(row.day_used) : 0,
      this_month: row.month_window === monthWindow(now) ? Number(row.month_used) : 0,
      total: Number(row.total_used),
    },
    expires_at: iso(row.expires_at),
    created_at: iso(row.created_at) as string,
    last_used_at: iso(row.last_used_at),
    team_id: isTeamId(row.account) ? row.account : null,
    created_by: row.created_by,
  };
}

function limitColumns(limits: KeyLimits | undefined): Pick<KeyRow, 'rpm' | 'daily_credits' | 'monthly_credits'> {
  return { rpm: limits?.rpm ?? null, daily_credits: limits?.daily_credits ?? null, monthly_credits: limits?.monthly_credits ?? null };
}

function resolveExpiry(now: number, input: { expires_at?: string | null; expires_in_days?: number }): number | null {
  if (input.expires_at !== undefined && input.expires_in_days !== undefined) {
    throw new AppError('invalid_request', 'Give expires_at or expires_in_days, not both.', { extra: { param: 'expires_at' } });
  }
  if (input.expires_in_days !== undefined) return now + input.expires_in_days * 86_400_000;
  if (input.expires_at === undefined || input.expires_at === null) return null;
  const t = new Date(input.expires_at).getTime();
  if (t <= now) throw new AppError('invalid_request', 'expires_at must be in the future.', { extra: { param: 'expires_at' } });
  return t;
}

export interface CreateKeyInput {
  name: string;
  description?: string;
  type?: KeyType;
  scopes?: Scope[];
  models?: string[] | null;
  limits?: KeyLimits;
  expires_at?: string | null;
  expires_in_days?: number;
}

/**
 * What a team key may not be. Developer keys: the free trial stays personal (a team's plan is
 * network). The admin scope: an admin key acts as its account, and for a team that would be every
 * team key whatever the role of the member who made it; team keys are managed by sessions.
 */
function checkTeamKey(input: { type?: KeyType; scopes?: Scope[] }): void {
  if (input.type === 'developer') {
    throw new AppError('key_type_not_allowed', 'Team keys are network keys; developer (free-trial) keys stay personal.', {
      extra: { param: 'type' },
    });
  }
  if (input.scopes?.includes('admin')) {
    throw new AppError('forbidden', 'Team keys cannot carry the admin scope: members manage team keys with their sessions.', {
      extra: { param: 'scopes' },
    });
  }
}

export async function createKey(
  deps: KeysDeps,
  caller: Actor,
  { team_id, ...input }: CreateKeyInput & { team_id?: string },
): Promise<{ key: KeyView; secret: string }> {
  const meta = auditMeta(caller, deps.clock.now());
  const now = meta.now.getTime();
  // The caller's own account, or with team_id the team's (the policy decides per role).
  const owner = await ownerForTeamOrSelf(deps.db, caller, team_id, 'key.create');
  const team = owner !== caller.address;
  if (team) checkTeamKey(input);
  const actor = actorId(caller);
  // Why: admin keys are made by the wallet only, so a leaked admin key cannot multiply itself.
  if (caller.kind === 'key' && input.scopes?.includes('admin')) {
    throw new AppError(SESSION_ONLY, 'Only a session can create an admin key.', { extra: { param: 'scopes' } });
  }
  const account = await getAccountOrThrow(deps.db, owner);
  // The plan decides the type: trial (developer) keys and network keys never mix.
  const allowed: KeyType = account.plan === 'developer' ? 'developer' : 'network';
  const type = input.type ?? allowed;
  if (type !== allowed) {
    throw new AppError(
      'key_type_not_allowed',
      allowed === 'network'
        ? 'Developer keys need an approved free-trial application. Please apply for a Developer API key.'
        : 'This account has the developer plan and can create only developer keys.',
    );
  }
  if ((await countKeys(deps.db, owner)) >= deps.maxKeysPerAccount) {
    throw new AppError('limit_reached', `An account can hold at most ${deps.maxKeysPerAccount} keys.`);
  }
  const secret = generateSecret(deps.keyPrefix, KEY_KIND[type]);
  const row: KeyRow = {
    id: newId('key', meta.now),
    account: owner,
    name: input.name,
    description: input.description ?? null,
    type,
    scopes: JSON.stringify(input.scopes ?? DEFAULT_SCOPES),
    models: input.models ? JSON.stringify(input.models) : null,
    ...limitColumns(input.limits),
    hash: hashSecret(secret),
    hint: secretHint(secret),
    prev_hash: null,
    prev_expires_at: null,
    status: 'active',
    expires_at: resolveExpiry(now, input),
    created_at: now,
    last_used_at: null,
    day_window: '',
    day_used: 0,
    month_window: '',
    month_used: 0,
    total_used: 0,
    rpm_window: 0,
    rpm_count: 0,
    disabled_reason: null,
    // A team key records the member that made it (members manage the keys they created).
    created_by: team ? actor : null,
  };
  try {
    await inBatch(deps.db, [
      insertKeyQuery(deps.db, row),
      auditEventStep(deps.db, meta, {
        actor,
        account: owner,
        action: 'key.create',
        target: row.id,
        detail: { name: row.name, type, scopes: JSON.parse(row.scopes), hint: row.hint },
      }),
      ...changeSteps(deps.db, { new: true }),
    ]);
    recordsChanged(deps.db, { new: true });
  } catch (err) {
    if (isUniqueViolation(err))
      throw new AppError('name_taken', `A key named "${input.name}" already exists.`, { extra: { param: 'name' } });
    throw err;
  }
  return { key: keyView(row, now), secret };
}

export async function getKey(deps: KeysDeps, caller: Actor, id: string): Promise<KeyView> {
  const row = await findOwnKey(deps.db, await keyOwnerFor(deps.db, caller, id, 'read'), id);
  // Another account's key is "not found", never "forbidden": no existence leak.
  if (!row) throw new AppError('not_found', 'No such key.');
  return keyView(row, deps.clock.now().getTime());
}

export async function listOwnKeys(
  deps: KeysDeps,
  caller: Actor,
  q: { limit: number; cursor?: string; status?: 'active' | 'disabled'; expiring_within_days?: number; team_id?: string },
): Promise<Page<KeyView>> {
  const now = deps.clock.now().getTime();
  const rows = await listKeys(deps.db, {
    // With team_id, the team's keys (any active member may read them).
    account: await ownerForTeamOrSelf(deps.db, caller, q.team_id, 'read'),
    status: q.status,
    expiringBefore: q.expiring_within_days === undefined ? undefined : now + q.expiring_within_days * 86_400_000,
    now,
    cursor: q.cursor,
    limit: q.limit + 1,
  });
  return toPage(rows, q.limit, (r) => keyView(r, now));
}

export interface UpdateKeyInput {
  description?: string | null;
  status?: 'active' | 'disabled';
  scopes?: Scope[];
  models?: string[] | null;
  limits?: { rpm?: number | null; daily_credits?: number | null; monthly_credits?: number | null };
  expires_at?: string | null;
}

/**
 * What an admin key may not do to keys through PATCH (only a session may): grant the admin scope,
 * and give any admin key (itself included) a later expiry, no expiry, or its enabled status back.
 * Returns the row the change was judged against, so the UPDATE can be made conditional on it.
 */
async function checkKeyCallerPatch(deps: KeysDeps, owner: string, id: string, input: UpdateKeyInput, now: number): Promise<KeyRow | null> {
  if (input.scopes?.includes('admin')) {
    throw new AppError(SESSION_ONLY, 'Only a session can grant the admin scope.', { extra: { param: 'scopes' } });
  }
  const row = await findOwnKey(deps.db, owner, id);
  if (!row) throw new AppError('not_found', 'No such key.');
  if (!(JSON.parse(row.scopes) as string[]).includes('admin')) return row;
  if (input.expires_at !== undefined) {
    const next = resolveExpiry(now, { expires_at: input.expires_at });
    const current = row.expires_at === null ? null : Number(row.expires_at);
    if (next === null ? current !== null : current !== null && next > current) {
      throw new AppError(SESSION_ONLY, 'An admin key cannot extend or remove the expiry of an admin key; only a session can.', {
        extra: { param: 'expires_at' },
      });
    }
  }
  if (input.status === 'active' && row.status !== 'active') {
    throw new AppError(SESSION_ONLY, 'Only a session can enable a disabled admin key.', { extra: { param: 'status' } });
  }
  return row;
}

export async function updateKey(deps: KeysDeps, caller: Actor, change: { id: string; changes: UpdateKeyInput }): Promise<KeyView> {
  const { id, changes: input } = change;
  const meta = auditMeta(caller, deps.clock.now());
  const now = meta.now.getTime();
  // The key's account (the caller's, or a team's when the caller's role may manage this key).
  const owner = await keyOwnerFor(deps.db, caller, id, 'key.manage');
  const actor = actorId(caller);
  if (isTeamId(owner)) checkTeamKey({ scopes: input.scopes });
  const judged = caller.kind === 'key' ? await checkKeyCallerPatch(deps, owner, id, input, now) : null;
  const set: KeyUpdate = {};
  if (input.description !== undefined) set.description = input.description;
  if (input.status !== undefined) {
    set.status = input.status;
    set.disabled_reason = null; // the owner decided now
  }
  if (input.scopes !== undefined) set.scopes = JSON.stringify(input.scopes);
  if (input.models !== undefined) set.models = input.models === null ? null : JSON.stringify(input.models);
  if (input.limits !== undefined) {
    for (const k of ['rpm', 'daily_credits', 'monthly_credits'] as const) {
      if (input.limits[k] !== undefined) set[k] = input.limits[k];
    }
  }
  if (input.expires_at !== undefined) set.expires_at = resolveExpiry(now, { expires_at: input.expires_at });
  if (Object.keys(set).length > 0) {
    let update = updateOwnKeyQuery(deps.db, owner, id, set);
    // An admin key's change was judged against the row it read: it applies only if that row is unchanged.
    if (judged) {
      update = update.where('scopes', '=', judged.scopes).where('status', '=', judged.status);
      update = judged.expires_at === null ? update.where('expires_at', 'is', null) : update.where('expires_at', '=', judged.expires_at);
    }
    try {
      await inBatch(deps.db, [
        { query: update, mustChange: true },
        auditEventStep(deps.db, meta, { actor, account: owner, action: 'key.update', target: id, detail: { changes: input } }),
        ...changeSteps(deps.db, { key: id }),
      ]);
      recordsChanged(deps.db, { key: id });
    } catch (err) {
      // Another account's key, or none: "not found", never "forbidden".
      if (err instanceof BatchConditionFailed) throw new AppError('not_found', 'No such key.');
      throw err;
    }
  }
  const row = await findOwnKey(deps.db, owner, id);
  if (!row) throw new AppError('not_found', 'No such key.');
  return keyView(row, now);
}

export async function rotateKey(
  deps: KeysDeps,
  caller: Actor,
  input: { id: string; grace_seconds?: number },
): Promise<{ key: KeyView; secret: string }> {
  const { id } = input;
  const graceSeconds = input.grace_seconds ?? 0;
  const meta = auditMeta(caller, deps.clock.now());
  const now = meta.now.getTime();
  const owner = await keyOwnerFor(deps.db, caller, id, 'key.manage');
  const actor = actorId(caller);
  const row = await findOwnKey(deps.db, owner, id);
  if (!row) throw new AppError('not_found', 'No such key.');
  const secret = generateSecret(deps.keyPrefix, KEY_KIND[row.type]);
  const set = {
    hash: hashSecret(secret),
    hint: secretHint(secret),
    // The old secret dies now, or when the grace period ends.
    prev_hash: graceSeconds > 0 ? row.hash : null,
    prev_expires_at: graceSeconds > 0 ? now + graceSeconds * 1000 : null,
  };
  try {
    await inBatch(deps.db, [
      // Conditional on the hash we read: of two concurrent rotations one wins, the other is refused.
      { query: updateOwnKeyQuery(deps.db, owner, id, set).where('hash', '=', row.hash), mustChange: true },
      auditEventStep(deps.db, meta, {
        actor,
        account: owner,
        action: 'key.rotate',
        target: id,
        detail: { grace_seconds: graceSeconds, hint: set.hint },
      }),
      ...changeSteps(deps.db, { key: id }),
    ]);
    recordsChanged(deps.db, { key: id });
  } catch (err) {
    if (err instanceof BatchConditionFailed) throw new AppError('not_found', 'No such key, or it was rotated or deleted meanwhile.');
    throw err;
  }
  return { key: keyView({ ...row, ...set }, now), secret };
}

export async function deleteKey(deps: KeysDeps, caller: Actor, id: string): Promise<void> {
  const meta = auditMeta(caller, deps.clock.now());
  const owner = await keyOwnerFor(deps.db, caller, id, 'key.manage');
  const actor = actorId(caller);
  const row = await findOwnKey(deps.db, owner, id);
  if (!row) throw new AppError('not_found', 'No such key.');
  try {
    await inBatch(deps.db, [
      { query: deleteOwnKeyQuery(deps.db, owner, id), mustChange: true },
      insertTombstoneQuery(deps.db, { id, account: owner, type: row.type, deleted_at: meta.now.getTime() }),
      auditEventStep(deps.db, meta, {
        actor,
        account: owner,
        action: 'key.delete',
        target: id,
        detail: { name: row.name, hint: row.hint },
      }),
      ...changeSteps(deps.db, { key: id }),
    ]);
    recordsChanged(deps.db, { key: id });
  } catch (err) {
    if (err instanceof BatchConditionFailed) throw new AppError('not_found', 'No such key.');
    throw err;
  }
}
