import type { Context, MiddlewareHandler } from 'hono';
import { findKeyForAuth } from '../db/repositories/keys.js';
import type { AppDeps, AppEnv } from '../deps.js';
import { AppError } from '../errors.js';
import { hashSecret, parseSecret } from '../services/key-format.js';
import { checkLiveness } from '../services/key-policy.js';
import type { Scope } from '../contract/verify-codes.js';
import { rolesFor } from '../services/accounts.js';
import { isTeamId } from '../db/repositories/teams.js';
import { assertAdmin, type RequestOrigin } from '../services/actor.js';

export function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1] : null;
}

/**
 * Requires a live session JWT, or (when keyScope is given) an API key of the account holding that
 * scope. Sets `actor`.
 */
export function authenticate(deps: AppDeps, opts: { keyScope?: Scope } = {}): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const token = bearerToken(c.req.header('authorization'));
    if (!token) throw new AppError('invalid_session');
    const secret = parseSecret(token);
    if (secret && (secret.kind === 'dev' || secret.kind === 'net')) {
      const now = deps.clock.now().getTime();
      const hash = hashSecret(token);
      const key = await findKeyForAuth(deps.db, hash, now);
      // The key policy's liveness rules (the lookup already skips a rotated-out secret past its grace period).
      const live = key
        ? checkLiveness(
            {
              status: key.status,
              expires_at: key.expires_at === null ? null : Number(key.expires_at),
              prevUntil: key.hash === hash || key.prev_expires_at === null ? null : Number(key.prev_expires_at),
            },
            now,
          )
        : null;
      if (!key || !live?.ok) throw new AppError('invalid_api_key');
      // Why: a team's key would act as the team (every team key), whatever its creator's role.
      // Team keys never carry the admin scope; this refuses them here too.
      if (isTeamId(key.account)) throw new AppError('insufficient_scope', 'Team keys cannot manage keys; use a session.');
      const scopes = JSON.parse(key.scopes) as string[];
      // Why: only keys meant for management may act for the account; an inference key that leaks
      // must not be able to mint more keys.
      if (!opts.keyScope || !scopes.includes(opts.keyScope)) {
        throw new AppError(
          'insufficient_scope',
          opts.keyScope ? `This endpoint needs a key with the ${opts.keyScope} scope, or a session.` : 'This endpoint needs a session.',
        );
      }
      c.set('actor', {
        kind: 'key',
        address: key.account as `0x${string}`,
        roles: ['user'],
        keyId: key.id,
        scopes,
        request: origin(c, deps),
      });
    } else {
      const claims = await deps.sessions.verify(token);
      // Roles follow ADMIN_ADDRESSES now, not as they were at sign-in: removing an admin takes effect at once.
      c.set('actor', {
        kind: 'session',
        address: claims.address,
        roles: rolesFor(claims.address, deps.config.adminAddresses),
        sid: claims.sid,
        request: origin(c, deps),
      });
    }
    await next();
  };
}

/** Requires a live session JWT; sets `actor`. */
export function requireSession(deps: AppDeps): MiddlewareHandler<AppEnv> {
  return authenticate(deps);
}

/** The one role check of the admin routes: after `authenticate`, refuses an actor without the admin role. */
export function requireAdmin(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    assertAdmin(c.get('actor'));
    await next();
  };
}

/** Where the request came from, for the audit trail. */
export function origin(c: Context<AppEnv>, deps: AppDeps): RequestOrigin {
  return { requestId: c.get('requestId'), ip: deps.clientIp(c), userAgent: c.req.header('user-agent') ?? null };
}
