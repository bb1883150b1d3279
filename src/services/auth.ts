import { getAccountOrThrow, upsertAccountOnSignInQuery } from '../db/repositories/accounts.js';
import { consumeNonce, purgeExpiredNonces } from '../db/repositories/nonces.js';
import { getOrCreateSecret } from '../db/repositories/server-secrets.js';
import { insertSessionQuery, purgeExpiredSessions, revokeAllSessionsQuery, revokeSessionQuery } from '../db/repositories/sessions.js';
import { inBatch } from '../db/tx.js';
import type { AppDeps } from '../deps.js';
import { AppError } from '../errors.js';
import { randomBase62 } from '../ids.js';
import { accountView, rolesFor } from './accounts.js';
import type { AccountView } from '../contract/views.js';
import { auditEventStep } from './audit.js';
import { auditMeta, type Actor, type RequestOrigin } from './actor.js';
import { SIWE_CLOCK_SKEW_MS, checkSiweMessage } from './siwe.js';
import { createNonceCodec, type NonceCodec } from './stateless-nonce.js';
import type { Hex } from 'viem';

export const NONCE_TTL_MS = 5 * 60_000;
const PURGE_INTERVAL_MS = 30_000;
const NONCE_SECRET_NAME = 'nonce_hmac_v1';

type Deps = Pick<AppDeps, 'db' | 'clock' | 'config' | 'sessions' | 'verifySignature' | 'metrics'>;

/** Per-database state (one process may serve several databases, as tests do). */
const perDb = new WeakMap<object, { lastPurge: number; codec: Promise<NonceCodec> }>();

function stateFor(deps: Deps): { lastPurge: number; codec: Promise<NonceCodec> } {
  let st = perDb.get(deps.db);
  if (!st) {
    // Why: every instance must accept the nonces the others issue, so the HMAC key is shared: a
    // configured NONCE_SECRET, else a random secret stored once in the database.
    const secret = deps.config.nonceSecret
      ? Promise.resolve(deps.config.nonceSecret)
      : getOrCreateSecret(deps.db, NONCE_SECRET_NAME, randomBase62(43), deps.clock.now().getTime());
    const codec = secret.then(createNonceCodec);
    st = { lastPurge: 0, codec };
    perDb.set(deps.db, st);
    // A failed first load (database briefly down) is retried on the next call, not cached.
    codec.catch(() => perDb.delete(deps.db));
  }
  return st;
}

/**
 * A fresh nonce. Stateless: nothing is written, so no number of requests can fill a table and lock
 * other clients out (the per-IP and per-/64 limits in front of this slow single flooders).
 */
export async function issueNonce(deps: Deps): Promise<{ nonce: string; expiresAt: Date }> {
  const expiresAt = deps.clock.now().getTime() + NONCE_TTL_MS;
  const nonce = await (await stateFor(deps).codec).issue(expiresAt);
  return { nonce, expiresAt: new Date(expiresAt) };
}

/**
 * Checks the nonce's MAC and expiry, then records it as used in one insert keyed by the nonce, so
 * a replay or a race of two requests with one nonce gets exactly one chance, on any instance.
 * Returns when it was issued, or null. Used nonces are kept until they expire, then purged.
 */
async function consumeStatelessNonce(deps: Deps, nonce: string, now: number, ip: string | null): Promise<number | null> {
  const st = stateFor(deps);
  const expiresAt = await (await st.codec).open(nonce, now);
  if (expiresAt === null) return null;
  if (Math.abs(now - st.lastPurge) > PURGE_INTERVAL_MS) {
    st.lastPurge = now;
    await purgeExpiredNonces(deps.db, now);
    await purgeExpiredSessions(deps.db, now);
  }
  const issuedAt = expiresAt - NONCE_TTL_MS;
  return (await consumeNonce(deps.db, { nonce, issued_at: issuedAt, expires_at: expiresAt, ip })) ? issuedAt : null;
}

export interface SignInResult {
  token: string;
  expiresAt: Date;
  account: AccountView;
}

/**
 * Exchanges a signed SIWE message for a session. Nobody acts yet (the wallet proves itself here),
 * so it takes the request's origin instead of an actor. Counts every outcome in the sign-in metric.
 */
export async function signIn(deps: Deps, from: RequestOrigin, input: { message: string; signature: Hex }): Promise<SignInResult> {
  try {
    const res = await signInOnce(deps, from, input);
    deps.metrics.signIns.inc({ result: 'ok' });
    return res;
  } catch (err) {
    deps.metrics.signIns.inc({ result: err instanceof AppError ? err.code : 'error' });
    throw err;
  }
}

async function signInOnce(deps: Deps, from: RequestOrigin, input: { message: string; signature: Hex }): Promise<SignInResult> {
  const { config } = deps;
  const now = deps.clock.now();
  const meta = auditMeta({ request: from }, now);
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
  const nonceIssuedAt = await consumeStatelessNonce(deps, checked.parsed.nonce, now.getTime(), meta.ip);
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
    upsertAccountOnSignInQuery(deps.db, checked.address, now.getTime()),
    insertSessionQuery(deps.db, {
      id: sid,
      address: checked.address,
      roles: JSON.stringify(roles),
      created_at: now.getTime(),
      expires_at: expiresAt.getTime(),
      revoked_at: null,
      ip: meta.ip,
      user_agent: meta.userAgent ? meta.userAgent.slice(0, 512) : null,
    }),
    auditEventStep(deps.db, meta, {
      actor: checked.address,
      account: checked.address,
      action: 'auth.sign_in',
      target: sid,
      detail: { chain_id: checked.parsed.chainId, roles },
    }),
  ]);
  const account = await getAccountOrThrow(deps.db, checked.address);
  const token = await deps.sessions.sign({ address: checked.address, sid, roles, expiresAt, issuedAt: now });
  return { token, expiresAt, account: await accountView(deps.db, account, roles) };
}

/** Revokes the actor's session (an API key has none to revoke: nothing happens). */
export async function signOut(deps: Deps, who: Actor): Promise<void> {
  if (who.kind !== 'session') return;
  const meta = auditMeta(who, deps.clock.now());
  await inBatch(deps.db, [
    revokeSessionQuery(deps.db, who.sid, meta.now.getTime()),
    auditEventStep(deps.db, meta, { actor: who.address, account: who.address, action: 'auth.sign_out', target: who.sid }),
  ]);
}

export async function signOutAll(deps: Deps, who: Actor): Promise<void> {
  const meta = auditMeta(who, deps.clock.now());
  await inBatch(deps.db, [
    revokeAllSessionsQuery(deps.db, who.address, meta.now.getTime()),
    auditEventStep(deps.db, meta, { actor: who.address, account: who.address, action: 'auth.sign_out_all', target: null }),
  ]);
}

export async function me(deps: Deps, who: Actor): Promise<AccountView> {
  return accountView(deps.db, await getAccountOrThrow(deps.db, who.address), who.roles);
}
