import { timingSafeEqual } from 'hono/utils/buffer';
import { BASE62, randomBase62 } from '../ids.js';

/**
 * Sign-in nonces that need no database row until they are used. A nonce is
 * `{17 random base62}{expiry, 9 base36 digits of epoch ms}{22 base62 of a 128-bit HMAC-SHA256}`:
 * alphanumeric as EIP-4361 requires, about 101 bits of randomness, and only this service (any
 * instance holding the shared key) can mint one. Issuing writes nothing, so a flood of nonce
 * requests cannot fill a table and lock other clients out; single use is enforced at sign-in by
 * recording the nonce once (see consumeNonce).
 */
const RANDOM_CHARS = 17;
const EXPIRY_CHARS = 9;
const MAC_BYTES = 16;
const MAC_CHARS = 22; // 62^22 > 2^128
export const STATELESS_NONCE_LENGTH = RANDOM_CHARS + EXPIRY_CHARS + MAC_CHARS;
const SHAPE = new RegExp(`^[0-9A-Za-z]{${RANDOM_CHARS}}[0-9a-z]{${EXPIRY_CHARS}}[0-9A-Za-z]{${MAC_CHARS}}$`);

function base62Fixed(bytes: Uint8Array, length: number): string {
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  let out = '';
  for (let i = 0; i < length; i++) {
    out = BASE62[Number(n % 62n)] + out;
    n /= 62n;
  }
  return out;
}

export interface NonceCodec {
  issue(expiresAt: number): Promise<string>;
  /** The nonce's expiry if it is one of ours and unexpired at `now`; null otherwise. */
  open(nonce: string, now: number): Promise<number | null>;
}

export async function createNonceCodec(secret: string): Promise<NonceCodec> {
  const key = await crypto.subtle.importKey(
    'raw',
    new TextEncoder().encode(`siwe-keys nonce v1:${secret}`),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign'],
  );
  const mac = async (body: string): Promise<string> => {
    const sig = new Uint8Array(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(body)));
    return base62Fixed(sig.subarray(0, MAC_BYTES), MAC_CHARS);
  };
  return {
    async issue(expiresAt) {
      const body = randomBase62(RANDOM_CHARS) + expiresAt.toString(36).padStart(EXPIRY_CHARS, '0');
      return body + (await mac(body));
    },
    async open(nonce, now) {
      if (!SHAPE.test(nonce)) return null;
      const body = nonce.slice(0, RANDOM_CHARS + EXPIRY_CHARS);
      const expected = await mac(body);
      const given = nonce.slice(RANDOM_CHARS + EXPIRY_CHARS);
      // Why constant-time: the MAC must not leak through timing, character by character.
      if (!(await timingSafeEqual(expected, given))) return null;
      const expiresAt = Number.parseInt(nonce.slice(RANDOM_CHARS, RANDOM_CHARS + EXPIRY_CHARS), 36);
      return expiresAt > now ? expiresAt : null;
    },
  };
}
