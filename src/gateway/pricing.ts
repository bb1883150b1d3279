import { z } from 'zod';

/** Credits per 1K tokens (and per request) for one model. Integers only: credits have no fractions. */
export interface Price {
  /** Credits per 1,000 input (prompt) tokens. */
  input: number;
  /** Credits per 1,000 output (completion) tokens. */
  output: number;
  /** Flat credits per request, charged up front by the verification (so an empty balance is refused before the upstream works). */
  request: number;
}

export interface Pricing {
  default: Price;
  models: Record<string, Price>;
}

const credits = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const partialPrice = z.strictObject({ input: credits.optional(), output: credits.optional(), request: credits.optional() });

/** The pricing file: `{ "default"?: Price, "models"?: { "<model>": Price } }`; missing fields fall back to the default's. */
export const pricingFileSchema = z.strictObject({
  default: partialPrice.optional(),
  models: z.record(z.string().min(1), partialPrice).optional(),
});

export const FREE: Price = { input: 0, output: 0, request: 0 };

export class PricingError extends Error {
  override name = 'PricingError';
}

/**
 * Builds the pricing from the file's JSON (if any) over the flag defaults. Throws PricingError with
 * one line naming the offending field.
 */
export function parsePricing(fileJson: unknown, defaults: Partial<Price> = {}): Pricing {
  const parsed = pricingFileSchema.safeParse(fileJson ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new PricingError(`invalid pricing: ${issue.path.join('.') || 'file'}: ${issue.message}`);
  }
  const base: Price = { ...FREE, ...stripUndefined(defaults), ...stripUndefined(parsed.data.default ?? {}) };
  const models: Record<string, Price> = {};
  for (const [name, p] of Object.entries(parsed.data.models ?? {})) models[name] = { ...base, ...stripUndefined(p) };
  return { default: base, models };
}

function stripUndefined(p: Partial<Price>): Partial<Price> {
  const out: Partial<Price> = {};
  for (const k of ['input', 'output', 'request'] as const) if (p[k] !== undefined) out[k] = p[k];
  return out;
}

export function priceFor(pricing: Pricing, model: string | undefined): Price {
  return (model !== undefined && Object.hasOwn(pricing.models, model) ? pricing.models[model] : undefined) ?? pricing.default;
}

/**
 * Credits for the tokens a request used: (input * price.input + output * price.output) / 1000,
 * rounded up once for the whole request, so a request that used any priced token costs at least 1.
 * Integer arithmetic throughout (BigInt past the safe range), so no float ever decides a charge.
 */
export function tokenCost(price: Price, inputTokens: number, outputTokens: number): number {
  const milli = BigInt(inputTokens) * BigInt(price.input) + BigInt(outputTokens) * BigInt(price.output);
  const cost = (milli + 999n) / 1000n;
  return cost > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(cost);
}
