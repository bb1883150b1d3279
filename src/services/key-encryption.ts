import type { JWK } from 'jose';
import { ConfigError, decodeKek, fromBase64 } from '../config.js';

/*
 * Session signing keys at rest. The private JWK column holds one of:
 *   ''                  nothing: the key came from JWT_PRIVATE_KEY and lives only there;
 *   'enc:v1:<iv>.<ct>'  AES-256-GCM (Web Crypto, so Node and Workers alike) under KEY_ENCRYPTION_KEY,
 *                       base64url parts, the kid as additional data (a ciphertext cannot be moved
 *                       to another row);
 *   '{...}'             a plaintext JWK (rows written before this format, or without a KEK).
 */
const PREFIX = 'enc:v1:';
export const EXTERNAL_KEY = '';

const b64url = (bytes: Uint8Array): string => {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
};

export async function importKek(value: string): Promise<CryptoKey> {
  const bytes = decodeKek(value);
  if (!bytes) throw new ConfigError('invalid configuration: KEY_ENCRYPTION_KEY: expected 32 bytes as base64');
  return crypto.subtle.importKey('raw', bytes, 'AES-GCM', false, ['encrypt', 'decrypt']);
}

export function isEncrypted(stored: string): boolean {
  return stored.startsWith(PREFIX);
}

export async function sealJwk(jwk: JWK, kek: CryptoKey, kid: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const enc = new TextEncoder();
  const ct = new Uint8Array(
    await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: enc.encode(kid) }, kek, enc.encode(JSON.stringify(jwk))),
  );
  return `${PREFIX}${b64url(iv)}.${b64url(ct)}`;
}

/** Reads a stored private JWK (see the formats above); null for a key that is not stored. */
export async function openJwk(stored: string, kek: CryptoKey | null, kid: string): Promise<JWK | null> {
  if (stored === EXTERNAL_KEY) return null;
  if (!isEncrypted(stored)) return JSON.parse(stored) as JWK;
  if (!kek)
    throw new ConfigError(
      `invalid configuration: KEY_ENCRYPTION_KEY: the stored session signing key ${kid} is encrypted; set the key it was encrypted with`,
    );
  const [iv, ct] = stored.slice(PREFIX.length).split('.');
  try {
    const plain = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: fromBase64(iv ?? ''), additionalData: new TextEncoder().encode(kid) },
      kek,
      fromBase64(ct ?? ''),
    );
    return JSON.parse(new TextDecoder().decode(plain)) as JWK;
  } catch {
    throw new ConfigError(`invalid configuration: KEY_ENCRYPTION_KEY: cannot decrypt the stored session signing key ${kid} (wrong key?)`);
  }
}
