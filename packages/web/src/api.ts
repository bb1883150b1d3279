import type { Page } from '../../../src/contract/views.js';

/** A non-2xx answer from the service, carrying its documented `error` body. */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly requestId: string | null,
  ) {
    super(message);
  }
}

export interface Api {
  get<T>(path: string): Promise<T>;
  post<T>(path: string, body?: unknown): Promise<T>;
  patch<T>(path: string, body: unknown): Promise<T>;
  del(path: string): Promise<void>;
  /** The CSV form of an analytics list (`Accept: text/csv`). */
  csv(path: string): Promise<string>;
  /** The next page of a cursor-paginated list, or null when there is none. */
  nextCursor(page: Page<unknown>): string | null;
}

interface ErrorBodyShape {
  error?: { code?: unknown; message?: unknown; request_id?: unknown };
}

export interface ApiOptions {
  /** The service's origin, e.g. https://keys.example.org; empty (the default) means this page's origin. */
  baseUrl?: string;
  /** A fetch-compatible function (default: the global fetch). */
  fetch?: typeof fetch;
  token(): string | null;
  /** Called when the service says the session is gone (expired, revoked), so the page can sign out. */
  onSessionLost(): void;
}

export function createApi(opts: ApiOptions): Api {
  const base = (opts.baseUrl ?? '').replace(/\/+$/, '');
  const doFetch = opts.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));
  async function call<T>(method: string, path: string, body?: unknown, accept = 'application/json'): Promise<T> {
    const headers: Record<string, string> = { accept };
    const token = opts.token();
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      // No cookies are ever sent: the session is a bearer token (so no CSRF surface).
      res = await doFetch(`${base}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
        credentials: 'omit',
      });
    } catch {
      throw new ApiError(0, 'network_error', 'The service could not be reached. Check your connection and try again.', null);
    }
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    if (res.ok && accept !== 'application/json') return text as T;
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = null;
    }
    if (!res.ok) {
      const err = (parsed as ErrorBodyShape | null)?.error;
      const code = typeof err?.code === 'string' ? err.code : `http_${res.status}`;
      const message = typeof err?.message === 'string' ? err.message : `The service answered ${res.status}.`;
      const rid = typeof err?.request_id === 'string' ? err.request_id : res.headers.get('x-request-id');
      if (code === 'invalid_session' && token) opts.onSessionLost();
      throw new ApiError(res.status, code, message, rid);
    }
    return parsed as T;
  }
  return {
    get: (path) => call('GET', path),
    post: (path, body) => call('POST', path, body ?? {}),
    patch: (path, body) => call('PATCH', path, body),
    del: (path) => call<void>('DELETE', path),
    csv: (path) => call<string>('GET', path, undefined, 'text/csv'),
    nextCursor: (page) => (typeof page.next_cursor === 'string' && page.next_cursor ? page.next_cursor : null),
  };
}

/** The person-readable text of any failure: the API's `error.message` when there is one. */
export function errorText(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}
