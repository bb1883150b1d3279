import { describe, expect, it } from 'vitest';
import { parsePricing, priceFor, PricingError, tokenCost } from './pricing.js';

describe('gateway pricing', () => {
  it('rounds the whole request up to a whole credit, once', () => {
    const p = { input: 1, output: 3, request: 0 };
    expect(tokenCost(p, 0, 0)).toBe(0);
    expect(tokenCost(p, 1, 0)).toBe(1); // 0.001 credits is still 1
    expect(tokenCost(p, 1000, 0)).toBe(1);
    expect(tokenCost(p, 1001, 0)).toBe(2);
    // 0.4 + 0.3 = 0.7 -> 1 (rounding each part up separately would charge 2)
    expect(tokenCost({ input: 1, output: 1, request: 0 }, 400, 300)).toBe(1);
    expect(tokenCost(p, 1200, 300)).toBe(3); // 1.2 + 0.9 = 2.1 -> 3
  });

  it('never loses precision on huge token counts', () => {
    expect(tokenCost({ input: 1_000_000, output: 0, request: 0 }, 2 ** 40, 0)).toBe(2 ** 40 * 1000);
  });

  it('uses the model entry, filling its gaps from the default and the flag defaults', () => {
    const pricing = parsePricing(
      { default: { input: 2 }, models: { 'llama-3-8b': { output: 5 }, big: { input: 10, output: 30, request: 1 } } },
      { input: 1, output: 4, request: 0 },
    );
    expect(priceFor(pricing, undefined)).toEqual({ input: 2, output: 4, request: 0 });
    expect(priceFor(pricing, 'unknown-model')).toEqual({ input: 2, output: 4, request: 0 });
    expect(priceFor(pricing, 'llama-3-8b')).toEqual({ input: 2, output: 5, request: 0 });
    expect(priceFor(pricing, 'big')).toEqual({ input: 10, output: 30, request: 1 });
    expect(priceFor(pricing, 'constructor')).toEqual(pricing.default); // no prototype lookups
  });

  it('refuses fractional or negative prices with the field named', () => {
    expect(() => parsePricing({ models: { m: { input: 0.5 } } })).toThrow(PricingError);
    expect(() => parsePricing({ models: { m: { input: 0.5 } } })).toThrow(/models\.m\.input/);
    expect(() => parsePricing({ default: { output: -1 } })).toThrow(/default\.output/);
    expect(() => parsePricing({ default: { inptu: 1 } })).toThrow(/invalid pricing/);
  });
});
