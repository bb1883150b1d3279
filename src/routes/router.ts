import { OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { AppEnv } from '../deps.js';
import { AppError } from '../errors.js';
import { ErrorSchema } from '../contract/common.js';
import { toCsv, type CsvValue } from '../services/csv.js';

/** The path of the first string (value or key) holding a NUL character, or null. */
function nulPath(value: unknown, path: string[] = []): string[] | null {
  if (typeof value === 'string') return value.includes('\u0000') ? path : null;
  if (value === null || typeof value !== 'object') return null;
  for (const [k, v] of Object.entries(value)) {
    if (k.includes('\u0000')) return [...path, k];
    const found = nulPath(v, [...path, k]);
    if (found) return found;
  }
  return null;
}

type HookResult = { success: true; data: unknown; target: string } | { success: false; error: z.ZodError; target: string };

/** Zod validation failures become 400 invalid_request naming the field. */
export function refuseInvalid(result: HookResult): undefined {
  if (!result.success) {
    const issue = result.error.issues[0];
    const param = issue.path.length ? issue.path.join('.') : result.target;
    throw new AppError('invalid_request', `Invalid ${param}: ${issue.message}`, { extra: { param } });
  }
  return undefined;
}

/**
 * Validation failures and NUL characters become 400 invalid_request naming the field.
 * Why NUL: PostgreSQL text cannot hold it (the insert or lookup fails, a 500) while SQLite can, so
 * it is refused for every dialect alike, before any query.
 */
export function refuseInvalidOrNul(result: HookResult): undefined {
  refuseInvalid(result);
  const nul = result.success ? nulPath(result.data) : null;
  if (nul) {
    const param = nul.length ? nul.join('.') : result.target;
    throw new AppError('invalid_request', `Invalid ${param}: must not contain NUL characters.`, { extra: { param } });
  }
  return undefined;
}

/** A sub-app whose routes refuse invalid input (and NUL characters) with 400 invalid_request. */
export function newRouter(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({ defaultHook: refuseInvalidOrNul });
}

export const errorResponses = (
  ...statuses: number[]
): Record<number, { description: string; content: { 'application/json': { schema: typeof ErrorSchema } } }> =>
  Object.fromEntries(statuses.map((s) => [s, { description: 'Error', content: { 'application/json': { schema: ErrorSchema } } }]));

/** A JSON response of `schema`. */
export const json = <T extends z.ZodTypeAny>(
  schema: T,
  description = 'OK',
): { description: string; content: { 'application/json': { schema: T } } } => ({
  description,
  content: { 'application/json': { schema } },
});

/** A required JSON request body of `schema`. */
export const jsonBody = <T extends z.ZodTypeAny>(schema: T): { required: true; content: { 'application/json': { schema: T } } } => ({
  required: true,
  content: { 'application/json': { schema } },
});

export const bearerSecurity = [{ bearer: [] as string[] }];

/** A 200 that is JSON, or CSV of its `data` when the client asks with `Accept: text/csv`. */
export const jsonOrCsv = <T extends z.ZodTypeAny>(
  schema: T,
): { description: string; content: { 'application/json': { schema: T }; 'text/csv': { schema: z.ZodString } } } => ({
  description: 'OK (JSON, or CSV of `data` with `Accept: text/csv`)',
  content: { 'application/json': { schema }, 'text/csv': { schema: z.string() } },
});

/** A CSV download (no-store). */
export function csvResponse(c: Context<AppEnv>, name: string, header: readonly string[], rows: CsvValue[][]): Response {
  c.header('content-type', 'text/csv; charset=utf-8');
  c.header('content-disposition', `attachment; filename="${name}.csv"`);
  c.header('cache-control', 'no-store');
  return c.body(toCsv(header, rows), 200);
}
