/** Accounts and sign-in: GET /v1/auth/nonce, POST /v1/auth/verify, GET /v1/me. */
import { z } from '@hono/zod-openapi';
import type { Expect, Same } from './common.js';
import type { AccountView, SessionView } from './views.js';

/**
 * Largest message we parse, in UTF-8 bytes: EIP-4361 messages are a few hundred bytes; resources
 * lists stay small. The request body allows twice as many UTF-16 units; services/siwe.ts counts bytes.
 */
export const MAX_SIWE_MESSAGE_BYTES = 8 * 1024;

export const Plan = z.enum(['network', 'developer']);
export const TrialStatus = z.enum(['none', 'pending', 'approved', 'rejected']);

export const AccountSchema = z
  .object({
    address: z.string(),
    roles: z.array(z.string()),
    plan: Plan,
    trial: z.object({
      status: TrialStatus,
      application_id: z.string().nullable(),
      credits_granted: z.number().int().nullable(),
      reason: z.string().nullable(),
      reviewed_at: z.string().nullable(),
    }),
    credits: z.number().int().nullable(),
    created_at: z.string(),
  })
  .openapi('Account');
export type Account = z.infer<typeof AccountSchema>;

export const NonceSchema = z.object({ nonce: z.string(), expires_at: z.string() }).openapi('Nonce');
export type Nonce = z.infer<typeof NonceSchema>;

export const SiweVerifyBody = z
  .object({
    message: z
      .string()
      .min(1)
      .max(MAX_SIWE_MESSAGE_BYTES * 2),
    signature: z
      .string()
      .max(20_000)
      .regex(/^0x([0-9a-fA-F]{2})+$/, 'expected 0x-prefixed hex'),
  })
  .openapi('SiweVerifyRequest');

export const SessionSchema = z.object({ token: z.string(), expires_at: z.string(), account: AccountSchema }).openapi('Session');
export type Session = z.infer<typeof SessionSchema>;

/** views.ts's copies (shipped in @siwe-keys/web's .d.ts) match the schemas. */
export type AccountViewsMatch = [Expect<Same<Account, AccountView>>, Expect<Same<Session, SessionView>>];
