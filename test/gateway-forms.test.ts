import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { startNodeServer, type NodeService } from '../src/node.js';
import { startFakeUpstream, type FakeUpstream } from './support/fake-upstream.js';
import { createDomain, createKey } from './support/fixtures.js';
import { json, signIn, TEST_ORIGIN, type Harness } from './support/harness.js';
import type { ErrorBody } from './support/responses.js';

// Issue 12.3: the gateway must read `model` (and `stream`) exactly as the inference server will, or
// refuse. Every attack goes through the real gateway process (`siwe-keys gateway`, as operators run it)
// with the real key service, against a real HTTP server standing in for the inference server.

let dir: string;
let service: NodeService;
let upstream: FakeUpstream;
let child: ChildProcess;
let gw: string;
let restricted: string; // a key limited to llama-3-8b
let stderr = '';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'siwe-keys-gw-forms-'));
  service = await startNodeServer(
    loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      PUBLIC_URL: TEST_ORIGIN,
      DATABASE_URL: `file:${join(dir, 'keys.db')}`,
      LOG_LEVEL: 'silent',
      NONCE_RATE_LIMIT: '0',
      SIGNIN_RATE_LIMIT: '0',
    }),
    { logger: createLogger('silent') },
  );
  const base = service.url as string;
  const h: Harness = {
    name: 'http',
    logs: [],
    service,
    request: (path, init) => fetch(new URL(path, base), init),
    close: () => service.close(),
  } as Harness;
  const user = await signIn(h);
  const domain = await createDomain(h, user.token, 'forms-node.example.org');
  restricted = (await createKey(h, user.token, { name: 'only-llama', models: ['llama-3-8b'] })).key;
  upstream = await startFakeUpstream();
  child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/cli.ts', 'gateway', '--port', '0', '--host', '127.0.0.1', '--include-stream-usage'],
    {
      env: { PATH: process.env.PATH, GATEWAY_SERVICE_URL: base, GATEWAY_UPSTREAM: upstream.url, GATEWAY_DOMAIN_TOKEN: domain.token },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  gw = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`gateway exited ${code}: ${stderr}`)));
  });
}, 60_000);

afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
  await upstream?.close();
  await service?.close();
  rmSync(dir, { recursive: true, force: true });
});

const CRLF = '\r\n';
const BOUNDARY = '----attack7d3f';

/** A multipart body written by hand, so the parts are exactly what the attack needs. */
function multipart(parts: { name: string; value: string | Uint8Array; filename?: string }[]): Uint8Array<ArrayBuffer> {
  const chunks: Uint8Array[] = [];
  const enc = new TextEncoder();
  for (const p of parts) {
    const disp = `form-data; name="${p.name}"${p.filename ? `; filename="${p.filename}"` : ''}`;
    const type = p.filename ? `${CRLF}Content-Type: application/octet-stream` : '';
    chunks.push(enc.encode(`--${BOUNDARY}${CRLF}Content-Disposition: ${disp}${type}${CRLF}${CRLF}`));
    chunks.push(typeof p.value === 'string' ? enc.encode(p.value) : p.value);
    chunks.push(enc.encode(CRLF));
  }
  chunks.push(enc.encode(`--${BOUNDARY}--${CRLF}`));
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

function postForm(body: Uint8Array<ArrayBuffer>, key = restricted): Promise<Response> {
  return fetch(`${gw}/v1/audio/transcriptions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
    body,
  });
}

function postJson(text: string, key = restricted): Promise<Response> {
  return fetch(`${gw}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: text,
  });
}

/** The answer is the refusal, and the inference server received nothing at all. */
async function expectRefusedUnforwarded(send: () => Promise<Response>, status: number, code: string, param?: string): Promise<void> {
  const before = upstream.received.length;
  const res = await send();
  expect(res.status).toBe(status);
  const body = await json<ErrorBody>(res);
  expect(body.error.code).toBe(code);
  if (param) expect(body.error.param).toBe(param);
  expect(upstream.received.length).toBe(before);
}

const audio = new Uint8Array(2000).map((_, i) => i % 251);

