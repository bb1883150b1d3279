import type { Kysely } from 'kysely';
import { MAX_CREDITS, findAccount, getAccountOrThrow, grantDeveloperPlanQuery } from '../db/repositories/accounts.js';
import { activeNetworkKeyIds, disableNetworkKeysOnApprovalQuery } from '../db/repositories/keys.js';
import {
  closeApplicationQuery,
  findApplication,
  insertApplicationQuery,
  latestApplicationOf,
  listApplications,
} from '../db/repositories/trial.js';
import { isUniqueViolation } from '../db/errors.js';
import type { ApplicationRow, Database } from '../db/schema.js';
import { changeSteps, recordsChanged } from '../db/record-changes.js';
import { BatchConditionFailed, type BatchStep, inBatch } from '../db/tx.js';
import { AppError } from '../errors.js';
import { newId } from '../ids.js';
import { accountView, iso, rolesFor } from './accounts.js';
import type { AccountView } from '../contract/views.js';
import { auditEventStep, type RequestMeta } from './audit.js';
import { changeBalance } from './credits.js';
import { actorId, assertAdmin, auditMeta, type Actor, type AdminActor } from './actor.js';
import { getAddress, isAddress } from 'viem';
import type { Clock } from '../clock.js';
import { toPage, type Page } from './pagination.js';
import { creditGrantInsertQuery, trialDecisionEventQuery } from './webhook-events.js';
import type { Application as ApplicationView } from '../contract/trial.js';

export interface TrialDeps {
  db: Kysely<Database>;
  clock: Clock;
  /** What an approval grants when the admin names no amount (TRIAL_CREDITS). */
  trialCredits: number;
  /** ADMIN_ADDRESSES: the roles of the account a credit change answers with. */
  adminAddresses: string[];
}

export function applicationView(r: ApplicationRow): ApplicationView {
  return {
    id: r.id,
    address: r.address,
    status: r.status,
    use_case: r.use_case,
    contact: r.contact,
    credits_granted: r.credits_granted === null ? null : Number(r.credits_granted),
    reviewed_by: r.reviewed_by,
    reason: r.reason,
    created_at: iso(r.created_at) as string,
    reviewed_at: iso(r.reviewed_at),
  };
}

export async function apply(deps: TrialDeps, actor: Actor, input: { use_case: string; contact?: string }): Promise<ApplicationView> {
  const { db } = deps;
  const address = actor.address;
  const meta = auditMeta(actor, deps.clock.now());
  const account = await getAccountOrThrow(db, address);
  if (account.plan === 'developer') throw new AppError('already_approved');
  const row: ApplicationRow = {
    id: newId('app', meta.now),
    address,
    status: 'pending',
    use_case: input.use_case,
    contact: input.contact ?? null,
    credits_granted: null,
    reviewed_by: null,
    reason: null,
    created_at: meta.now.getTime(),
    reviewed_at: null,
  };
  try {
    // The partial unique index allows one pending application per account, even under a race.
    await inBatch(db, [
      insertApplicationQuery(db, row),
      auditEventStep(db, meta, { actor: address, account: address, action: 'trial.apply', target: row.id }),
    ]);
  } catch (err) {
    if (isUniqueViolation(err)) throw new AppError('application_exists');
    throw err;
  }
  return applicationView(row);
}

export async function myApplication(deps: TrialDeps, actor: Actor): Promise<ApplicationView> {
  const row = await latestApplicationOf(deps.db, actor.address);
  if (!row) throw new AppError('not_found', 'You have not applied for the free trial.');
  return applicationView(row);
}

export async function listForAdmin(
  deps: TrialDeps,
  actor: AdminActor,
  q: { status?: ApplicationRow['status']; address?: string; cursor?: string; limit: number },
): Promise<Page<ApplicationView>> {
  assertAdmin(actor);
  // Addresses are stored checksummed; match whatever case the admin typed.
  const address = q.address === undefined ? undefined : getAddress(q.address);
  return toPage(await listApplications(deps.db, { ...q, address, limit: q.limit + 1 }), q.limit, applicationView);
}

/** What approving and rejecting both start with: an admin, the time, and the application. */
async function openReview(
  deps: TrialDeps,
  actor: AdminActor,
  id: string,
): Promise<{ admin: string; meta: RequestMeta; app: ApplicationRow }> {
  assertAdmin(actor);
  const admin = actorId(actor);
  const meta = auditMeta(actor, deps.clock.now());
  const app = await findApplication(deps.db, id);
  if (!app) throw new AppError('not_found', 'No such application.');
  return { admin, meta, app };
}

