import type { Kysely } from 'kysely';
import type {
  AdminStats,
  DomainStats,
  SummaryGroup,
  TimeGrain,
  UsageBucket,
  UsageSummary,
  VerificationBucket,
} from '../contract/analytics.js';
import { REFUSAL_CODES } from '../contract/verify-codes.js';

import {
  auditEventsOf,
  countBy,
  domainNames,
  domainUsageByHour,
  HOUR_MS,
  hourOf,
  keyNames,
  sumRecords,
  sumRollups,
  verificationCounts,
  type UsageDimension,
  type UsageSums,
} from '../db/repositories/analytics.js';
import { findDomain } from '../db/repositories/domains.js';
import type { Database } from '../db/schema.js';
import { AppError } from '../errors.js';
import type { VerifyStats } from './verify-stats.js';
import { assertAdmin, isAdmin, type Actor, type AdminActor } from './actor.js';
import { ownerForTeamOrSelf, requireOwnerAccess } from './teams.js';
import type { Clock } from '../clock.js';

export const DAY_MS = 86_400_000;
export const MAX_RANGE_DAYS = 366;
export const DEFAULT_RANGE_DAYS = 30;

export interface Range {
  from: number;
  to: number;
}

/** `from` defaults to 30 days before `to`, `to` to now; at most 366 days; `from` before `to`. */
export function resolveRange(q: { from?: string; to?: string }, now: number): Range {
  // `to` is exclusive; by default it includes what was written in this very millisecond.
  const to = q.to ? Date.parse(q.to) : now + 1;
  const from = q.from ? Date.parse(q.from) : to - DEFAULT_RANGE_DAYS * DAY_MS;
  if (!(from < to)) throw new AppError('invalid_request', 'Invalid from: must be before to.', { extra: { param: q.from ? 'from' : 'to' } });
  if (to - from > MAX_RANGE_DAYS * DAY_MS) {
    throw new AppError('invalid_request', `Invalid from: the range may span at most ${MAX_RANGE_DAYS} days.`, { extra: { param: 'from' } });
  }
  return { from, to };
}

const grainMs = (g: TimeGrain): number => (g === 'day' ? DAY_MS : HOUR_MS);
const startOf = (ms: number, g: TimeGrain): number => ms - (ms % grainMs(g));

/** The bucket label: `2026-11-29` for days, `2026-11-29T13:00:00Z` for hours (UTC). */
export function bucketLabel(ms: number, g: TimeGrain): string {
  const s = new Date(ms).toISOString();
  return g === 'day' ? s.slice(0, 10) : `${s.slice(0, 13)}:00:00Z`;
}

/** Every bucket start that overlaps [from, to), oldest first (empty ones included). */
export function bucketStarts(r: Range, g: TimeGrain): number[] {
  const out: number[] = [];
  for (let t = startOf(r.from, g); t < r.to; t += grainMs(g)) out.push(t);
  return out;
}

const iso = (ms: number): string => new Date(ms).toISOString();

// ---- usage summary ----

const zero = (bucket: string | null): UsageBucket => ({
  bucket,
  requests: 0,
  input_tokens: 0,
  output_tokens: 0,
  cost: 0,
  charged: 0,
  uncharged: 0,
});
function add(into: UsageBucket, s: Omit<UsageSums, 'dim'>): void {
  into.requests += s.requests;
  into.input_tokens += s.input_tokens;
  into.output_tokens += s.output_tokens;
  into.cost += s.cost;
  into.charged += s.charged;
  into.uncharged += s.uncharged;
}

const DIMENSION: Record<SummaryGroup, UsageDimension> = { day: 'hour', hour: 'hour', model: 'model', key: 'key_id', domain: 'domain_id' };

export interface AnalyticsDeps {
  db: Kysely<Database>;
  clock: Clock;
  /** Flushed before a read, so a reader sees its own instance's latest counts. */
  verifyStats: VerifyStats;
}

/**
 * Sums of the account's usage records in [from, to). Whole hours come from the roll-ups (kept in
 * the batch of each usage write); the partial hours at the edges come from the records, so the
 * totals equal the sum of the records for any range, to the millisecond.
 */
