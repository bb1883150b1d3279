import { describe, expect, it } from 'vitest';
import { STATELESS_NONCE_LENGTH, createNonceCodec } from './stateless-nonce.js';

const NOW = Date.UTC(2026, 0, 1);

/** The same nonce with the character at `i` replaced by another alphanumeric one. */
function flip(nonce: string, i: number): string {
  const c = nonce[i] === 'a' ? 'b' : 'a';
  return nonce.slice(0, i) + c + nonce.slice(i + 1);
}

describe('stateless nonce codec', () => {
  it('opens a nonce it issued, answering its expiry', async () => {
    const codec = await createNonceCodec('secret-1');
    const nonce = await codec.issue(NOW + 60_000);
    expect(nonce).toMatch(/^[0-9A-Za-z]+$/);
    expect(nonce).toHaveLength(STATELESS_NONCE_LENGTH);
    expect(await codec.open(nonce, NOW)).toBe(NOW + 60_000);
  });

  it('refuses a nonce whose MAC was altered in any position', async () => {
    const codec = await createNonceCodec('secret-1');
    const nonce = await codec.issue(NOW + 60_000);
    for (let i = 0; i < STATELESS_NONCE_LENGTH; i++) expect(await codec.open(flip(nonce, i), NOW)).toBeNull();
  });

  it('refuses a nonce minted with another secret', async () => {
    const other = await (await createNonceCodec('secret-2')).issue(NOW + 60_000);
    expect(await (await createNonceCodec('secret-1')).open(other, NOW)).toBeNull();
  });

  it('refuses an expired nonce', async () => {
    const codec = await createNonceCodec('secret-1');
    const nonce = await codec.issue(NOW + 60_000);
    expect(await codec.open(nonce, NOW + 60_000)).toBeNull();
  });

  it('refuses a nonce of the wrong shape without computing a MAC', async () => {
    const codec = await createNonceCodec('secret-1');
    const nonce = await codec.issue(NOW + 60_000);
    expect(await codec.open(nonce.slice(1), NOW)).toBeNull();
    expect(await codec.open(`${nonce.slice(0, -1)}-`, NOW)).toBeNull();
  });
});
