import type { MiddlewareHandler } from 'hono';
import type { AppDeps, AppEnv } from '../deps.js';
import { AppError } from '../errors.js';

export function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1] : null;
}

/** Requires a live session JWT; sets `auth`. */
export function requireSession(deps: AppDeps): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const token = bearerToken(c.req.header('authorization'));
    if (!token) throw new AppError('invalid_session');
    const claims = await deps.sessions.verify(token);
    c.set('auth', { kind: 'session', address: claims.address, roles: claims.roles, sid: claims.sid });
    await next();
  };
}

export function requireAdmin(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (!c.get('auth').roles.includes('admin')) throw new AppError('forbidden', 'This endpoint is for admins.');
    await next();
  };
}
