// Standard Webhooks signatures with Web Crypto (Node and Workers alike).

const SECRET_PREFIX = 'whsec_';

function toBase64(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

function fromBase64(b64: string): Uint8Array<ArrayBuffer> {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** A new endpoint secret: `whsec_` and 32 random bytes in base64 (the Standard Webhooks form). */
export function newWebhookSecret(): string {
  return SECRET_PREFIX + toBase64(crypto.getRandomValues(new Uint8Array(32)));
}

/** The last four characters, to tell secrets apart in a list without showing them. */
export function secretHint(secret: string): string {
  return `${SECRET_PREFIX}…${secret.slice(-4)}`;
}

/** base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`, keyed with the secret's base64-decoded bytes. */
export async function signPayload(secret: string, id: string, timestamp: number, body: string): Promise<string> {
  const raw = fromBase64(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret);
  const key = await crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(`${id}.${timestamp}.${body}`));
  return toBase64(new Uint8Array(mac));
}

/**
 * The three Standard Webhooks headers. Every secret given signs (space-separated `v1,` entries),
 * so a receiver holding either the old or the new secret verifies during a rotation's grace period.
 */
export async function webhookHeaders(
  secrets: readonly string[],
  id: string,
  timestamp: number,
  body: string,
): Promise<Record<string, string>> {
  const sigs = await Promise.all(secrets.map(async (s) => `v1,${await signPayload(s, id, timestamp, body)}`));
  return { 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': sigs.join(' ') };
}
