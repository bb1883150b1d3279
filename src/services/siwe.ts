import { ParsedMessage } from '@spruceid/siwe-parser';
import { createPublicClient, getAddress, http, isAddressEqual, recoverMessageAddress, type Hex } from 'viem';
import { MAX_SIWE_MESSAGE_BYTES } from '../contract/accounts.js';
import { AppError } from '../errors.js';

/** Tolerated clock difference between wallet and server. */
export const SIWE_CLOCK_SKEW_MS = 60_000;

export interface SiwePolicy {
  /** Accepted `domain` values (host[:port]). */
  domains: string[];
  /**
   * The scheme of the service's origin ('https'); a message that names another scheme is refused.
   * Absent: any http(s) scheme (conformance vectors only).
   */
  scheme?: string;
  /** Accepted origins of the `uri` field; null skips the check (conformance vectors only). */
  uriOrigins: string[] | null;
  chainIds: number[];
  now: Date;
  /** The reference library does not refuse an Issued At in the future; the contract does. */
  rejectFutureIssuedAt: boolean;
}

export interface CheckedSiwe {
  parsed: ParsedMessage;
  address: `0x${string}`;
  issuedAt: Date;
  expirationTime: Date | null;
}

function utf8Length(s: string): number {
  return new TextEncoder().encode(s).length;
}

function parseTime(value: string, field: string): Date {
  // The grammar already checks RFC 3339 syntax and calendar validity; this guards Date's own parsing.
  const t = new Date(value);
  if (Number.isNaN(t.getTime())) {
    throw new AppError('invalid_siwe_message', `The ${field} field is not a valid RFC 3339 date-time.`, {
      extra: { param: 'message' },
    });
  }
  return t;
}

/**
 * Every check on the message itself, in the contract's order, before any state is touched:
 * size, strict grammar, domain, uri, version, chain, time fields.
 */
export function checkSiweMessage(message: string, policy: SiwePolicy): CheckedSiwe {
  if (utf8Length(message) > MAX_SIWE_MESSAGE_BYTES) {
    throw new AppError('invalid_siwe_message', `The message is longer than ${MAX_SIWE_MESSAGE_BYTES} bytes.`, {
      extra: { param: 'message' },
    });
  }
  let parsed: ParsedMessage;
  try {
    // Strict ABNF parse of the exact text: CRLF, trailing bytes, a broken EIP-55 checksum or an
    // impossible date all fail here.
    parsed = new ParsedMessage(message);
  } catch (err) {
    const detail = err instanceof Error ? err.message.split('\n')[0].slice(0, 120) : 'parse error';
    throw new AppError('invalid_siwe_message', `The message is not a valid EIP-4361 message (${detail}).`, {
      extra: { param: 'message' },
    });
  }
  // Why: the wallet compares scheme://domain with the page asking for the signature, so an
  // "http://" message can be obtained by whoever controls plain-HTTP traffic to our host name; it
  // must not sign in to an https service.
  const schemes = policy.scheme !== undefined ? [policy.scheme] : ['https', 'http'];
  if (parsed.scheme !== undefined && !schemes.includes(parsed.scheme)) {
    throw new AppError('siwe_domain_mismatch', `The message scheme "${parsed.scheme}" is not accepted here.`);
  }
  // Why: the domain binds the signature to this site, so a message signed for a phishing site fails.
  if (!policy.domains.includes(parsed.domain)) {
    throw new AppError('siwe_domain_mismatch', `The message domain "${parsed.domain}" is not accepted here.`);
  }
  if (policy.uriOrigins !== null) {
    let origin: string | null = null;
    try {
      origin = new URL(parsed.uri).origin;
    } catch {
      origin = null;
    }
    if (origin === null || !policy.uriOrigins.includes(origin)) {
      throw new AppError('siwe_uri_mismatch');
    }
  }
  if (parsed.version !== '1') throw new AppError('siwe_version_unsupported');
  if (!policy.chainIds.includes(parsed.chainId)) {
    throw new AppError('siwe_chain_not_allowed', `Chain id ${parsed.chainId} is not accepted here.`);
  }
  const now = policy.now.getTime();
  const issuedAt = parseTime(parsed.issuedAt, 'Issued At');
  const expirationTime = parsed.expirationTime ? parseTime(parsed.expirationTime, 'Expiration Time') : null;
  const notBefore = parsed.notBefore ? parseTime(parsed.notBefore, 'Not Before') : null;
  if (expirationTime && expirationTime.getTime() <= now) throw new AppError('siwe_expired');
  if (notBefore && notBefore.getTime() > now) throw new AppError('siwe_not_yet_valid');
  // Why: a message "issued" in the future was prepared ahead of time, which a live sign-in never needs.
  if (policy.rejectFutureIssuedAt && issuedAt.getTime() > now + SIWE_CLOCK_SKEW_MS) {
    throw new AppError('siwe_not_yet_valid', 'The message Issued At is in the future.');
  }
  return { parsed, address: getAddress(parsed.address), issuedAt, expirationTime };
}

export type SignatureVerifier = (args: { address: `0x${string}`; message: string; signature: Hex; chainId: number }) => Promise<boolean>;

/**
 * EOA signatures by recovery; contract wallets (ERC-1271, and ERC-6492 for undeployed ones) through
 * the chain's RPC when RPC_URLS configures it. The RPC call has a timeout so a slow node cannot
 * hold sign-ins open.
 */
export function createSignatureVerifier(rpcUrls: Record<number, string>, rpcTimeoutMs = 5000): SignatureVerifier {
  const clients = new Map<number, ReturnType<typeof createPublicClient>>();
  return async ({ address, message, signature, chainId }) => {
    try {
      const recovered = await recoverMessageAddress({ message, signature });
      if (isAddressEqual(recovered, address)) return true;
    } catch {
      // Not a 65-byte ECDSA signature: may still be a contract-wallet signature.
    }
    const url = rpcUrls[chainId];
    if (!url) return false;
    let client = clients.get(chainId);
    if (!client) {
      client = createPublicClient({ transport: http(url, { timeout: rpcTimeoutMs, retryCount: 0 }) });
      clients.set(chainId, client);
    }
    try {
      return await client.verifyMessage({ address, message, signature });
    } catch {
      return false;
    }
  };
}