export async function usageSummary(
  deps: AnalyticsDeps,
  actor: Actor,
  q: { group_by?: SummaryGroup; from?: string; to?: string; key_id?: string; model?: string; team_id?: string },
): Promise<UsageSummary> {
  const { db } = deps;
  // With team_id, the team's usage (any active member may read it).
  const account = await ownerForTeamOrSelf(db, actor, q.team_id, 'read');
  const now = deps.clock.now().getTime();
  const group = q.group_by ?? 'day';
  const range = resolveRange(q, now);
  const dim = DIMENSION[group];
  const filter = { account, keyId: q.key_id, model: q.model };
  const firstWhole = range.from % HOUR_MS === 0 ? range.from : hourOf(range.from) + HOUR_MS;
  const lastWhole = hourOf(range.to);
  const parts: Promise<UsageSums[]>[] = [];
  if (firstWhole < lastWhole) {
    parts.push(sumRollups(db, filter, firstWhole, lastWhole, dim));
    if (range.from < firstWhole) parts.push(sumRecords(db, filter, range.from, firstWhole, dim));
    if (lastWhole < range.to) parts.push(sumRecords(db, filter, lastWhole, range.to, dim));
  } else {
    parts.push(sumRecords(db, filter, range.from, range.to, dim));
  }
  const sums = (await Promise.all(parts)).flat();

  let data: UsageBucket[];
  if (group === 'day' || group === 'hour') {
    const byStart = new Map<number, UsageBucket>();
    for (const t of bucketStarts(range, group)) byStart.set(t, zero(bucketLabel(t, group)));
    for (const s of sums) {
      const b = byStart.get(startOf(Number(s.dim), group));
      if (b) add(b, s);
    }
    data = [...byStart.values()];
  } else {
    const byDim = new Map<string, UsageBucket>();
    for (const s of sums) {
      const k = String(s.dim);
      let b = byDim.get(k);
      if (!b) {
        b = zero(group === 'model' && k === '' ? null : k);
        byDim.set(k, b);
      }
      add(b, s);
    }
    if (group === 'key') {
      const names = await keyNames(db, account, [...byDim.keys()]);
      for (const [id, b] of byDim) b.key_name = names.get(id) ?? null;
    } else if (group === 'domain') {
      const names = await domainNames(db, [...byDim.keys()]);
      for (const [id, b] of byDim) {
        b.domain_id = id;
        b.bucket = names.get(id) ?? id;
      }
    }
    data = [...byDim.values()].sort(
      (a, b) => b.cost - a.cost || b.requests - a.requests || String(a.bucket).localeCompare(String(b.bucket)),
    );
  }
  const totals = zero('total');
  for (const b of data) add(totals, b);
  return { group_by: group, from: iso(range.from), to: iso(range.to), data, totals };
}

// ---- domain stats ----

const zeroVerification = (bucket: string): VerificationBucket => ({
  bucket,
  verifications: 0,
  valid: 0,
  refused: Object.fromEntries(REFUSAL_CODES.map((c) => [c, 0])),
  credits_charged: 0,
  charged_at_verify: 0,
  charged_by_usage: 0,
  usage_reports: 0,
});

function addVerification(into: VerificationBucket, code: string, count: number, charged: number): void {
  into.verifications += count;
  if (code === 'valid') into.valid += count;
  else into.refused[code] = (into.refused[code] ?? 0) + count;
  into.charged_at_verify += charged;
  into.credits_charged += charged;
}

function sumVerificationBuckets(data: VerificationBucket[]): VerificationBucket {
  const t = zeroVerification('total');
  for (const b of data) {
    t.verifications += b.verifications;
    t.valid += b.valid;
    for (const [c, n] of Object.entries(b.refused)) t.refused[c] = (t.refused[c] ?? 0) + n;
    t.credits_charged += b.credits_charged;
    t.charged_at_verify += b.charged_at_verify;
    t.charged_by_usage += b.charged_by_usage;
    t.usage_reports += b.usage_reports;
  }
  return t;
}

/**
 * What a domain's verifications answered, per day or hour. Counts are hour-grained: a range
 * that starts mid-hour includes that whole hour. Visible to the domain's owner and to admins;
 * anyone else gets 404 (no existence leak).
 */
