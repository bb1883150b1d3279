import type { SessionView } from '../../../src/contract/views.js';

/**
 * The session lives in sessionStorage: it survives reloads of this tab, ends with the tab, and is
 * never put in a URL. (localStorage would also survive closing the tab, keeping a bearer token on
 * disk for a day; a console that is opened to do a few things does not need that.)
 */
const DEFAULT_STORAGE_KEY = 'siwe-keys.session';

export interface StoredSession {
  token: string;
  expires_at: string;
  address: string;
}

export function loadSession(now: number = Date.now(), storageKey: string = DEFAULT_STORAGE_KEY): StoredSession | null {
  let raw: string | null = null;
  try {
    raw = sessionStorage.getItem(storageKey);
  } catch {
    return null; // storage disabled: the page still works, only without reload survival
  }
  if (!raw) return null;
  try {
    const s = JSON.parse(raw) as Partial<StoredSession>;
    if (typeof s.token !== 'string' || typeof s.expires_at !== 'string' || typeof s.address !== 'string') throw new Error('shape');
    if (!(Date.parse(s.expires_at) > now)) throw new Error('expired');
    return { token: s.token, expires_at: s.expires_at, address: s.address };
  } catch {
    clearSession(storageKey);
    return null;
  }
}

export function saveSession(s: SessionView, storageKey: string = DEFAULT_STORAGE_KEY): StoredSession {
  const stored: StoredSession = { token: s.token, expires_at: s.expires_at, address: s.account.address };
  try {
    sessionStorage.setItem(storageKey, JSON.stringify(stored));
  } catch {
    // Private modes may refuse storage; the session then lasts until the page is reloaded.
  }
  return stored;
}

export function clearSession(storageKey: string = DEFAULT_STORAGE_KEY): void {
  try {
    sessionStorage.removeItem(storageKey);
  } catch {
    // nothing stored
  }
}
