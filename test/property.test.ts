import fc from 'fast-check';
import { Kysely, SqliteDialect } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { loadConfig } from '../src/config.js';
import { openSqlite } from '../src/db/dialects/sqlite.js';
import type { Database } from '../src/db/schema.js';
import { BASE62 } from '../src/ids.js';
import { createLogger } from '../src/logger.js';
import { createNodeService, type NodeService } from '../src/node.js';
import { parseSecret } from '../src/services/key-format.js';
import { createDomain, createKey, uniqueDomainName } from './support/fixtures.js';
import {
  ADMIN_ACCOUNT,
  get,
  getNonce,
  json,
  newWallet,
  post,
  signIn,
  signInAdmin,
  siweText,
  nodeTargets,
  TEST_ORIGIN,
  type Harness,
  type SignedIn,
} from './support/harness.js';
import type { Account, Application, AuditEvent, ErrorBody, OpenApiDoc, Page, UsageRecorded, VerifyResult } from './support/responses.js';

/**
 * Property-based tests (fast-check) through the whole HTTP stack: what must hold for every input,
 * not only for the inputs someone thought of. Run counts stay modest so the suite stays fast; a
 * failure prints the seed and the shrunk counterexample.
 */

const ERROR_TYPES = [
  'invalid_request_error',
  'auth_error',
  'permission_error',
  'not_found_error',
  'rate_limit_error',
  'billing_error',
  'server_error',
];
/** What a leaked stack trace or source location looks like in a response body. */
const STACK_TRACE = /\n\s+at |\bat [^\s()]+ \(|node_modules|\.[cm]?[jt]s:\d+(:\d+)?|\b(TypeError|ReferenceError|SyntaxError|RangeError): /;

/** Any response: never a 5xx; a non-2xx carries exactly the contract's error body and no stack trace. */
async function expectContractResponse(res: Response, context: string): Promise<void> {
  const text = await res.text();
  expect(res.status, `${context} -> ${res.status} ${text.slice(0, 300)}`).toBeLessThan(500);
  if (res.status < 300) return;
  expect(text, `${context}: stack trace in the body`).not.toMatch(STACK_TRACE);
  if (text === '') throw new Error(`${context}: ${res.status} with an empty body`);
  let body: ErrorBody; // what the assertions below check it is
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`${context}: ${res.status} with a non-JSON body: ${text.slice(0, 200)}`);
  }
  expect(Object.keys(body), context).toEqual(['error']);
  const e = body.error;
  expect(typeof e.code === 'string' && /^[a-z][a-z0-9_]*$/.test(e.code), `${context}: code ${e.code}`).toBe(true);
  expect(typeof e.message === 'string' && e.message.length > 0, `${context}: message`).toBe(true);
  expect(ERROR_TYPES, `${context}: type`).toContain(e.type);
  expect(e.request_id, `${context}: request_id`).toBe(res.headers.get('x-request-id'));
}

// ---------------------------------------------------------------------------------------------
// 1. A signed SIWE message, changed in any one place, never signs in.

type Mutation =
  | { kind: 'replace'; pos: number; ch: string }
  | { kind: 'insert'; pos: number; ch: string }
  | { kind: 'delete'; pos: number }
  | { kind: 'swap-lines'; a: number; b: number };

/** One character: printable ASCII, any code point, or the characters a parser is most likely to trip on. */
const oneChar = fc.oneof(
  fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
  fc.constantFrom(
    '\n',
    '\r',
    '\t',
    ' ',
    '\u0000',
    '\u00a0',
    '\u200b',
    '\u2028',
    '\ufeff',
    'é',
    '0',
    '9',
    'a',
    'A',
    'f',
    'F',
    ':',
    '-',
    '.',
    '/',
    'Z',
  ),
);

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('replace' as const), pos: fc.nat(), ch: oneChar }),
  fc.record({ kind: fc.constant('insert' as const), pos: fc.nat(), ch: oneChar }),
  fc.record({ kind: fc.constant('delete' as const), pos: fc.nat() }),
  fc.record({ kind: fc.constant('swap-lines' as const), a: fc.nat(), b: fc.nat() }),
);

/** Applies the mutation; null when it would leave the text unchanged (not a mutation). */
function mutate(s: string, m: Mutation): string | null {
  let out: string;
  switch (m.kind) {
    case 'replace': {
      const i = m.pos % s.length;
      out = s.slice(0, i) + m.ch + s.slice(i + 1);
      break;
    }
    case 'insert': {
      const i = m.pos % (s.length + 1);
      out = s.slice(0, i) + m.ch + s.slice(i);
      break;
    }
    case 'delete': {
      const i = m.pos % s.length;
      out = s.slice(0, i) + s.slice(i + 1);
      break;
    }
    case 'swap-lines': {
      const lines = s.split('\n');
      const a = m.a % lines.length;
      const b = m.b % lines.length;
      [lines[a], lines[b]] = [lines[b], lines[a]];
      out = lines.join('\n');
      break;
    }
  }
  return out === s ? null : out;
}

