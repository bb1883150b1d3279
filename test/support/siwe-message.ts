import { AppError } from '../../src/errors.js';

export interface SiweFields {
  domain: string;
  address: string;
  statement?: string;
  uri: string;
  version: string;
  chainId: number;
  nonce: string;
  issuedAt: string;
  expirationTime?: string;
  notBefore?: string;
  requestId?: string;
  resources?: string[];
  scheme?: string;
}

/**
 * Builds the EIP-4361 text for the given fields (the same layout as the reference library's
 * prepareMessage), including malformed ones, which is what the conformance vectors and the attack
 * suites need; viem's createSiweMessage (used by @siwe-keys/web and the console) refuses those.
 * The server never re-serialises a message it verifies: it checks the exact bytes it received.
 */
export function buildSiweMessage(f: SiweFields): string {
  // Why: untyped callers (the console's JavaScript, JSON input) can omit fields, and a template would
  // then write "undefined", which the grammar accepts as a domain or a nonce.
  for (const key of ['domain', 'address', 'uri', 'version', 'nonce', 'issuedAt'] as const) {
    if (typeof f[key] !== 'string' || f[key] === '') {
      throw new AppError('invalid_siwe_message', `The ${key} field is required.`, { extra: { param: key } });
    }
  }
  if (!Number.isSafeInteger(f.chainId)) {
    throw new AppError('invalid_siwe_message', 'The chainId field must be an integer.', { extra: { param: 'chainId' } });
  }
  const head = `${f.scheme ? `${f.scheme}://` : ''}${f.domain} wants you to sign in with your Ethereum account:`;
  // The grammar: address LF LF [ statement LF ] LF, so a message without a statement has two blank lines.
  const lines = [head, f.address, ''];
  if (f.statement !== undefined) lines.push(f.statement);
  lines.push('');
  lines.push(`URI: ${f.uri}`, `Version: ${f.version}`, `Chain ID: ${f.chainId}`, `Nonce: ${f.nonce}`, `Issued At: ${f.issuedAt}`);
  if (f.expirationTime) lines.push(`Expiration Time: ${f.expirationTime}`);
  if (f.notBefore) lines.push(`Not Before: ${f.notBefore}`);
  if (f.requestId !== undefined) lines.push(`Request ID: ${f.requestId}`);
  if (f.resources?.length) lines.push('Resources:', ...f.resources.map((r) => `- ${r}`));
  return lines.join('\n');
}
