/**
 * @siwe-keys/web: what a dApp page needs to sign its users in to a siwe-keys service with their
 * wallet and manage their API keys: wallet discovery (EIP-6963, with the window.ethereum
 * fallback), the EIP-4361 message, the exchange for a session, keeping and revoking it, key calls.
 */
import type {
  AccountView,
  DomainView,
  DomainWithToken,
  KeyLimits,
  KeyView,
  KeyWithSecret,
  Page,
  SessionView,
} from '../../../src/contract/views.js';
import { createApi, type Api } from './api.js';
import { clearSession, loadSession, saveSession, type StoredSession } from './session.js';
import { signInMessage } from './siwe.js';
import { createTeamsApi, queryString, type TeamsApi } from './teams.js';
import { currentChainId, personalSign, requestAccounts, type Eip1193Provider } from './wallet.js';

export * from './address.js';
export * from './api.js';
export * from './session.js';
export * from './siwe.js';
export * from './teams.js';
export * from './wallet.js';
export type {
  AccountView,
  ApplicationView,
  DomainView,
  DomainWithToken,
  KeyLimits,
  KeyType,
  KeyView,
  KeyWithSecret,
  Page,
  Plan,
  SessionView,
} from '../../../src/contract/views.js';

export interface CreateKeyInput {
  name: string;
  description?: string;
  scopes?: string[];
  models?: string[] | null;
  limits?: KeyLimits;
  expires_at?: string | null;
  expires_in_days?: number;
  /** Creates the key for this team (a `network` key spending the team's balance; role member or above). */
  team_id?: string;
}

export interface CreateDomainInput {
  name: string;
  visibility?: 'network' | 'public';
  /** Registers the domain for this team (role admin or above). */
  team_id?: string;
}

/** One bucket of `GET /v1/usage/summary`. */
export interface UsageBucketView {
  bucket: string | null;
  /** The key's name when grouped by key (null once the key is deleted). */
  key_name?: string | null;
  requests: number;
  input_tokens: number;
  output_tokens: number;
  cost: number;
  charged: number;
  uncharged: number;
}

export interface UsageSummaryView {
  group_by: 'day' | 'hour' | 'model' | 'key' | 'domain';
  from: string;
  to: string;
  data: UsageBucketView[];
  totals: UsageBucketView;
}

export interface UsageSummaryQuery {
  group_by?: UsageSummaryView['group_by'];
  from?: string;
  to?: string;
  key_id?: string;
  model?: string;
  /** A team's usage instead of the caller's own (any member role may read it). */
  team_id?: string;
}

/** List options; `team_id` lists a team's resources instead of the caller's own. */
export interface ListOptions {
  cursor?: string;
  limit?: number;
  team_id?: string;
}

export interface SiweKeysOptions {
  /** The service's origin, e.g. https://keys.example.org (it must list this page in CORS_ORIGINS); default: same origin. */
  baseUrl?: string;
  /** The statement shown in the wallet. */
  statement?: string;
  /** sessionStorage key for the session (default `siwe-keys.session`); null keeps it in memory only. */
  storageKey?: string | null;
  fetch?: typeof fetch;
  /** Called when the service says the session is gone (expired or revoked elsewhere). */
  onSessionLost?: () => void;
}

