/** Wallets and Sign-In with Ethereum against a Harness, exactly as a client signs in. */
import { generatePrivateKey, privateKeyToAccount, type PrivateKeyAccount } from 'viem/accounts';
import { get, json, post } from './http.js';
import type { Nonce, Session } from './responses.js';
import { buildSiweMessage } from './siwe-message.js';
import { ADMIN_ACCOUNT, TEST_DOMAIN, TEST_ORIGIN, type Harness } from './targets.js';

export function newWallet(): PrivateKeyAccount {
  return privateKeyToAccount(generatePrivateKey());
}

export async function getNonce(h: Harness): Promise<string> {
  const res = await get(h, '/v1/auth/nonce');
  if (res.status !== 200) throw new Error(`nonce: ${res.status}`);
  return (await json<Nonce>(res)).nonce;
}

/** The message a well-behaved client builds for this origin, with overrides for attacks. */
export function siweText(
  address: string,
  nonce: string,
  now: Date,
  overrides: Partial<Parameters<typeof buildSiweMessage>[0]> = {},
): string {
  return buildSiweMessage({
    domain: TEST_DOMAIN,
    address,
    statement: 'Sign in to siwe-keys.',
    uri: TEST_ORIGIN,
    version: '1',
    chainId: 1,
    nonce,
    issuedAt: now.toISOString(),
    ...overrides,
  });
}

export interface SignedIn {
  token: string;
  address: `0x${string}`;
  account: PrivateKeyAccount;
  /** The sign-in answer (POST /v1/auth/verify). */
  body: Session;
}

/** Signs in with a viem local account exactly as a client would. */
export async function signIn(h: Harness, account: PrivateKeyAccount = newWallet()): Promise<SignedIn> {
  const nonce = await getNonce(h);
  const now = h.clock ? h.clock.now() : new Date();
  const message = siweText(account.address, nonce, now);
  const signature = await account.signMessage({ message });
  const res = await post(h, '/v1/auth/verify', { message, signature });
  const body = await json<Session>(res);
  if (res.status !== 200) throw new Error(`sign-in failed: ${res.status} ${JSON.stringify(body)}`);
  return { token: body.token, address: account.address, account, body };
}

export async function signInAdmin(h: Harness): Promise<SignedIn> {
  return signIn(h, ADMIN_ACCOUNT);
}