// ---------------------------------------------------------------------------------------------
// 3. Random requests against every route of the OpenAPI document.

interface Operation {
  method: string;
  path: string;
  pathParams: string[];
  queryParams: string[];
  bodyFields: string[];
}

/** An item of any list: its id and its other fields. */
type Listed = { id: string } & Record<string, unknown>;

function operationsOf(doc: OpenApiDoc): Operation[] {
  const ops: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const params = op.parameters ?? [];
      const schema = op.requestBody?.content?.['application/json']?.schema;
      const resolved = schema?.$ref ? doc.components.schemas[schema.$ref.split('/').pop() ?? ''] : schema;
      ops.push({
        method: method.toUpperCase(),
        path,
        pathParams: params.filter((p) => p.in === 'path').map((p) => p.name),
        queryParams: params.filter((p) => p.in === 'query').map((p) => p.name),
        bodyFields: Object.keys(resolved?.properties ?? {}),
      });
    }
  }
  return ops;
}

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'];
const AUTHS = ['none', 'user', 'admin', 'admin-key', 'inference-key', 'domain', 'garbage-bearer', 'garbage-header'] as const;
type AuthKind = (typeof AUTHS)[number];

/** A value for a query or path parameter: random text, numbers, and the edge cases parsers mishandle. */
const paramValue = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.integer().map(String),
  fc.double().map(String),
  fc.constantFrom(
    '',
    '-1',
    '0',
    '1',
    '100',
    '101',
    '1e999',
    'NaN',
    '0x10',
    ' 5',
    '%',
    '%ZZ',
    '%00',
    'a\u0000b',
    '..',
    '../..',
    'null',
    '[]',
    '{}',
    '2026-01-15T12:00:00Z',
    '2026-02-30T00:00:00Z',
    'a'.repeat(300),
  ),
);

/** A request body: JSON values of every shape, objects with the route's own field names, and non-JSON text. */
function bodyFor(op: Operation): fc.Arbitrary<string | undefined> {
  const fields = op.bodyFields.length ? op.bodyFields : ['name', 'key'];
  return fc.oneof(
    fc.constant(undefined),
    fc.json(),
    fc.anything().map((v) => JSON.stringify(v) ?? ''),
    fc.dictionary(fc.constantFrom(...fields), fc.jsonValue(), { maxKeys: fields.length + 1 }).map((o) => JSON.stringify(o)),
    fc
      .dictionary(fc.oneof(fc.constantFrom(...fields), fc.string({ maxLength: 8 })), fc.oneof(fc.jsonValue(), paramValue))
      .map((o) => JSON.stringify(o)),
    fc.string({ maxLength: 200 }),
    fc.string({ unit: 'binary', maxLength: 100 }),
    fc.constantFrom('{', '{"a":', '[1,2', '"unterminated', 'null', 'true', '1e999', '{"__proto__":{"x":1}}', '\u0000', '{"name":"\ud800"}'),
  );
}

/** Values for one field of an otherwise valid body: every JSON type and the numbers that overflow. */
const fieldValue = fc.oneof(
  fc.jsonValue(),
  paramValue,
  fc.constantFrom(
    0,
    -1,
    1.5,
    1e308,
    -1e308,
    Number.MAX_SAFE_INTEGER,
    Number.MAX_SAFE_INTEGER + 2,
    -Number.MAX_SAFE_INTEGER,
    2 ** 63,
    null,
    true,
    [],
    {},
    [null],
    { rpm: -1 },
    ['admin', 'admin'],
  ),
);

/** A body edit: set fields to random values, or drop them. */
const bodyEdit = fc.array(fc.tuple(fc.string({ maxLength: 16 }), fc.option(fieldValue, { nil: undefined })), { maxLength: 2 });

const contentType = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('application/json', 'application/json; charset=utf-8') },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/jsonx',
      'APPLICATION/JSON',
      '',
    ),
  },
);

