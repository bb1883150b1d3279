/** POST /v1/verify: the request a domain sends and the answer it gets (codes and refusals in verify-codes.ts). */
import { z } from '@hono/zod-openapi';
import { Cost, type Expect } from './common.js';
import { SCOPES, type VerifyAnswer, type VerifyRequest } from './verify-codes.js';

export const VerifyBody = z
  .object({
    key: z.string().max(256),
    scope: z.enum(SCOPES).optional(),
    model: z.string().min(1).max(128).optional(),
    cost: Cost.optional(),
  })
  .strict();
export type VerifyBody = z.infer<typeof VerifyBody>;

export const RateLimitSchema = z.object({
  limit: z.number().int().nullable(),
  remaining: z.number().int().nullable(),
  reset: z.number().int(),
});

export const VerifyResultSchema = z
  .object({
    valid: z.boolean(),
    code: z.string(),
    message: z.string().optional(),
    key_id: z.string().optional(),
    account: z.string().optional(),
    type: z.enum(['developer', 'network']).optional(),
    scopes: z.array(z.string()).optional(),
    models: z.array(z.string()).nullable().optional(),
    expires_at: z.string().nullable().optional(),
    credits_remaining: z.number().int().nullable().optional(),
    charged: z.number().int().optional(),
    ratelimit: RateLimitSchema.optional(),
  })
  .openapi('VerifyResult');
export type VerifyResult = z.infer<typeof VerifyResultSchema>;

/**
 * verify-codes.ts's plain VerifyAnswer and VerifyRequest (what @siwe-keys/client ships, with no
 * zod) fit these schemas; the answer narrows `code` to the known codes.
 */
export type VerifyViewsMatch = [
  Expect<VerifyAnswer extends VerifyResult ? true : false>,
  Expect<VerifyRequest extends VerifyBody ? true : false>,
  Expect<VerifyBody extends VerifyRequest ? true : false>,
];
