// The services, built once per app from its dependencies (unkey's pattern): each service function
// is `(deps, actor, input)`, and the routes call them bound to the app's deps as `(actor, input)`.
import type { AppDeps } from '../deps.js';
import type { DomainRow } from '../db/schema.js';
import { WindowLimiter } from './window-limiter.js';
import { adminStats, domainStats, usageSummary, type AnalyticsDeps } from './analytics.js';
import { listAllAudit, listOwnAudit, type AuditDeps } from './audit.js';
import { issueNonce, me, signIn, signOut, signOutAll } from './auth.js';
import {
  checkClaim,
  checkDomainOwnership,
  claimDomain,
  createDomain,
  getDomain,
  listVisibleDomains,
  removeDomain,
  rotateDomainToken,
  OWNERSHIP_CHECKS_PER_MINUTE,
  type DomainsDeps,
} from './domains.js';
import { createKey, deleteKey, getKey, listOwnKeys, rotateKey, updateKey, type KeysDeps } from './keys.js';
import type { Metrics } from './metrics.js';
import { approve, apply, changeCredits, listForAdmin, myApplication, reject, type TrialDeps } from './trial.js';
import { recordUsageBatch } from './usage-batch.js';
import { listAccountUsage, recordUsage, type UsageInput } from './usage.js';
import type { Actor } from './actor.js';
import {
  changeRole,
  changeTeamCredits,
  createTeam,
  deleteTeam,
  getTeam,
  inviteMember,
  joinTeam,
  listMyTeams,
  listTeamsForAdmin,
  removeMember,
  teamAudit,
  type TeamsDeps,
} from './teams.js';
import {
  createWebhook,
  deleteWebhook,
  getWebhook,
  listDeliveries,
  listWebhooks,
  retryDelivery,
  rotateWebhookSecret,
  sendTestEvent,
  type WebhooksDeps,
} from './webhooks.js';

type Bound<F> = F extends (deps: never, ...args: infer A) => infer R ? (...args: A) => R : never;
type Service<T> = { readonly [K in keyof T]: Bound<T[K]> };

/** Binds every function of a service to its deps, once: `fns.create(deps, actor, input)` becomes `create(actor, input)`. */
export function bindService<D, T extends Record<string, (deps: D, ...args: never[]) => unknown>>(deps: D, fns: T): Service<T> {
  const out: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(fns)) out[name] = (...args: never[]) => fn(deps, ...args);
  return out as Service<T>;
}

/** A usage record charged: counted in the charge metrics (the one place, for single and batch reports). */
function countCharge(metrics: Metrics, res: { charged: number; uncharged: number }): void {
  metrics.charges.inc({ source: 'usage' });
  metrics.credits.inc({ source: 'usage' }, res.charged);
  metrics.uncharged.inc({}, res.uncharged);
}

type Domain = Pick<DomainRow, 'id' | 'visibility'>;

/** Every service the routes call, bound to the app's deps (built once per app, in createApp). */
export function createServices(deps: AppDeps): Services {
  return buildServices(deps);
}

export type Services = ReturnType<typeof buildServices>;

function buildServices(deps: AppDeps) {
  const { db, clock, config } = deps;
  const keysDeps: KeysDeps = { db, clock, keyPrefix: config.keyPrefix, maxKeysPerAccount: config.maxKeysPerAccount };
  const domainsDeps: DomainsDeps = {
    db,
    clock,
    keyPrefix: config.keyPrefix,
    maxDomainsPerAccount: config.maxDomainsPerAccount,
    checker: deps.domainChecker,
    checkLimiter: new WindowLimiter(OWNERSHIP_CHECKS_PER_MINUTE, clock),
  };
  const trialDeps: TrialDeps = { db, clock, trialCredits: config.trialCredits, adminAddresses: config.adminAddresses };
  const webhooksDeps: WebhooksDeps = {
    db,
    clock,
    allowPrivateUrls: config.webhooks.allowPrivateUrls,
    maxPerAccount: config.webhooks.maxPerAccount,
    secretGraceSeconds: config.webhooks.secretGraceSeconds,
  };
  const analyticsDeps: AnalyticsDeps = { db, clock, verifyStats: deps.verifyStats };
  const auditDeps: AuditDeps = { db };
  const teamsDeps: TeamsDeps = { db, clock };
  return {
    auth: bindService(deps, { issueNonce, signIn, signOut, signOutAll, me }),
    keys: bindService(keysDeps, {
      create: createKey,
      list: listOwnKeys,
      get: getKey,
      update: updateKey,
      rotate: rotateKey,
      remove: deleteKey,
    }),
    domains: bindService(domainsDeps, {
      create: createDomain,
      list: listVisibleDomains,
      get: getDomain,
      remove: removeDomain,
      rotateToken: rotateDomainToken,
      checkOwnership: checkDomainOwnership,
      claim: claimDomain,
      checkClaim,
    }),
    trial: bindService(trialDeps, { apply, mine: myApplication, list: listForAdmin, approve, reject, changeCredits }),
    webhooks: bindService(webhooksDeps, {
      create: createWebhook,
      list: listWebhooks,
      get: getWebhook,
      remove: deleteWebhook,
      rotateSecret: rotateWebhookSecret,
      sendTest: sendTestEvent,
      deliveries: listDeliveries,
      retry: retryDelivery,
    }),
    analytics: bindService(analyticsDeps, { usageSummary, domainStats, adminStats }),
    audit: bindService(auditDeps, { own: listOwnAudit, all: listAllAudit }),
    teams: bindService(teamsDeps, {
      create: createTeam,
      listMine: listMyTeams,
      get: getTeam,
      remove: deleteTeam,
      invite: inviteMember,
      join: joinTeam,
      changeRole,
      removeMember,
      audit: teamAudit,
      listAll: listTeamsForAdmin,
      changeCredits: changeTeamCredits,
    }),
    usage: {
      /** A domain token reports one record (the domain acts, not an account). */
      record: async (domain: Domain, input: UsageInput) => {
        const res = await recordUsage(deps, domain, input, clock.now());
        countCharge(deps.metrics, res);
        return res;
      },
      recordBatch: async (domain: Domain, records: UsageInput[]) => {
        const results = await recordUsageBatch(deps, domain, records, clock.now());
        for (const res of results) if (res.recorded) countCharge(deps.metrics, res);
        return results;
      },
      list: (actor: Actor, q: Parameters<typeof listAccountUsage>[2]) => listAccountUsage(db, actor.address, q),
    },
  };
}
