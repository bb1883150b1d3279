import type { VerifyAnswer } from '../../src/contract/verify-codes.js';
import { json, post, signIn, signInAdmin, type Harness, type SignedIn } from './harness.js';
import type { Application, DomainWithToken, KeyWithSecret } from './responses.js';

/** Creates a key and returns the create response (with the one-time secret). */
export async function createKey(h: Harness, token: string, body: Record<string, unknown>): Promise<KeyWithSecret> {
  const res = await post(h, '/v1/keys', body, token);
  const b = await json<KeyWithSecret>(res);
  if (res.status !== 201) throw new Error(`create key: ${res.status} ${JSON.stringify(b)}`);
  return b;
}

export async function createDomain(h: Harness, token: string, name: string, visibility?: 'public' | 'network'): Promise<DomainWithToken> {
  const res = await post(h, '/v1/domains', visibility ? { name, visibility } : { name }, token);
  const b = await json<DomainWithToken>(res);
  if (res.status !== 201) throw new Error(`create domain: ${res.status} ${JSON.stringify(b)}`);
  return b;
}

/** A developer account: applies, an admin approves with the given credits. */
export async function developerAccount(h: Harness, credits: number, admin?: SignedIn): Promise<SignedIn> {
  const u = await signIn(h);
  const a = admin ?? (await signInAdmin(h));
  const app = await json<Application>(await post(h, '/v1/trial/applications', { use_case: 'testing' }, u.token));
  const res = await post(h, `/v1/admin/trial/applications/${app.id}/approve`, { credits }, a.token);
  if (res.status !== 200) throw new Error(`approve: ${res.status}`);
  return u;
}

let domainSeq = 0;
export function uniqueDomainName(tag = 'node'): string {
  domainSeq += 1;
  return `${tag}-${Date.now().toString(36)}-${domainSeq}.example.org`;
}

export async function verify(h: Harness, domainToken: string, body: Record<string, unknown>): Promise<VerifyAnswer> {
  const res = await post(h, '/v1/verify', body, domainToken);
  if (res.status !== 200) throw new Error(`verify: ${res.status} ${await res.text()}`);
  return json<VerifyAnswer>(res);
}
