import { OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { AppDeps, AppEnv } from '../deps.js';
import { AppError } from '../errors.js';
import type { RequestMeta } from '../services/audit.js';

/** A sub-app whose zod validation failures become 400 invalid_request naming the field. */
export function newRouter(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) {
        const issue = result.error.issues[0];
        const param = issue.path.length ? issue.path.join('.') : result.target;
        throw new AppError('invalid_request', `Invalid ${param}: ${issue.message}`, { extra: { param } });
      }
    },
  });
}

export function requestMeta(c: Context<AppEnv>, deps: AppDeps): RequestMeta {
  return {
    requestId: c.get('requestId'),
    ip: deps.clientIp(c),
    userAgent: c.req.header('user-agent') ?? null,
    now: deps.clock.now(),
  };
}

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: 'invalid_request' }),
      message: z.string(),
      type: z.string(),
      request_id: z.string(),
      param: z.string().optional(),
    }),
  })
  .openapi('Error');

export const errorResponses = (...statuses: number[]): Record<number, { description: string; content: { 'application/json': { schema: typeof ErrorSchema } } }> =>
  Object.fromEntries(
    statuses.map((s) => [s, { description: 'Error', content: { 'application/json': { schema: ErrorSchema } } }]),
  );

export const json = <T extends z.ZodTypeAny>(schema: T, description = 'OK') => ({
  description,
  content: { 'application/json': { schema } },
});

export const jsonBody = <T extends z.ZodTypeAny>(schema: T) => ({
  required: true,
  content: { 'application/json': { schema } },
});

export const bearerSecurity = [{ bearer: [] as string[] }];

export const AccountSchema = z
  .object({
    address: z.string(),
    roles: z.array(z.string()),
    plan: z.enum(['network', 'developer']),
    trial: z.object({
      status: z.enum(['none', 'pending', 'approved', 'rejected']),
      application_id: z.string().nullable(),
      credits_granted: z.number().int().nullable(),
      reason: z.string().nullable(),
      reviewed_at: z.string().nullable(),
    }),
    credits: z.number().int().nullable(),
    created_at: z.string(),
  })
  .openapi('Account');