export async function domainStats(
  deps: AnalyticsDeps,
  caller: Actor,
  q: { id: string; group_by?: TimeGrain; from?: string; to?: string },
): Promise<DomainStats> {
  const domainId = q.id;
  const now = deps.clock.now().getTime();
  const domain = await findDomain(deps.db, domainId);
  if (!domain) throw new AppError('not_found', 'No such domain.');
  // Its owner, its team's members (any role reads), or admins; anyone else: not found.
  if (!isAdmin(caller)) await requireOwnerAccess(deps.db, caller.address, domain.owner, 'read', 'domain');
  const group = q.group_by ?? 'day';
  const range = resolveRange(q, now);
  // This instance's counts not yet written: a reader sees its own instance's latest figures.
  await deps.verifyStats.flush();
  const [counts, usage] = await Promise.all([
    verificationCounts(deps.db, { domainId }, hourOf(range.from), range.to),
    domainUsageByHour(deps.db, domainId, hourOf(range.from), range.to),
  ]);
  const byStart = new Map<number, VerificationBucket>();
  for (const t of bucketStarts(range, group)) byStart.set(t, zeroVerification(bucketLabel(t, group)));
  for (const c of counts) {
    const b = byStart.get(startOf(c.hour, group));
    if (b) addVerification(b, c.code, c.count, c.charged);
  }
  for (const u of usage) {
    const b = byStart.get(startOf(u.hour, group));
    if (!b) continue;
    b.charged_by_usage += u.charged;
    b.credits_charged += u.charged;
    b.usage_reports += u.requests;
  }
  const data = [...byStart.values()];
  return { domain_id: domainId, group_by: group, from: iso(range.from), to: iso(range.to), data, totals: sumVerificationBuckets(data) };
}

// ---- admin overview ----

/**
 * The platform at a glance. Accounts, trial applications and keys are counts now; credits and
 * verifications are for [from, to) (hour-grained). Credits granted are trial approvals plus
 * positive admin adjustments, read from the audit trail they are written with.
 */
export async function adminStats(deps: AnalyticsDeps, actor: AdminActor, q: { from?: string; to?: string }): Promise<AdminStats> {
  assertAdmin(actor);
  const now = deps.clock.now().getTime();
  const range = resolveRange(q, now);
  await deps.verifyStats.flush();
  const fromHour = hourOf(range.from);
  const [plans, trials, keys, counts, usage, grants] = await Promise.all([
    countBy(deps.db, 'accounts', 'plan'),
    countBy(deps.db, 'trial_applications', 'status'),
    countBy(deps.db, 'api_keys', 'status'),
    verificationCounts(deps.db, {}, fromHour, range.to),
    sumRollups(deps.db, {}, fromHour, range.to, 'hour'),
    auditEventsOf(deps.db, ['trial.approve', 'account.credits', 'team.credits'], range.from, range.to),
  ]);
  const byStart = new Map<number, AdminStats['data'][number]>();
  for (const t of bucketStarts(range, 'day')) {
    byStart.set(t, { bucket: bucketLabel(t, 'day'), verifications: 0, valid: 0, refused: 0, credits_charged: 0, requests: 0 });
  }
  const byCode: Record<string, number> = Object.fromEntries(['valid', ...REFUSAL_CODES].map((c) => [c, 0]));
  let verifications = 0;
  let charged = 0;
  let uncharged = 0;
  for (const c of counts) {
    byCode[c.code] = (byCode[c.code] ?? 0) + c.count;
    verifications += c.count;
    charged += c.charged;
    const b = byStart.get(startOf(c.hour, 'day'));
    if (b) {
      b.verifications += c.count;
      if (c.code === 'valid') b.valid += c.count;
      else b.refused += c.count;
      b.credits_charged += c.charged;
    }
  }
  for (const u of usage) {
    charged += u.charged;
    uncharged += u.uncharged;
    const b = byStart.get(startOf(Number(u.dim), 'day'));
    if (b) {
      b.credits_charged += u.charged;
      b.requests += u.requests;
    }
  }
  let granted = 0;
  for (const e of grants) {
    const detail = e.detail ? (JSON.parse(e.detail) as { credits?: unknown; delta?: unknown }) : {};
    const n = Number(e.action === 'trial.approve' ? detail.credits : detail.delta);
    if (Number.isFinite(n) && n > 0) granted += n;
  }
  const n = (m: Map<string, number>, k: string): number => m.get(k) ?? 0;
  return {
    from: iso(range.from),
    to: iso(range.to),
    accounts: { total: n(plans, 'developer') + n(plans, 'network'), developer: n(plans, 'developer'), network: n(plans, 'network') },
    trial: { pending: n(trials, 'pending'), approved: n(trials, 'approved'), rejected: n(trials, 'rejected') },
    credits: { granted, charged, uncharged },
    verifications: { total: verifications, by_code: byCode },
    keys: { active: n(keys, 'active'), disabled: n(keys, 'disabled') },
    data: [...byStart.values()],
  };
}
