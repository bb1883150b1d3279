/** Plain requests against a Harness: JSON bodies, an optional bearer token, and the JSON answer. */
import type { Harness } from './targets.js';

/** The JSON answer, as the type the caller names: a response type from ./responses.ts (json<KeyWithSecret>(res)). */
export async function json<T = unknown>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

export function post(
  h: Harness,
  path: string,
  body: unknown,
  token?: string,
  extraHeaders: Record<string, string> = {},
): Promise<Response> {
  return h.request(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...extraHeaders },
    body: JSON.stringify(body),
  });
}

export function patch(h: Harness, path: string, body: unknown, token?: string): Promise<Response> {
  return h.request(path, {
    method: 'PATCH',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
}

export function get(h: Harness, path: string, token?: string): Promise<Response> {
  return h.request(path, { headers: token ? { authorization: `Bearer ${token}` } : {} });
}

export function del(h: Harness, path: string, token?: string): Promise<Response> {
  return h.request(path, { method: 'DELETE', headers: token ? { authorization: `Bearer ${token}` } : {} });
}
