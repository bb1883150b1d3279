import type { MiddlewareHandler } from 'hono';
import { bodyLimit as honoBodyLimit } from 'hono/body-limit';
import { AppError } from '../errors.js';
import type { AppEnv } from '../deps.js';

/** Refuses bodies over maxSize bytes with 413 payload_too_large, streamed or not. */
export function bodyLimit(maxSize: number): MiddlewareHandler<AppEnv> {
  return honoBodyLimit({
    maxSize,
    onError: () => {
      throw new AppError('payload_too_large', `The request body is larger than ${maxSize} bytes.`);
    },
  });
}