describe('gateway: multipart model, as upstream servers read it', () => {
  it('a form with model first or after the file passes, forwarded byte for byte', async () => {
    for (const parts of [
      [
        { name: 'model', value: 'llama-3-8b' },
        { name: 'file', value: audio, filename: 'a.wav' },
      ],
      [
        { name: 'file', value: audio, filename: 'a.wav' },
        { name: 'language', value: 'en' },
        { name: 'model', value: 'llama-3-8b' },
      ],
    ]) {
      const body = multipart(parts);
      const before = upstream.received.length;
      const res = await postForm(body);
      expect(res.status).toBe(404); // the fake has no such route; what matters is that it got the body
      expect(new Uint8Array(upstream.received[before].body)).toEqual(body);
    }
  });

  it('attack: name="MODEL" (allowed) then name="model" (not allowed): the case-sensitive "model" is checked and refused', async () => {
    const body = multipart([
      { name: 'MODEL', value: 'llama-3-8b' },
      { name: 'model', value: 'gpt-4o' },
      { name: 'file', value: audio, filename: 'a.wav' },
    ]);
    await expectRefusedUnforwarded(() => postForm(body), 403, 'model_not_allowed');
  });

  it('attack: only name="Model" (not a model field upstream): the model is unreadable, so a restricted key is refused', async () => {
    const body = multipart([
      { name: 'Model', value: 'llama-3-8b' },
      { name: 'file', value: audio, filename: 'a.wav' },
    ]);
    await expectRefusedUnforwarded(() => postForm(body), 403, 'model_not_allowed');
  });

  it('attack: two "model" parts (allowed, then not allowed) -> 400, nothing forwarded', async () => {
    const body = multipart([
      { name: 'model', value: 'llama-3-8b' },
      { name: 'file', value: audio, filename: 'a.wav' },
      { name: 'model', value: 'gpt-4o' },
    ]);
    await expectRefusedUnforwarded(() => postForm(body), 400, 'invalid_request', 'model');
  });

  it('attack: a file part named "model" -> 400, nothing forwarded', async () => {
    const body = multipart([
      { name: 'model', value: new TextEncoder().encode('llama-3-8b'), filename: 'model.txt' },
      { name: 'file', value: audio, filename: 'a.wav' },
    ]);
    await expectRefusedUnforwarded(() => postForm(body), 400, 'invalid_request', 'model');
    // also after a field named model
    const second = multipart([
      { name: 'model', value: 'llama-3-8b' },
      { name: 'model', value: new TextEncoder().encode('gpt-4o'), filename: 'm.txt' },
    ]);
    await expectRefusedUnforwarded(() => postForm(second), 400, 'invalid_request', 'model');
  });

  it('attack: a second "model" part far into a large upload (after forwarding began) -> 400, and the server never gets a whole body', async () => {
    const big = new Uint8Array(400_000).map((_, i) => (i * 13) % 256);
    const body = multipart([
      { name: 'model', value: 'llama-3-8b' },
      { name: 'file', value: big, filename: 'long.wav' },
      { name: 'model', value: 'gpt-4o' },
    ]);
    await expectRefusedUnforwarded(() => postForm(body), 400, 'invalid_request', 'model');
  });

  it('a truncated form (no closing boundary) -> 400 about the body, nothing forwarded', async () => {
    const whole = multipart([
      { name: 'model', value: 'llama-3-8b' },
      { name: 'file', value: audio, filename: 'a.wav' },
    ]);
    await expectRefusedUnforwarded(() => postForm(whole.slice(0, whole.length - 30)), 400, 'invalid_request', 'body');
  });

  it('a large form cut off after forwarding began passes as it is (the server judges it), and the gateway stays up', async () => {
    const whole = multipart([
      { name: 'model', value: 'llama-3-8b' },
      { name: 'file', value: new Uint8Array(200_000), filename: 'a.wav' },
    ]);
    const cut = whole.slice(0, whole.length - 30);
    const before = upstream.received.length;
    const res = await postForm(cut);
    expect(res.status).toBe(404); // the fake's answer: it received the body
    expect(new Uint8Array(upstream.received[before].body)).toEqual(cut);
    expect((await fetch(`${gw}/healthz`)).status).toBe(200);
  });

  it('a form with no boundary -> 400', async () => {
    const before = upstream.received.length;
    const res = await fetch(`${gw}/v1/audio/transcriptions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${restricted}`, 'content-type': 'multipart/form-data' },
      body: 'x',
    });
    expect(res.status).toBe(400);
    expect((await json<ErrorBody>(res)).error.code).toBe('invalid_request');
    expect(upstream.received.length).toBe(before);
  });
});

describe('gateway: JSON model and stream, as upstream servers read them', () => {
  const messages = '[{"role":"user","content":"hi"}]';

  it('attack: duplicate "model" keys (allowed first, the server would take the last) -> 400, nothing forwarded', async () => {
    await expectRefusedUnforwarded(
      () => postJson(`{"model":"llama-3-8b","messages":${messages},"model":"gpt-4o"}`),
      400,
      'invalid_request',
      'model',
    );
    // the reverse order too (servers that keep the first)
    await expectRefusedUnforwarded(
      () => postJson(`{"model":"gpt-4o","messages":${messages},"model":"llama-3-8b"}`),
      400,
      'invalid_request',
      'model',
    );
  });

  it('attack: a duplicate "model" spelled with an escape ("mod\\u0065l") -> 400', async () => {
    await expectRefusedUnforwarded(
      () => postJson(`{"model":"llama-3-8b","messages":${messages},"mod\\u0065l":"gpt-4o"}`),
      400,
      'invalid_request',
      'model',
    );
  });

  it('attack: duplicate "stream" keys (false for the gateway, true for the server) -> 400', async () => {
    await expectRefusedUnforwarded(
      () => postJson(`{"model":"llama-3-8b","stream":false,"messages":${messages},"stream":true}`),
      400,
      'invalid_request',
      'stream',
    );
  });

  it('attack: "stream": "true" or 1 (a server that coerces would stream unmetered) -> 400 with --include-stream-usage', async () => {
    for (const v of ['"true"', '1', '"yes"', '{}']) {
      await expectRefusedUnforwarded(
        () => postJson(`{"model":"llama-3-8b","stream":${v},"messages":${messages}}`),
        400,
        'invalid_request',
        'stream',
      );
    }
  });

  it('keeps what is not an attack: "model" inside nested objects, "stream": null, and "stream": true gets include_usage', async () => {
    let before = upstream.received.length;
    const nested = `{"model":"llama-3-8b","messages":[{"role":"user","content":"hi","model":"x"}],"metadata":{"model":"y","stream":"z"},"stream":null}`;
    const res = await postJson(nested);
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    expect(upstream.received[before].body.toString('utf8')).toBe(nested);

    before = upstream.received.length;
    const streamed = await postJson(`{"model":"llama-3-8b","stream":true,"messages":${messages}}`);
    expect(streamed.status).toBe(200);
    const held = await upstream.nextStream();
    held.release();
    await streamed.text();
    expect(JSON.parse(upstream.received[before].body.toString('utf8')).stream_options).toEqual({ include_usage: true });
  });

  it('nothing leaked into the gateway log', () => {
    expect(stderr).not.toContain(restricted);
  });
});
