import { createSiweMessage } from 'viem/siwe';

/**
 * The EIP-4361 message for this page: the domain and URI are where the console was loaded from,
 * which is what the service checks (PUBLIC_URL / SIWE_DOMAINS), so a phishing copy of the page
 * elsewhere produces messages the service refuses and wallets flag.
 */
export function signInMessage(input: { address: `0x${string}`; chainId: number; nonce: string; statement: string; now?: Date }): string {
  return createSiweMessage({
    domain: location.host,
    address: input.address,
    statement: input.statement,
    uri: location.origin,
    version: '1',
    chainId: input.chainId,
    nonce: input.nonce,
    issuedAt: input.now ?? new Date(),
  });
}
