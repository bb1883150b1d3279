import type { MiddlewareHandler } from 'hono';
import { bodyLimit as honoBodyLimit } from 'hono/body-limit';
import { AppError } from '../errors.js';
import type { AppEnv } from '../deps.js';

/**
 * Refuses bodies over maxSize bytes with 413 payload_too_large, streamed or not. A declared
 * Content-Length is checked from the header alone: touching the body stream here would make
 * @hono/node-server build a full Request for every call, the slowest part of a small POST.
 */
export function bodyLimit(maxSize: number): MiddlewareHandler<AppEnv> {
  const tooLarge = (): never => {
    throw new AppError('payload_too_large', `The request body is larger than ${maxSize} bytes.`);
  };
  const streamed = honoBodyLimit({ maxSize, onError: tooLarge });
  return async (c, next) => {
    const length = c.req.header('content-length');
    if (length !== undefined && c.req.header('transfer-encoding') === undefined) {
      if (!/^\d+$/.test(length) || Number(length) > maxSize) tooLarge();
      return next();
    }
    return streamed(c, next);
  };
}
