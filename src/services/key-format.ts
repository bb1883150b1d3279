import { sha256 } from '@noble/hashes/sha2';
import { bytesToHex } from '@noble/hashes/utils';
import { BASE62, randomBase62 } from '../ids.js';

/** Secret kinds visible in the secret itself: developer keys, network keys, domain tokens. */
export type SecretKind = 'dev' | 'net' | 'dom';

/** 28 base62 characters carry 166 bits from the CSPRNG. */
const RANDOM_LENGTH = 28;
const CHECKSUM_LENGTH = 6;
const SHAPE = /^([a-z][a-z0-9]{0,15})_(dev|net|dom)_([0-9A-Za-z]{34})$/;

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (IEEE 802.3) of an ASCII string. */
export function crc32(s: string): number {
  let c = 0xffffffff;
  for (let i = 0; i < s.length; i++) c = CRC_TABLE[(c ^ s.charCodeAt(i)) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function base62Fixed(n: number, width: number): string {
  let out = '';
  let v = n;
  for (let i = 0; i < width; i++) {
    out = BASE62[v % 62] + out;
    v = Math.floor(v / 62);
  }
  return out;
}

function checksum(body: string): string {
  return base62Fixed(crc32(body), CHECKSUM_LENGTH);
}

/** `{prefix}_{kind}_{random}{checksum}`: the checksum lets anyone refuse a mistyped secret offline. */
export function generateSecret(prefix: string, kind: SecretKind): string {
  const body = `${prefix}_${kind}_${randomBase62(RANDOM_LENGTH)}`;
  return body + checksum(body);
}

export interface ParsedSecret {
  prefix: string;
  kind: SecretKind;
}

/** Shape and checksum only; no database. Returns null for anything malformed or mistyped. */
export function parseSecret(secret: string): ParsedSecret | null {
  if (secret.length > 64) return null;
  const m = SHAPE.exec(secret);
  if (!m) return null;
  const body = secret.slice(0, secret.length - CHECKSUM_LENGTH);
  if (checksum(body) !== secret.slice(-CHECKSUM_LENGTH)) return null;
  return { prefix: m[1], kind: m[2] as SecretKind };
}

/** What lists show: type visible, all but the last four characters hidden. */
export function secretHint(secret: string): string {
  const m = SHAPE.exec(secret);
  const head = m ? `${m[1]}_${m[2]}_` : '';
  return `${head}…${secret.slice(-4)}`;
}

/**
 * SHA-256 hex. The secret has >= 160 bits of entropy, so a fast unsalted hash is the right tool.
 * Synchronous (@noble/hashes, already in the tree through viem): on the verification hot path Web
 * Crypto's async digest costs a thread-pool round trip per call on Node.
 */
export function hashSecret(secret: string): string {
  return sha256Hex(secret);
}

let sha256Hex = (s: string): string => bytesToHex(sha256(new TextEncoder().encode(s)));

/** Node entries swap in node:crypto's SHA-256 (several times faster per call); the digest is the same. */
export function useSha256Hex(fn: (s: string) => string): void {
  sha256Hex = fn;
}

export const KEY_KIND = { developer: 'dev', network: 'net' } as const satisfies Record<string, SecretKind>;
