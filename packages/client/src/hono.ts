/**
 * @siwe-keys/client/hono: the verification as Hono middleware. A separate entry so that users of
 * the main entry need neither hono nor its types.
 */
import type { MiddlewareHandler } from 'hono';
import { KeyServiceUnavailable, extractKey, refusal, type VerifyAnswer, type Verifier, type VerifyRequest } from './index.js';

export interface SiweKeysEnv {
  Variables: { siweKey: VerifyAnswer };
}

/**
 * Hono middleware for operators embedding verification: refuses with the gateway's statuses and
 * OpenAI-style bodies, or sets `c.var.siweKey` and continues. Fails closed (503) when the key
 * service is unreachable.
 */
export function siweKeysAuth(opts: {
  verifier: Verifier;
  scope?: VerifyRequest['scope'];
  model?: (req: Request) => string | undefined;
}): MiddlewareHandler<SiweKeysEnv> {
  return async (c, next) => {
    const requestId = c.req.header('x-request-id') ?? `req_${crypto.randomUUID()}`;
    const key = extractKey(c.req.raw.headers, new URL(c.req.url));
    if (!key) {
      return c.json(
        {
          error: {
            code: 'missing_api_key',
            message: 'Send an API key in Authorization: Bearer, x-api-key or ?key=.',
            type: 'auth_error',
            request_id: requestId,
          },
        },
        401,
      );
    }
    let answer: VerifyAnswer;
    try {
      answer = await opts.verifier.verify({
        key,
        scope: opts.scope ?? (c.req.method === 'GET' ? 'inference:read' : 'inference:write'),
        model: opts.model?.(c.req.raw),
      });
    } catch (err) {
      if (err instanceof KeyServiceUnavailable) {
        return c.json(
          {
            error: {
              code: 'key_service_unavailable',
              message: 'API keys cannot be checked right now. Try again shortly.',
              type: 'server_error',
              request_id: requestId,
            },
          },
          503,
        );
      }
      throw err;
    }
    if (!answer.valid) {
      const r = refusal(answer, requestId);
      for (const [k, v] of Object.entries(r.headers)) c.header(k, v);
      return c.json(r.body as object, r.status as 401);
    }
    c.set('siweKey', answer);
    await next();
  };
}
