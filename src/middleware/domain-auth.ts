import type { MiddlewareHandler } from 'hono';
import type { AppDeps, AppEnv } from '../deps.js';
import { findDomainForToken } from '../services/domain-token.js';

/** Requires a domain token (Authorization: Bearer); sets `domain`. Mistyped tokens cost no lookup. */
export function requireDomain(deps: AppDeps): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    c.set('domain', await findDomainForToken(deps, c.req.header('authorization')));
    await next();
  };
}
