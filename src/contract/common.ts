/**
 * Shapes every resource shares: ids in paths, the page query and the page of a list, the error
 * body, credits, costs and timestamps. zod schemas (with their OpenAPI metadata) and the types
 * inferred from them; the routes validate with these and /openapi.json is generated from them.
 */
import { z } from '@hono/zod-openapi';

/** A credit amount: a non-negative integer that stays exact as JSON. */
export const Credits = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/**
 * One request's cost. The counters a cost adds to (a key's total, day and month; an account's
 * usage_total) stop at 2^53 - 1 inside the charging UPDATEs (MAX_COUNTER in
 * db/repositories/metering.ts): verification refuses, usage reports charge no further and refuse
 * past the account's bound, so they stay exact as JSON and far below BIGINT overflow.
 */
export const MAX_COST = 1_000_000_000_000;
export const Cost = z.number().int().min(0).max(MAX_COST);

/** An ISO 8601 timestamp with an offset, as requests send it. */
export const Timestamp = z.iso.datetime({ offset: true });

/** A path parameter holding an id. */
export const idParam = (name: string): z.ZodString =>
  z
    .string()
    .min(1)
    .max(64)
    .openapi({ param: { name, in: 'path' } });

/** `{id}` in a path. */
export const IdParam = z.object({ id: idParam('id') });

/** The query of every list: `limit` (1-100, default 20) and the `cursor` of the previous page. */
export const PageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(64).optional(),
});
export type PageQuery = z.infer<typeof PageQuery>;

type PageShape<T extends z.ZodType> = z.ZodObject<{ data: z.ZodArray<T>; has_more: z.ZodBoolean; next_cursor: z.ZodNullable<z.ZodString> }>;

/** A page of a list: `{ data, has_more, next_cursor }`. */
export const pageOf = <T extends z.ZodType>(item: T): PageShape<T> =>
  z.object({ data: z.array(item), has_more: z.boolean(), next_cursor: z.string().nullable() });

/** A page of a list as the services return it. */
export interface Page<T> {
  data: T[];
  has_more: boolean;
  next_cursor: string | null;
}

/** The error body of every refusal (errors.ts builds it). */
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
export type ErrorBody = z.infer<typeof ErrorSchema>;

/** True when A and B are the same type (neither wider nor narrower). */
export type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
/**
 * Fails the type check unless T is true. views.ts keeps a dependency-free copy of the response
 * types for the packages' .d.ts files (which cannot import zod); each resource asserts
 * `Expect<Same<z.infer<Schema>, View>>`, so the copy cannot drift from the schema.
 */
export type Expect<T extends true> = T;

/** `POST /v1/admin/accounts/{address}/credits` and `POST /v1/admin/teams/{id}/credits`: one balance change. */
export const CreditsChangeBody = z
  .object({
    // 0 is refused: it would turn an unenforced (null) balance into an enforced 0 by accident.
    delta: z
      .number()
      .int()
      .min(-Number.MAX_SAFE_INTEGER)
      .max(Number.MAX_SAFE_INTEGER)
      .refine((d) => d !== 0, 'must not be 0'),
    reason: z.string().trim().min(1).max(2000),
  })
  .strict();
