import { createSiweMessage } from 'viem/siwe';

export interface SignInMessageInput {
  address: `0x${string}`;
  chainId: number;
  nonce: string;
  statement?: string;
  /** The service's SIWE domain (host[:port]); default: this page's host. */
  domain?: string;
  /** The service's origin; default: this page's origin. */
  uri?: string;
  now?: Date;
  expirationTime?: Date;
}

/**
 * The EIP-4361 message to sign. The domain and URI default to where the page was loaded from,
 * which is what the service checks (PUBLIC_URL / SIWE_DOMAINS), so a phishing copy of the page
 * elsewhere produces messages the service refuses and wallets flag.
 */
export function signInMessage(input: SignInMessageInput): string {
  return createSiweMessage({
    domain: input.domain ?? location.host,
    address: input.address,
    ...(input.statement !== undefined ? { statement: input.statement } : {}),
    uri: input.uri ?? location.origin,
    version: '1',
    chainId: input.chainId,
    nonce: input.nonce,
    issuedAt: input.now ?? new Date(),
    ...(input.expirationTime ? { expirationTime: input.expirationTime } : {}),
  });
}
