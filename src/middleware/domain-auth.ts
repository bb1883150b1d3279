import type { MiddlewareHandler } from 'hono';
import { findDomainByTokenHash } from '../db/repositories/domains.js';
import type { AppDeps, AppEnv } from '../deps.js';
import { AppError } from '../errors.js';
import { hashSecret, parseSecret } from '../services/key-format.js';
import { bearerToken } from './session-auth.js';

/** Requires a domain token (Authorization: Bearer); sets `domain`. Mistyped tokens cost no lookup. */
export function requireDomain(deps: AppDeps): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const token = bearerToken(c.req.header('authorization'));
    const parsed = token ? parseSecret(token) : null;
    if (!token || !parsed || parsed.kind !== 'dom') throw new AppError('invalid_domain_token');
    const domain = await findDomainByTokenHash(deps.db, hashSecret(token));
    if (!domain) throw new AppError('invalid_domain_token');
    c.set('domain', domain);
    await next();
  };
}
