import { describe, expect, it } from 'vitest';
import { AppError } from '../errors.js';
import { authorizeMetrics, isLoopback } from './ops.js';

const refusal = async (p: Promise<void>): Promise<string | null> => {
  try {
    await p;
    return null;
  } catch (err) {
    if (err instanceof AppError) return err.code;
    throw err;
  }
};

describe('metrics access', () => {
  it('with a token: only the exact bearer token passes, from any address', async () => {
    expect(await refusal(authorizeMetrics('s3cret', 's3cret', '203.0.113.7'))).toBeNull();
    expect(await refusal(authorizeMetrics('s3cret', 's3cret', null))).toBeNull();
    for (const bearer of [null, '', 's3cre', 's3cret!', 'S3CRET', 'x'.repeat(200)]) {
      expect(await refusal(authorizeMetrics('s3cret', bearer, '127.0.0.1')), String(bearer)).toBe('invalid_session');
    }
  });

  it('without a token: loopback clients only', async () => {
    expect(await refusal(authorizeMetrics(undefined, null, '127.0.0.1'))).toBeNull();
    expect(await refusal(authorizeMetrics('', 'anything', '::1'))).toBeNull();
    expect(await refusal(authorizeMetrics(undefined, 'anything', '203.0.113.7'))).toBe('forbidden');
    expect(await refusal(authorizeMetrics(undefined, null, null))).toBe('forbidden');
  });

  it('knows loopback addresses', () => {
    for (const ip of ['127.0.0.1', '127.255.0.9', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1']) expect(isLoopback(ip), ip).toBe(true);
    for (const ip of [null, '', '128.0.0.1', '10.0.0.1', '::2', '127.0.0']) expect(isLoopback(ip), String(ip)).toBe(false);
  });
});
