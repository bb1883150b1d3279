/** API keys: GET/POST/PATCH/DELETE /v1/keys and /v1/keys/{id}/rotate. */
import { z } from '@hono/zod-openapi';
import { Credits, type Expect, PageQuery, type Same, Timestamp, pageOf } from './common.js';
import { TeamId } from './teams.js';
import { SCOPES } from './verify-codes.js';
import type { KeyView, KeyWithSecret as KeyWithSecretView } from './views.js';

export const KeyType = z.enum(['developer', 'network']);
export const KeyStatus = z.enum(['active', 'disabled']);

const Name = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[^\p{C}]+$/u, 'must be printable characters')
  .refine((s) => s.trim() === s && s.length > 0, 'must not start or end with spaces');
const Scopes = z
  .array(z.enum(SCOPES))
  .min(1)
  .max(SCOPES.length)
  .refine((a) => new Set(a).size === a.length, 'must not repeat a scope')
  // Why: a key that node operators see (inference) must never be able to manage the account.
  .refine((a) => !a.includes('admin') || a.length === 1, 'admin cannot be combined with other scopes: an admin key manages keys only');
const Models = z.array(z.string().min(1).max(128)).min(1).max(100).nullable();
const Rpm = z.number().int().min(1).max(1_000_000);
const Limits = z
  .object({
    rpm: Rpm.optional(),
    daily_credits: Credits.optional(),
    monthly_credits: Credits.optional(),
  })
  .strict();

export const KeySchema = z
  .object({
    id: z.string(),
    name: z.string(),
    description: z.string().nullable(),
    type: KeyType,
    scopes: z.array(z.string()),
    hint: z.string().openapi({ example: 'sk_net_…a1b2' }),
    status: KeyStatus,
    disabled_reason: z
      .string()
      .nullable()
      .openapi({
        description:
          "Why the service disabled the key: 'trial_approved' (the account was approved for free developer credits; " +
          'its keys never work on network domains).',
      }),
    models: z.array(z.string()).nullable(),
    limits: z.object({
      rpm: z.number().int().optional(),
      daily_credits: z.number().int().optional(),
      monthly_credits: z.number().int().optional(),
    }),
    usage: z.object({ today: z.number().int(), this_month: z.number().int(), total: z.number().int() }),
    expires_at: z.string().nullable(),
    created_at: z.string(),
    last_used_at: z.string().nullable(),
    team_id: z.string().nullable().openapi({ description: 'The team that owns the key (its balance pays), or null for a personal key.' }),
    created_by: z.string().nullable().openapi({ description: 'The member wallet that created a team key; null for personal keys.' }),
  })
  .openapi('Key');
export type Key = z.infer<typeof KeySchema>;

export const KeyWithSecretSchema = KeySchema.extend({ key: z.string().openapi({ description: 'The secret. Shown once.' }) }).openapi(
  'KeyWithSecret',
);
export type KeyWithSecret = z.infer<typeof KeyWithSecretSchema>;

export const KeyPage = pageOf(KeySchema);

export const CreateKeyBody = z
  .object({
    name: Name,
    description: z.string().max(1024).optional(),
    type: KeyType.optional(),
    scopes: Scopes.optional(),
    models: Models.optional(),
    limits: Limits.optional(),
    expires_at: Timestamp.nullable().optional(),
    expires_in_days: z.number().int().min(1).max(3650).optional(),
    team_id: TeamId.optional().openapi({ description: "Create it for this team: a network key that spends the team's balance." }),
  })
  .strict()
  .openapi('CreateKeyRequest');
export type CreateKeyBody = z.infer<typeof CreateKeyBody>;

export const UpdateKeyBody = z
  .object({
    description: z.string().max(1024).nullable().optional(),
    status: KeyStatus.optional(),
    scopes: Scopes.optional(),
    models: Models.optional(),
    limits: z
      .object({
        rpm: Rpm.nullable().optional(),
        daily_credits: Credits.nullable().optional(),
        monthly_credits: Credits.nullable().optional(),
      })
      .strict()
      .optional(),
    expires_at: Timestamp.nullable().optional(),
  })
  .strict()
  .openapi('UpdateKeyRequest');
export type UpdateKeyBody = z.infer<typeof UpdateKeyBody>;

export const RotateKeyBody = z.object({ grace_seconds: z.number().int().min(0).max(86_400).optional() }).strict();

export const KeyListQuery = PageQuery.extend({
  status: KeyStatus.optional(),
  expiring_within_days: z.coerce.number().int().min(0).max(3650).optional(),
  team_id: TeamId.optional().openapi({ description: "A team's keys (any active member; sessions only)." }),
});

/** views.ts's copies (shipped in @siwe-keys/web's .d.ts) match the schemas. */
export type KeyViewsMatch = [Expect<Same<Key, KeyView>>, Expect<Same<KeyWithSecret, KeyWithSecretView>>];