/** Only a pending application closes: two admins deciding at once cannot both (the step must change a row). */
function closeStep(
  db: Kysely<Database>,
  id: string,
  decision: Pick<ApplicationRow, 'status' | 'credits_granted' | 'reviewed_by' | 'reason'>,
  now: Date,
): BatchStep {
  return { query: closeApplicationQuery(db, id, { ...decision, reviewed_at: now.getTime() }), mustChange: true };
}

/** Approval, plan change, credit grant and audit event commit together or not at all. */
export async function approve(deps: TrialDeps, actor: AdminActor, input: { id: string; credits?: number }): Promise<ApplicationView> {
  const { db } = deps;
  const { id } = input;
  const { admin, meta, app } = await openReview(deps, actor, id);
  const credits = input.credits ?? deps.trialCredits;
  // Listed in the audit trail; the UPDATE itself disables whatever network key exists when it runs,
  // and verification refuses every key of a developer account on network domains regardless.
  const networkKeys = await activeNetworkKeyIds(db, app.address);
  try {
    await inBatch(db, [
      closeStep(db, id, { status: 'approved', credits_granted: credits, reviewed_by: admin, reason: null }, meta.now),
      { query: grantDeveloperPlanQuery(db, app.address, credits), mustChange: true },
      auditEventStep(db, meta, { actor: admin, account: app.address, action: 'trial.approve', target: id, detail: { credits } }),
      // Why: an approved account's keys never work on network domains, so its network keys are
      // turned off with the approval and say why (the console shows it).
      disableNetworkKeysOnApprovalQuery(db, app.address),
      ...(networkKeys.length > 0
        ? [
            auditEventStep(db, meta, {
              actor: admin,
              account: app.address,
              action: 'key.disable',
              target: app.address,
              detail: { reason: 'trial_approved', keys: networkKeys },
            }),
          ]
        : []),
      // The plan and the balance's enforcement are part of every cached key record of the account.
      ...changeSteps(db, { account: app.address }),
      // Webhooks: the outbox event and the grant account.credits_low measures against, in this batch.
      trialDecisionEventQuery(db, app, { status: 'approved', credits }, meta.now),
      creditGrantInsertQuery(db, app.address, credits, meta.now),
    ]);
    recordsChanged(db, { account: app.address });
  } catch (err) {
    if (!(err instanceof BatchConditionFailed)) throw err;
    if (err.index === 0) throw new AppError('application_closed');
    throw new AppError('invalid_request', `The balance cannot exceed ${MAX_CREDITS} credits.`, { extra: { param: 'credits' } });
  }
  return applicationView((await findApplication(db, id)) as ApplicationRow);
}

export async function reject(deps: TrialDeps, actor: AdminActor, input: { id: string; reason: string }): Promise<ApplicationView> {
  const { db } = deps;
  const { id, reason } = input;
  const { admin, meta, app } = await openReview(deps, actor, id);
  try {
    await inBatch(db, [
      closeStep(db, id, { status: 'rejected', credits_granted: null, reviewed_by: admin, reason }, meta.now),
      auditEventStep(db, meta, { actor: admin, account: app.address, action: 'trial.reject', target: id, detail: { reason } }),
      trialDecisionEventQuery(db, app, { status: 'rejected', reason }, meta.now),
    ]);
  } catch (err) {
    if (err instanceof BatchConditionFailed) throw new AppError('application_closed');
    throw err;
  }
  return applicationView((await findApplication(db, id)) as ApplicationRow);
}

export async function changeCredits(
  deps: TrialDeps,
  actor: AdminActor,
  change: { address: string; delta: number; reason: string },
): Promise<AccountView> {
  assertAdmin(actor);
  const { db } = deps;
  if (!isAddress(change.address, { strict: false })) {
    throw new AppError('invalid_request', 'Invalid address.', { extra: { param: 'address' } });
  }
  // Addresses are stored checksummed; match whatever case the admin typed.
  const address = getAddress(change.address);
  const input = { delta: change.delta, reason: change.reason };
  const admin = actorId(actor);
  const meta = auditMeta(actor, deps.clock.now());
  if (!(await findAccount(db, address))) throw new AppError('not_found', 'No such account.');
  await changeBalance(db, meta, { admin, account: address, action: 'account.credits', input });
  return accountView(db, await getAccountOrThrow(db, address), rolesFor(address, deps.adminAddresses));
}