export interface SiweKeys {
  api: Api;
  session(): StoredSession | null;
  /** Asks the wallet for its account, signs a fresh EIP-4361 message and exchanges it for a session. */
  signIn(provider: Eip1193Provider): Promise<SessionView>;
  /** Revokes this session on the service (at once) and forgets it here. */
  signOut(): Promise<void>;
  /** Revokes every session of the account. */
  signOutEverywhere(): Promise<void>;
  me(): Promise<AccountView>;
  keys: {
    list(opts?: ListOptions & { status?: 'active' | 'disabled' }): Promise<Page<KeyView>>;
    create(input: CreateKeyInput): Promise<KeyWithSecret>;
    update(
      id: string,
      patch: Partial<Omit<CreateKeyInput, 'name' | 'expires_in_days'>> & { status?: 'active' | 'disabled' },
    ): Promise<KeyView>;
    rotate(id: string, graceSeconds?: number): Promise<KeyWithSecret>;
    remove(id: string): Promise<void>;
  };
  domains: {
    list(opts?: ListOptions): Promise<Page<DomainView>>;
    /** The domain token in the answer is shown only once. */
    create(input: CreateDomainInput): Promise<DomainWithToken>;
  };
  usage: {
    summary(query?: UsageSummaryQuery): Promise<UsageSummaryView>;
  };
  teams: TeamsApi;
}

export function createSiweKeys(opts: SiweKeysOptions = {}): SiweKeys {
  const storageKey = opts.storageKey === undefined ? 'siwe-keys.session' : opts.storageKey;
  let current: StoredSession | null = storageKey === null ? null : loadSession(Date.now(), storageKey);
  const forget = (): void => {
    current = null;
    if (storageKey !== null) clearSession(storageKey);
  };
  const api = createApi({
    ...(opts.baseUrl !== undefined ? { baseUrl: opts.baseUrl } : {}),
    ...(opts.fetch !== undefined ? { fetch: opts.fetch } : {}),
    token: () => current?.token ?? null,
    onSessionLost: () => {
      forget();
      opts.onSessionLost?.();
    },
  });
  const serviceUrl = (): URL => new URL(opts.baseUrl || location.origin);
  const q = queryString;
  return {
    api,
    session: () => current,
    async signIn(provider) {
      const address = await requestAccounts(provider);
      const chainId = await currentChainId(provider);
      const { nonce } = await api.get<{ nonce: string }>('/v1/auth/nonce');
      const url = serviceUrl();
      const message = signInMessage({ address, chainId, nonce, statement: opts.statement, domain: url.host, uri: url.origin });
      const signature = await personalSign(provider, message, address);
      const session = await api.post<SessionView>('/v1/auth/verify', { message, signature });
      current =
        storageKey === null
          ? { token: session.token, expires_at: session.expires_at, address: session.account.address }
          : saveSession(session, storageKey);
      return session;
    },
    async signOut() {
      try {
        if (current) await api.post('/v1/auth/logout');
      } finally {
        forget();
      }
    },
    async signOutEverywhere() {
      try {
        if (current) await api.post('/v1/auth/logout-all');
      } finally {
        forget();
      }
    },
    me: () => api.get<AccountView>('/v1/me'),
    keys: {
      list: (o = {}) => api.get<Page<KeyView>>(`/v1/keys${q({ cursor: o.cursor, limit: o.limit, status: o.status, team_id: o.team_id })}`),
      create: (input) => api.post<KeyWithSecret>('/v1/keys', input),
      update: (id, patch) => api.patch<KeyView>(`/v1/keys/${encodeURIComponent(id)}`, patch),
      rotate: (id, graceSeconds) =>
        api.post<KeyWithSecret>(
          `/v1/keys/${encodeURIComponent(id)}/rotate`,
          graceSeconds === undefined ? {} : { grace_seconds: graceSeconds },
        ),
      remove: (id) => api.del(`/v1/keys/${encodeURIComponent(id)}`),
    },
    domains: {
      list: (o = {}) => api.get<Page<DomainView>>(`/v1/domains${q({ cursor: o.cursor, limit: o.limit, team_id: o.team_id })}`),
      create: (input) => api.post<DomainWithToken>('/v1/domains', input),
    },
    usage: {
      summary: (o = {}) =>
        api.get<UsageSummaryView>(
          `/v1/usage/summary${q({ group_by: o.group_by, from: o.from, to: o.to, key_id: o.key_id, model: o.model, team_id: o.team_id })}`,
        ),
    },
    teams: createTeamsApi(api, () => current?.address ?? null),
  };
}