describe.each(nodeTargets())('properties on $name', (target) => {
  describe('SIWE messages', () => {
    let h: Harness;
    beforeAll(async () => {
      h = await target.start();
    });
    afterAll(async () => h.close());

    it('signs in with the unmutated message the properties start from', async () => {
      const wallet = newWallet();
      const nonce = await getNonce(h);
      const message = siweText(wallet.address, nonce, h.clock ? h.clock.now() : new Date());
      const res = await post(h, '/v1/auth/verify', { message, signature: await wallet.signMessage({ message }) });
      expect(res.status).toBe(200);
    });

    it('never signs in with a single-character change, insertion, deletion or line swap of a signed message', async () => {
      const wallet = newWallet();
      await fc.assert(
        fc.asyncProperty(mutation, fc.boolean(), async (m, withExtras) => {
          const nonce = await getNonce(h);
          const now = h.clock ? h.clock.now() : new Date();
          // Half the messages carry every optional field, so mutations reach those lines too.
          const extras = withExtras
            ? {
                expirationTime: new Date(now.getTime() + 600_000).toISOString(),
                notBefore: new Date(now.getTime() - 60_000).toISOString(),
                requestId: 'req-42',
                resources: ['https://example.org/a', 'ipfs://bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi'],
              }
            : {};
          const original = siweText(wallet.address, nonce, now, extras);
          const signature = await wallet.signMessage({ message: original });
          const mutated = mutate(original, m);
          fc.pre(mutated !== null);
          const res = await post(h, '/v1/auth/verify', { message: mutated, signature });
          expect(res.status, `mutation ${JSON.stringify(m)} signed in`).not.toBe(200);
          await expectContractResponse(res, `mutation ${JSON.stringify(m)}`);
        }),
        { numRuns: Number(process.env.FUZZ_RUNS ?? 250) },
      );
    }, 600_000);
  });

  describe('domain tokens', () => {
    // Its own service over a SQLite database whose queries are counted (Kysely's query log), so the
    // property can see that a mistyped token is refused before any lookup. The check runs before
    // any database code, so one dialect shows it for all.
    let svc: NodeService;
    let queries = 0;
    let operator: SignedIn;
    let domainToken: string;
    let keySecret: string;
    let h: Harness;

    beforeAll(async () => {
      const { raw } = openSqlite(':memory:');
      const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: raw }), log: () => void (queries += 1) });
      const config = loadConfig({
        PUBLIC_URL: TEST_ORIGIN,
        DATABASE_URL: ':memory:',
        ADMIN_ADDRESSES: ADMIN_ACCOUNT.address,
        NONCE_RATE_LIMIT: '0',
        SIGNIN_RATE_LIMIT: '0',
      });
      const clock = new ManualClock(new Date());
      svc = await createNodeService(config, { db, clock, logger: createLogger('silent') });
      h = {
        name: 'counted',
        clock,
        logs: [],
        request: async (p, init) => svc.app.request(new URL(p, TEST_ORIGIN).toString(), init),
        close: () => svc.close(),
      };
      operator = await signIn(h);
      domainToken = (await createDomain(h, operator.token, uniqueDomainName('prop'))).token;
      keySecret = (await createKey(h, operator.token, { name: 'prop' })).key;
    });
    afterAll(async () => svc.close());

    it('answers the real token with a lookup (the control for the property below)', async () => {
      const before = queries;
      const res = await post(h, '/v1/verify', { key: keySecret }, domainToken);
      expect(res.status).toBe(200);
      expect((await json<VerifyResult>(res)).valid).toBe(true);
      expect(queries).toBeGreaterThan(before);
    });

    it('refuses every single-character change to a domain token by checksum, with 401 and no lookup', async () => {
      const alphabet = `${BASE62}_-.`;
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom<'replace' | 'insert' | 'delete'>('replace', 'insert', 'delete'),
          fc.nat(),
          fc.nat(alphabet.length - 1),
          async (kind, pos, ch) => {
            const s = domainToken;
            let mutated: string;
            if (kind === 'replace') {
              const i = pos % s.length;
              fc.pre(alphabet[ch] !== s[i]);
              mutated = s.slice(0, i) + alphabet[ch] + s.slice(i + 1);
            } else if (kind === 'insert') {
              const i = pos % (s.length + 1);
              mutated = s.slice(0, i) + alphabet[ch] + s.slice(i);
            } else {
              const i = pos % s.length;
              mutated = s.slice(0, i) + s.slice(i + 1);
            }
            expect(parseSecret(mutated), mutated).toBeNull();
            const before = queries;
            const res = await post(h, '/v1/verify', { key: keySecret }, mutated);
            expect(res.status).toBe(401);
            expect((await json<ErrorBody>(res)).error.code).toBe('invalid_domain_token');
            expect(queries, `a lookup for ${mutated}`).toBe(before);
          },
        ),
        { numRuns: 300 },
      );
    });

    it('refuses every single-character change to an API key as malformed, with no key lookup', async () => {
      // What a request costs in queries before any key is looked at: the domain-token lookup only
      // (the body without a key is refused after the domain token is checked). The record cache is
      // emptied before each request, so the domain token is looked up every time and any key
      // lookup would show as a query too.
      const uncached = (): void => svc.deps.records?.flush();
      uncached();
      let before = queries;
      expect((await post(h, '/v1/verify', {}, domainToken)).status).toBe(400);
      const baseline = queries - before;
      expect(baseline).toBeGreaterThan(0);
      const alphabet = `${BASE62}_-.`;
      await fc.assert(
        fc.asyncProperty(fc.nat(), fc.nat(alphabet.length - 1), async (pos, ch) => {
          const i = pos % keySecret.length;
          fc.pre(alphabet[ch] !== keySecret[i]);
          const mutated = keySecret.slice(0, i) + alphabet[ch] + keySecret.slice(i + 1);
          uncached();
          before = queries;
          const res = await post(h, '/v1/verify', { key: mutated }, domainToken);
          expect(res.status).toBe(200);
          expect(await json<VerifyResult>(res)).toMatchObject({ valid: false, code: 'malformed' });
          expect(queries - before, `lookups for ${mutated}`).toBe(baseline);
        }),
        { numRuns: 300 },
      );
    });
  });

  describe('random requests', () => {
    let h: Harness;
    let ops: Operation[];
    const fx = {} as {
      user: SignedIn;
      admin: SignedIn;
      adminKey: string;
      inferenceKey: string;
      keyId: string;
      domainId: string;
      domainToken: string;
      applicationId: string;
    };

    /** The valid credentials and ids the requests use; rebuilt when a request revoked or deleted one. */
    async function refresh(): Promise<void> {
      fx.user = await signIn(h);
      fx.admin = await signInAdmin(h);
      const adminKey = await createKey(h, fx.user.token, { name: `admin-${Date.now()}-${Math.random()}`, scopes: ['admin'] });
      fx.adminKey = adminKey.key;
      const inf = await createKey(h, fx.user.token, { name: `inf-${Date.now()}-${Math.random()}` });
      fx.inferenceKey = inf.key;
      fx.keyId = inf.id;
      const d = await createDomain(h, fx.user.token, uniqueDomainName('fuzz'));
      fx.domainId = d.id;
      fx.domainToken = d.token;
      const app = await json<Application>(await post(h, '/v1/trial/applications', { use_case: 'fuzzing' }, fx.user.token));
      fx.applicationId = app.id;
    }

    beforeAll(async () => {
      h = await target.start({ env: { MAX_KEYS_PER_ACCOUNT: '100000', MAX_DOMAINS_PER_ACCOUNT: '100000' } });
      ops = operationsOf(await json(await get(h, '/openapi.json')));
      await refresh();
    });
    afterAll(async () => h.close());

    function authHeaders(kind: AuthKind): Record<string, string> {
      switch (kind) {
        case 'none':
          return {};
        case 'user':
          return { authorization: `Bearer ${fx.user.token}` };
        case 'admin':
          return { authorization: `Bearer ${fx.admin.token}` };
        case 'admin-key':
          return { authorization: `Bearer ${fx.adminKey}` };
        case 'inference-key':
          return { authorization: `Bearer ${fx.inferenceKey}` };
        case 'domain':
          return { authorization: `Bearer ${fx.domainToken}` };
        case 'garbage-bearer':
          return { authorization: 'Bearer eyJhbGciOiJub25lIn0.e30.' };
        case 'garbage-header':
          return { authorization: 'Basic Zm9vOmJhcg==' };
      }
    }

    /** A real id for the path parameter, so requests reach the handlers behind the lookups. */
    function realValue(path: string, name: string): string {
      if (name === 'address') return fx.user.address;
      if (path.startsWith('/v1/domains')) return fx.domainId;
      if (path.startsWith('/v1/admin/trial')) return fx.applicationId;
      return fx.keyId;
    }

    function preferredAuth(op: Operation): AuthKind[] {
      if (op.path === '/v1/verify' || (op.method === 'POST' && op.path === '/v1/usage')) return ['domain'];
      if (op.path.startsWith('/v1/admin/')) return ['admin'];
      return ['user', 'admin', 'admin-key'];
    }

    /** A valid body for the route (from the current fixtures), which the property then edits. */
    function validBody(op: Operation): Record<string, unknown> | null {
      const now = h.clock ? h.clock.now() : new Date();
      switch (`${op.method} ${op.path}`) {
        case 'POST /v1/auth/verify':
          return { message: siweText(fx.user.address, 'abcdefgh12345678', now), signature: `0x${'11'.repeat(65)}` };
        case 'POST /v1/keys':
          return {
            name: `k-${Math.random()}`,
            description: 'd',
            scopes: ['inference:read', 'analytics:read'],
            models: ['m'],
            limits: { rpm: 5, daily_credits: 10 },
            expires_in_days: 3,
          };
        case 'PATCH /v1/keys/{id}':
          return {
            description: 'x',
            status: 'active',
            scopes: ['inference:write'],
            models: null,
            limits: { rpm: null, monthly_credits: 7 },
            expires_at: new Date(now.getTime() + 86_400_000).toISOString(),
          };
        case 'POST /v1/keys/{id}/rotate':
          return { grace_seconds: 5 };
        case 'POST /v1/domains':
          return { name: uniqueDomainName('fz'), visibility: 'network' };
        case 'POST /v1/verify':
          return { key: fx.inferenceKey, scope: 'inference:write', model: 'm', cost: 1 };
        case 'POST /v1/usage':
          return { key_id: fx.keyId, request_id: `r-${Math.random()}`, cost: 1, model: 'm', input_tokens: 1, output_tokens: 1 };
        case 'POST /v1/trial/applications':
          return { use_case: 'u', contact: 'c' };
        case 'POST /v1/admin/trial/applications/{id}/approve':
          return { credits: 5 };
        case 'POST /v1/admin/trial/applications/{id}/reject':
          return { reason: 'r' };
        case 'POST /v1/admin/accounts/{address}/credits':
          return { delta: 5, reason: 'r' };
        default:
          return null;
      }
    }

    function editedBody(op: Operation, edit: [string, unknown][], fieldNames: number[]): string | undefined {
      const base = validBody(op);
      if (!base) return undefined;
      const fields = Object.keys(base);
      edit.forEach(([name, value], i) => {
        // Mostly edit the route's own fields; sometimes add an unknown one.
        const key = fields.length && fieldNames[i] !== undefined && fieldNames[i] % 4 !== 0 ? fields[fieldNames[i] % fields.length] : name;
        if (value === undefined) delete base[key];
        else base[key] = value;
      });
      return JSON.stringify(base);
    }

    const realIds = (): string[] => [fx.keyId, fx.domainId, fx.applicationId, fx.user.address];

    /** Every status the fuzzers saw: proof that requests got past authentication and validation. */
    const statuses = new Set<number>();

    async function send(method: string, path: string, auth: AuthKind, ct: string, body: string | undefined): Promise<Response> {
      const headers: Record<string, string> = { ...authHeaders(auth) };
      if (ct) headers['content-type'] = ct;
      const init: RequestInit = { method, headers };
      if (body !== undefined && method !== 'GET' && method !== 'HEAD') init.body = body;
      // Absolute, so a path like "//x" stays a path instead of becoming a protocol-relative URL.
      const res = await h.request(`${TEST_ORIGIN}${path}`, init);
      statuses.add(res.status);
      return res;
    }

    /** After a request that may have revoked a session or deleted a fixture, rebuild the fixtures. */
    async function afterRequest(method: string, path: string, status: number): Promise<void> {
      if (status < 300 && method !== 'GET' && method !== 'HEAD' && /logout|rotate|reject|approve|\/v1\/(keys|domains)\/|credits/.test(path))
        await refresh();
    }

    it('lists the routes it fuzzes from /openapi.json', () => {
      const listed = ops.map((o) => `${o.method} ${o.path}`);
      for (const r of [
        'POST /v1/auth/verify',
        'POST /v1/keys',
        'PATCH /v1/keys/{id}',
        'POST /v1/verify',
        'POST /v1/usage',
        'GET /v1/usage',
        'POST /v1/admin/accounts/{address}/credits',
      ]) {
        expect(listed).toContain(r);
      }
    });

    it('never answers a 5xx or a stack trace to random bodies, parameters, methods and credentials on every route', async () => {
      const request = fc.integer({ min: 0, max: ops.length - 1 }).chain((i) => {
        const op = ops[i];
        return fc.record({
          op: fc.constant(op),
          method: fc.oneof({ weight: 9, arbitrary: fc.constant(op.method) }, { weight: 1, arbitrary: fc.constantFrom(...METHODS) }),
          params: fc.array(fc.oneof({ weight: 3, arbitrary: fc.constant<string | null>(null) }, { weight: 1, arbitrary: paramValue }), {
            minLength: op.pathParams.length,
            maxLength: op.pathParams.length,
          }),
          encode: fc.boolean(),
          query: fc.array(fc.tuple(fc.constantFrom(...op.queryParams, 'limit', 'cursor', 'x'), paramValue), { maxLength: 4 }),
          // Mostly credentials that pass authentication, so the bodies reach validation and the handlers.
          auth: fc.oneof(
            { weight: 3, arbitrary: fc.constantFrom(...preferredAuth(op)) },
            { weight: 1, arbitrary: fc.constantFrom(...AUTHS) },
          ),
          ct: contentType,
          body: bodyFor(op),
          edit: fc.option(fc.tuple(bodyEdit, fc.array(fc.nat(), { minLength: 3, maxLength: 3 })), { nil: null }),
        });
      });
      await fc.assert(
        fc.asyncProperty(request, async (r) => {
          let path = r.op.path;
          r.op.pathParams.forEach((name, i) => {
            const v = r.params[i] ?? realValue(r.op.path, name);
            path = path.replace(`{${name}}`, r.encode ? encodeURIComponent(v) : v.replace(/[?#]/g, ''));
          });
          if (r.query.length)
            path += `?${r.query.map(([k, v]) => `${k}=${r.encode ? encodeURIComponent(v) : v.replace(/[#&]/g, '')}`).join('&')}`;
          const body = r.edit && validBody(r.op) ? editedBody(r.op, r.edit[0], r.edit[1]) : r.body;
          const res = await send(r.method, path, r.auth, r.ct, body);
          const context = `${r.method} ${path} auth=${r.auth} ct=${r.ct} body=${JSON.stringify(body)?.slice(0, 300)}`;
          if (r.method === 'HEAD') expect(res.status, context).toBeLessThan(500);
          else await expectContractResponse(res, context);
          await afterRequest(r.method, path, res.status);
        }),
        { numRuns: Number(process.env.FUZZ_RUNS ?? 400) },
      );
      expect(h.logs.filter((l) => l.includes('unhandled error'))).toEqual([]);
      // The inputs reached the handlers, not only the gates in front of them.
      // (201 and 204 are both writes that succeeded; which of them a random run hits varies.)
      for (const s of [200, 400, 401, 403, 404]) expect(statuses).toContain(s);
      expect(statuses.has(201) || statuses.has(204), `no successful write among ${[...statuses].join(',')}`).toBe(true);
    }, 600_000);

    it('refuses a NUL character in any text field, query or path parameter with 400 naming it', async () => {
      // Found by the fuzzer on PostgreSQL, whose text type cannot hold NUL: the insert failed with a 500.
      await refresh();
      const withBody = ops.filter((o) => validBody(o) !== null && o.path !== '/v1/auth/verify');
      const target = fc.oneof(
        fc.record({ where: fc.constant('body' as const), op: fc.constantFrom(...withBody), field: fc.nat(), pos: fc.nat() }),
        fc.record({
          where: fc.constant('query' as const),
          op: fc.constantFrom(...ops.filter((o) => o.method === 'GET' && o.queryParams.length)),
          field: fc.nat(),
          pos: fc.nat(),
        }),
        fc.record({
          where: fc.constant('path' as const),
          op: fc.constantFrom(...ops.filter((o) => o.pathParams.length)),
          field: fc.nat(),
          pos: fc.nat(),
        }),
      );
      await fc.assert(
        fc.asyncProperty(target, async (t) => {
          const { op } = t;
          const withNul = (v: string): string => v.slice(0, t.pos % (v.length + 1)) + '\u0000' + v.slice(t.pos % (v.length + 1));
          let path = op.path;
          for (const name of op.pathParams) path = path.replace(`{${name}}`, encodeURIComponent(realValue(op.path, name)));
          let body: string | undefined;
          let param: string;
          if (t.where === 'body') {
            const b = validBody(op)!;
            const strings = Object.keys(b).filter((k) => typeof b[k] === 'string' || Array.isArray(b[k]));
            fc.pre(strings.length > 0);
            param = strings[t.field % strings.length];
            const v = b[param];
            if (Array.isArray(v)) {
              b[param] = [withNul(String(v[0]))];
              param = `${param}.0`;
            } else b[param] = withNul(v as string);
            body = JSON.stringify(b);
          } else if (t.where === 'query') {
            param = op.queryParams[t.field % op.queryParams.length];
            path += `?${param}=${encodeURIComponent(withNul('2026-01-15T12:00:00Z'))}`;
          } else {
            param = op.pathParams[t.field % op.pathParams.length];
            path = op.path.replace(`{${param}}`, encodeURIComponent(withNul(realValue(op.path, param))));
            for (const name of op.pathParams) path = path.replace(`{${name}}`, encodeURIComponent(realValue(op.path, name)));
          }
          const auth = preferredAuth(op)[0];
          const res = await send(op.method, path, auth, 'application/json', body);
          const text = await res.text();
          expect(res.status, `${op.method} ${path} ${body ?? ''}: ${text}`).toBe(400);
          // Either the field's own rule or the NUL rule refuses it; both name the field.
          expect(JSON.parse(text).error, `${op.method} ${path} ${body ?? ''}`).toMatchObject({ code: 'invalid_request', param });
          await afterRequest(op.method, path, res.status);
        }),
        { numRuns: 200 },
      );
    });

    it('never answers a 5xx or a stack trace on random paths', async () => {
      const path = fc.oneof(
        fc.webPath(),
        fc
          .array(
            fc.oneof(
              fc.webSegment(),
              fc.constantFrom('v1', 'keys', 'admin', 'domains', 'usage', 'audit', 'auth', '..', '.', '%2e%2e', '%2F', '%ZZ', '%00'),
            ),
            { maxLength: 6 },
          )
          .map((s) => `/${s.join('/')}`),
        fc
          .tuple(fc.constantFrom(...ops.map((o) => o.path)), fc.webSegment())
          .map(([p, s]) => `${p.replace(/\{[^}]+\}/g, () => realIds()[0])}/${s}`),
        fc.constantFrom(
          '//v1//keys',
          '/v1/keys/',
          '/V1/KEYS',
          '/v1/keys/%2e%2e/domains',
          '/v1/keys?limit=5&limit=6',
          '/.well-known/',
          '/openapi.json/',
          '/docs/x',
          '/%',
          '/v1/%E0%A4%A',
        ),
      );
      await fc.assert(
        fc.asyncProperty(
          path,
          fc.constantFrom(...METHODS),
          fc.constantFrom(...AUTHS),
          contentType,
          fc.option(fc.json(), { nil: undefined }),
          async (p, method, auth, ct, body) => {
            const res = await send(method, p.startsWith('/') ? p : `/${p}`, auth, ct, body);
            const context = `${method} ${p} auth=${auth}`;
            if (method === 'HEAD') expect(res.status, context).toBeLessThan(500);
            else await expectContractResponse(res, context);
            await afterRequest(method, p, res.status);
          },
        ),
        { numRuns: Number(process.env.FUZZ_RUNS ?? 300) },
      );
      expect(h.logs.filter((l) => l.includes('unhandled error'))).toEqual([]);
    }, 600_000);
  });
  describe('pagination', () => {
    let h: Harness;
    let user: SignedIn;
    let admin: SignedIn;
    /** Each list's items in creation order (oldest first), as ids. */
    const created: Record<string, string[]> = {};

    /** Moves the clock 0-2 ms so some items share a millisecond and others do not. */
    const tick = (i: number): void => h.clock?.advance(i % 3);

    beforeAll(async () => {
      h = await target.start();
      admin = await signInAdmin(h);
      user = await signIn(h);
      created.keys = [];
      const secrets: string[] = [];
      for (let i = 0; i < 23; i++) {
        tick(i);
        const k = await createKey(h, user.token, { name: `page-${i}` });
        created.keys.push(k.id);
        secrets.push(k.key);
      }
      created.domains = [];
      let token = '';
      for (let i = 0; i < 17; i++) {
        tick(i);
        const d = await createDomain(h, user.token, uniqueDomainName('page'));
        created.domains.push(d.id);
        token = d.token;
      }
      created.usage = [];
      // A domain reports usage only for keys it verified.
      for (const key of secrets) await post(h, '/v1/verify', { key }, token);
      for (let i = 0; i < 29; i++) {
        tick(i);
        const res = await post(h, '/v1/usage', { key_id: created.keys[i % created.keys.length], request_id: `page-${i}`, cost: 0 }, token);
        expect(res.status).toBe(201);
        created.usage.push((await json<UsageRecorded>(res)).id);
      }
      created.applications = [];
      for (let i = 0; i < 21; i++) {
        tick(i);
        const u = await signIn(h);
        const res = await post(h, '/v1/trial/applications', { use_case: `page ${i}` }, u.token);
        expect(res.status).toBe(201);
        created.applications.push((await json<Application>(res)).id);
      }
    });
    afterAll(async () => h.close());

    /** Walks the list with the given page sizes (cycled; 0 means "no limit parameter"), returning every item seen. */
    async function walk<T extends { id: string } = Listed>(path: string, token: string, sizes: number[]): Promise<T[]> {
      const seen: T[] = [];
      let cursor: string | null = null;
      for (let page = 0; page < 1000; page++) {
        const size = sizes[page % sizes.length];
        const q = new URLSearchParams();
        if (size) q.set('limit', String(size));
        if (cursor) q.set('cursor', cursor);
        const res = await get(h, `${path}${q.size ? `?${q}` : ''}`, token);
        const body = await json<Page<T>>(res);
        expect(res.status, JSON.stringify(body)).toBe(200);
        const expected = size || 20;
        // A page is full unless it is the last one; has_more and next_cursor say which.
        if (body.has_more) {
          expect(body.data).toHaveLength(expected);
          expect(body.next_cursor).toBe(body.data[body.data.length - 1].id);
        } else {
          expect(body.data.length).toBeLessThanOrEqual(expected);
          expect(body.next_cursor).toBeNull();
        }
        seen.push(...body.data);
        if (!body.has_more) return seen;
        cursor = body.next_cursor;
      }
      throw new Error(`${path}: pagination did not end`);
    }

    const pageSizes = fc.array(
      fc.oneof({ weight: 5, arbitrary: fc.integer({ min: 1, max: 30 }) }, { weight: 1, arbitrary: fc.constantFrom(0, 100) }),
      { minLength: 1, maxLength: 6 },
    );

    /** Newest first by the item's own time, ties broken by id: the order a reader expects. */
    function expectNewestFirst(items: Listed[], timeField: string): void {
      for (let i = 1; i < items.length; i++) {
        const a = Date.parse(items[i - 1][timeField] as string);
        const b = Date.parse(items[i][timeField] as string);
        expect(a >= b && items[i - 1].id > items[i].id, `${items[i - 1].id} before ${items[i].id}`).toBe(true);
      }
    }

    const lists: [string, () => string, string, () => string[]][] = [
      ['/v1/keys', () => user.token, 'created_at', () => created.keys],
      ['/v1/domains', () => user.token, 'created_at', () => created.domains],
      ['/v1/usage', () => user.token, 'created_at', () => created.usage],
      ['/v1/admin/trial/applications', () => admin.token, 'created_at', () => created.applications],
    ];

    it.each(lists)('visits every item of %s exactly once, newest first, for any page sizes', async (path, token, timeField, items) => {
      const expected = [...items()].reverse();
      await fc.assert(
        fc.asyncProperty(pageSizes, async (sizes) => {
          const seen = await walk(path, token(), sizes);
          expect(seen.map((x) => x.id)).toEqual(expected);
          expectNewestFirst(seen, timeField);
        }),
        { numRuns: 100 },
      );
    });

    it('visits every audit event of the account exactly once, newest first, for any page sizes', async () => {
      // The account's own history: its sign-in, then the keys and domains it created, in that order.
      const actions = [...created.keys.map((id) => `key.create ${id}`), ...created.domains.map((id) => `domain.create ${id}`)].reverse();
      await fc.assert(
        fc.asyncProperty(pageSizes, async (sizes) => {
          const seen = await walk<AuditEvent>('/v1/audit', user.token, sizes);
          expect(seen.map((e) => (e.action === 'auth.sign_in' ? e.action : `${e.action} ${e.target}`))).toEqual([
            ...actions,
            'auth.sign_in',
          ]);
          expectNewestFirst(seen, 'at');
        }),
        { numRuns: 100 },
      );
    });

    it('visits every audit event of the service exactly once, newest first, for any page sizes (admin)', async ({ skip }) => {
      if (!h.service) skip(); // needs the database itself (not on the Workers target)
      const all = await h.service!.db.selectFrom('audit_events').select('id').execute();
      const expected = all
        .map((r) => r.id)
        .sort()
        .reverse();
      expect(expected.length).toBeGreaterThan(created.keys.length + created.domains.length + created.applications.length);
      await fc.assert(
        fc.asyncProperty(pageSizes, async (sizes) => {
          const seen = await walk('/v1/admin/audit', admin.token, sizes);
          expect(seen.map((e) => e.id)).toEqual(expected);
          expectNewestFirst(seen, 'at');
        }),
        { numRuns: 100 },
      );
    });
  });
  describe('credit balances', () => {
    let h: Harness;
    let admin: SignedIn;
    beforeAll(async () => {
      h = await target.start();
      admin = await signInAdmin(h);
    });
    afterAll(async () => h.close());

    const MAX = BigInt(Number.MAX_SAFE_INTEGER);
    const amount = fc.oneof(
      fc.integer({ min: -1000, max: 1000 }),
      fc.constantFrom(Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER - 1, 2 ** 52, -(2 ** 52), 1, -1),
      fc.integer({ min: -Number.MAX_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }),
    );
    type Step = { kind: 'delta'; delta: number } | { kind: 'approve'; credits: number };
    const steps = fc
      // A delta of 0 is refused outright (it would turn an unenforced balance into 0): not a step here.
      .tuple(
        fc.array(
          amount.filter((d) => d !== 0),
          { minLength: 1, maxLength: 6 },
        ),
        fc.option(fc.tuple(fc.nat(), fc.nat({ max: Number.MAX_SAFE_INTEGER })), { nil: null }),
      )
      .map(([deltas, approval]): Step[] => {
        const list: Step[] = deltas.map((delta) => ({ kind: 'delta', delta }));
        if (approval) list.splice(approval[0] % (list.length + 1), 0, { kind: 'approve', credits: approval[1] });
        return list;
      });

    it('keeps every balance an exact integer between 0 and 2^53-1 under any sequence of grants and deductions', async () => {
      await fc.assert(
        fc.asyncProperty(steps, async (list) => {
          const u = await signIn(h);
          let balance: bigint | null = null;
          for (const step of list) {
            const before: bigint = balance ?? 0n;
            let res: Response;
            let amountIn: bigint;
            if (step.kind === 'delta') {
              amountIn = BigInt(step.delta);
              res = await post(h, `/v1/admin/accounts/${u.address}/credits`, { delta: step.delta, reason: 'property' }, admin.token);
            } else {
              amountIn = BigInt(step.credits);
              const app = await json<Application>(await post(h, '/v1/trial/applications', { use_case: 'property' }, u.token));
              res = await post(h, `/v1/admin/trial/applications/${app.id}/approve`, { credits: step.credits }, admin.token);
            }
            const after: bigint = before + amountIn;
            const body = await json<Account | Application | ErrorBody>(res);
            const context = `${JSON.stringify(list)} at ${JSON.stringify(step)}: ${res.status} ${JSON.stringify(body)}`;
            if (after >= 0n && after <= MAX) {
              expect(res.status, context).toBe(200);
              balance = after;
            } else {
              // Refused, and nothing changed: below zero is a billing refusal, above 2^53-1 a bad amount.
              expect(res.status, context).toBe(after < 0n ? 409 : 400);
              // Refused (the status above): the body is an error.
              expect((body as ErrorBody).error.param, context).toBe(step.kind === 'delta' ? 'delta' : 'credits');
            }
            const me = await json<Account>(await get(h, '/v1/me', u.token));
            expect(me.credits === null ? null : BigInt(me.credits), context).toBe(balance);
            expect(me.credits === null || Number.isSafeInteger(me.credits), context).toBe(true);
          }
        }),
        { numRuns: 80 },
      );
    });
  });
});
