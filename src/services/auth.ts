import { getAccountOrThrow, upsertAccountOnSignIn } from '../db/repositories/accounts.js';
import { consumeNonce, countNonces, insertNonce, purgeExpiredNonces } from '../db/repositories/nonces.js';
import { insertSession, purgeExpiredSessions, revokeAllSessions, revokeSession } from '../db/repositories/sessions.js';
import { inBatch } from '../db/tx.js';
import type { AppDeps } from '../deps.js';
import { AppError } from '../errors.js';
import { randomBase62 } from '../ids.js';
import { accountView, rolesFor, type AccountView } from './accounts.js';
import { auditEvent, type RequestMeta } from './audit.js';
import { SIWE_CLOCK_SKEW_MS, checkSiweMessage } from './siwe.js';
import type { Hex } from 'viem';

export const NONCE_TTL_MS = 5 * 60_000;
const PURGE_INTERVAL_MS = 30_000;

type Deps = Pick<AppDeps, 'db' | 'clock' | 'config' | 'sessions' | 'verifySignature'>;

/** Per-database housekeeping state (one process may serve several databases, as tests do). */
const housekeeping = new WeakMap<object, { lastPurge: number; countAt: number; count: number }>();

export async function issueNonce(deps: Deps, ip: string | null): Promise<{ nonce: string; expiresAt: Date }> {
  const now = deps.clock.now().getTime();
  // Expired nonces are useless; dropping them keeps the table bounded by the issue rate.
  let hk = housekeeping.get(deps.db);
  if (!hk) housekeeping.set(deps.db, (hk = { lastPurge: 0, countAt: 0, count: 0 }));
  if (Math.abs(now - hk.lastPurge) > PURGE_INTERVAL_MS) {
    hk.lastPurge = now;
    await purgeExpiredNonces(deps.db, now);
    await purgeExpiredSessions(deps.db, now);
  }
  // Why: a bounded table. Per-IP limits slow one client; this caps many clients together. The count
  // is refreshed every few seconds and estimated in between.
  if (Math.abs(now - hk.countAt) > 5_000) {
    hk.countAt = now;
    hk.count = await countNonces(deps.db);
  }
  if (hk.count >= deps.config.maxPendingNonces) {
    throw new AppError('rate_limited', 'Too many sign-ins are in progress. Try again in a minute.', { headers: { 'retry-after': '60' } });
  }
  hk.count += 1;
  // 22 base62 characters: about 131 bits, alphanumeric as EIP-4361 requires.
  const nonce = randomBase62(22);
  const expiresAt = now + NONCE_TTL_MS;
  await insertNonce(deps.db, { nonce, issued_at: now, expires_at: expiresAt, ip });
  return { nonce, expiresAt: new Date(expiresAt) };
}

export interface SignInResult {
  token: string;
  expiresAt: Date;
  account: AccountView;
}

export async function signIn(deps: Deps, input: { message: string; signature: Hex }, meta: RequestMeta): Promise<SignInResult> {
  const { config } = deps;
  const now = deps.clock.now();
  const checked = checkSiweMessage(input.message, {
    domains: config.siweDomains,
    scheme: new URL(config.publicOrigin).protocol.slice(0, -1),
    uriOrigins: [config.publicOrigin],
    chainIds: config.chainIds,
    now,
    rejectFutureIssuedAt: true,
  });
  // Why: consume the nonce before any signature work, atomically, so a replay or a race of two
  // requests with one nonce gets exactly one chance, and a failed signature burns the nonce too.
  const nonceIssuedAt = await consumeNonce(deps.db, checked.parsed.nonce, now.getTime());
  if (nonceIssuedAt === null) throw new AppError('siwe_nonce_invalid');
  // Why: a message claiming to predate its nonce was not built from it.
  if (checked.issuedAt.getTime() < nonceIssuedAt - SIWE_CLOCK_SKEW_MS) {
    throw new AppError('siwe_nonce_invalid', 'The message Issued At is older than its nonce.');
  }
  const ok = await deps.verifySignature({
    address: checked.address,
    message: input.message,
    signature: input.signature,
    chainId: checked.parsed.chainId,
  });
  if (!ok) throw new AppError('siwe_invalid_signature');

  const roles = rolesFor(checked.address, config.adminAddresses);
  const sid = `ses_${randomBase62(24)}`;
  let expiresMs = now.getTime() + config.sessionTtlSeconds * 1000;
  // A session never outlives the message it was signed with.
  if (checked.expirationTime && checked.expirationTime.getTime() < expiresMs) expiresMs = checked.expirationTime.getTime();
  const expiresAt = new Date(Math.floor(expiresMs / 1000) * 1000);
  // A token that would be born expired (the message expires within the second) is refused.
  if (expiresAt.getTime() <= now.getTime()) throw new AppError('siwe_expired', 'The message expires too soon to start a session.');

  // Account, session and audit event are written together or not at all (one batch, D1 included).
  await inBatch(deps.db, [
    upsertAccountOnSignIn(deps.db, checked.address, now.getTime()),
    insertSession(deps.db, {
      id: sid,
      address: checked.address,
      roles: JSON.stringify(roles),
      created_at: now.getTime(),
      expires_at: expiresAt.getTime(),
      revoked_at: null,
      ip: meta.ip,
      user_agent: meta.userAgent ? meta.userAgent.slice(0, 512) : null,
    }),
    auditEvent(deps.db, meta, {
      actor: checked.address,
      account: checked.address,
      action: 'auth.sign_in',
      target: sid,
      detail: { chain_id: checked.parsed.chainId, roles },
    }),
  ]);
  const account = await getAccountOrThrow(deps.db, checked.address);
  const token = await deps.sessions.sign({ address: checked.address, sid, roles, expiresAt });
  return { token, expiresAt, account: await accountView(deps.db, account, roles) };
}

export async function signOut(deps: Deps, who: { address: string; sid: string }, meta: RequestMeta): Promise<void> {
  await inBatch(deps.db, [
    revokeSession(deps.db, who.sid, meta.now.getTime()),
    auditEvent(deps.db, meta, { actor: who.address, account: who.address, action: 'auth.sign_out', target: who.sid }),
  ]);
}

export async function signOutAll(deps: Deps, who: { address: string }, meta: RequestMeta): Promise<void> {
  await inBatch(deps.db, [
    revokeAllSessions(deps.db, who.address, meta.now.getTime()),
    auditEvent(deps.db, meta, { actor: who.address, account: who.address, action: 'auth.sign_out_all', target: null }),
  ]);
}

export async function me(deps: Deps, who: { address: string; roles: string[] }): Promise<AccountView> {
  return accountView(deps.db, await getAccountOrThrow(deps.db, who.address), who.roles);
}
