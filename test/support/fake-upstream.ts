import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the fake inference server received, exactly. */
export interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** A streamed answer the fake holds open after its first chunk until the test releases it. */
export interface HeldStream {
  release(): void;
  /** Resolves when the connection to the fake closed; `aborted` if before the answer was finished. */
  closed: Promise<{ aborted: boolean }>;
}

export interface FakeUpstream {
  url: string;
  received: Received[];
  /** Resolves with the next held SSE answer once the fake has sent its first chunk. */
  nextStream(): Promise<HeldStream>;
  close(): Promise<void>;
}

export const CHAT_USAGE = { prompt_tokens: 1200, completion_tokens: 300, total_tokens: 1500 };
export const STREAM_USAGE = { prompt_tokens: 2000, completion_tokens: 1001, total_tokens: 3001 };

export function sseChunk(content: string): string {
  return `data: ${JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content } }] })}\n\n`;
}
export const SSE_USAGE_CHUNK = `data: ${JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', choices: [], usage: STREAM_USAGE })}\n\n`;

/**
 * A real HTTP server standing in for an OpenAI-compatible node (llama.cpp, vLLM): it records every
 * request and answers JSON, held-open SSE, echoes, or a chosen error status (/status/NNN).
 */
export async function startFakeUpstream(): Promise<FakeUpstream> {
  const received: Received[] = [];
  const ready: HeldStream[] = [];
  const waiting: ((s: HeldStream) => void)[] = [];
  const offer = (s: HeldStream): void => {
    const w = waiting.shift();
    if (w) w(s);
    else ready.push(s);
  };

  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    try {
      for await (const c of req) chunks.push(c as Buffer);
    } catch {
      return; // the sender cut the body off: no complete request arrived, none is recorded
    }
    const body = Buffer.concat(chunks);
    received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
    const path = new URL(req.url ?? '/', 'http://upstream').pathname;

    const status = /^\/status\/(\d{3})$/.exec(path);
    if (status) {
      const code = Number(status[1]);
      res.writeHead(code, {
        'content-type': 'application/json',
        'x-upstream-header': 'kept',
        ...(code === 429 ? { 'retry-after': '7' } : {}),
      });
      res.end(JSON.stringify({ error: { message: `upstream says ${code}`, type: 'upstream_error', code: `e${code}` } }));
      return;
    }
    if (path === '/v1/models') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ object: 'list', data: [{ id: 'llama-3-8b', object: 'model' }] }));
      return;
    }
    if (path === '/v1/big') {
      // A JSON answer longer than the gateway holds whole (1 MiB), written in pieces, usage last.
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(`{"object":"list","data":"`);
      for (let i = 0; i < 24; i++) res.write('x'.repeat(64 * 1024));
      res.end(`","usage":${JSON.stringify(CHAT_USAGE)}}`);
      return;
    }
    if (path === '/echo') {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(body);
      return;
    }
    if (path === '/v1/chat/completions') {
      const parsed = JSON.parse(body.toString('utf8')) as { model?: string; stream?: boolean };
      if (!parsed.stream) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            id: 'chatcmpl-1',
            object: 'chat.completion',
            model: parsed.model,
            choices: [{ index: 0, message: { role: 'assistant', content: 'Hello' }, finish_reason: 'stop' }],
            usage: CHAT_USAGE,
          }),
        );
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.write(sseChunk('Hel'));
      let release!: () => void;
      const released = new Promise<void>((r) => (release = r));
      const closed = new Promise<{ aborted: boolean }>((r) => res.once('close', () => r({ aborted: !res.writableFinished })));
      offer({ release, closed });
      await Promise.race([released, closed]);
      if (res.destroyed) return;
      res.write(sseChunk('lo'));
      res.write(SSE_USAGE_CHUNK);
      res.end('data: [DONE]\n\n');
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { message: 'no such route', type: 'invalid_request_error' } }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    nextStream: () => {
      const s = ready.shift();
      return s ? Promise.resolve(s) : new Promise((r) => waiting.push(r));
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export interface ServiceProxy {
  url: string;
  /** 'down' refuses every connection, as an unreachable key service would. */
  mode: 'pass' | 'down';
  /** The next N usage reports (POST /v1/usage or /v1/usage/batch) reach the service but their answers are lost (connection cut). */
  loseUsageAnswers: number;
  usagePosts: number;
  /** POSTs to /v1/usage/batch and to /v1/usage, counted apart. */
  batchPosts: number;
  singlePosts: number;
  /** false: answers 404 to /v1/usage/batch, as a service older than the batch route would. */
  batchRoute: boolean;
  close(): Promise<void>;
}

/** A pass-through in front of the real key service that can lose answers or go down. */
export async function startServiceProxy(target: string): Promise<ServiceProxy> {
  const state: ServiceProxy = {
    url: '',
    mode: 'pass',
    loseUsageAnswers: 0,
    usagePosts: 0,
    batchPosts: 0,
    singlePosts: 0,
    batchRoute: true,
    close: async () => undefined,
  };
  const server = createServer(async (req, res) => {
    if (state.mode === 'down') {
      req.socket.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (req.method === 'POST' && req.url === '/v1/usage/batch' && !state.batchRoute) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'not_found', message: 'Not found.', type: 'not_found_error', request_id: 'r' } }));
      return;
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers))
      if (typeof v === 'string' && k !== 'host' && k !== 'connection' && k !== 'content-length') headers[k] = v;
    const answer = await fetch(`${target}${req.url}`, {
      method: req.method,
      headers,
      body: req.method === 'GET' ? undefined : Buffer.concat(chunks),
    });
    const text = await answer.text();
    if (req.method === 'POST' && (req.url === '/v1/usage' || req.url === '/v1/usage/batch')) {
      state.usagePosts++;
      if (req.url === '/v1/usage') state.singlePosts++;
      else state.batchPosts++;
      if (state.loseUsageAnswers > 0) {
        state.loseUsageAnswers--;
        req.socket.destroy(); // the service stored it; the gateway never hears so
        return;
      }
    }
    res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' });
    res.end(text);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  state.url = `http://127.0.0.1:${port}`;
  state.close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return state;
}

/** A port nothing listens on. */
export async function closedPortUrl(): Promise<string> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return `http://127.0.0.1:${port}`;
}
