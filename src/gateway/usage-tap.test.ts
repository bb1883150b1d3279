import { describe, expect, it } from 'vitest';
import { stripKeyParam, retryAfterSeconds } from './gateway.js';
import { tapBody, type BodyKind, type TapResult } from './usage-tap.js';

const enc = new TextEncoder();

async function run(kind: BodyKind, parts: string[], opts: { maxJsonBytes?: number } = {}): Promise<{ out: string; result: TapResult }> {
  let result: TapResult | undefined;
  const source = new ReadableStream<Uint8Array>({
    start(c) {
      for (const p of parts) c.enqueue(enc.encode(p));
      c.close();
    },
  });
  const tapped = tapBody(source, { kind, ...opts, onDone: (r) => (result = r) });
  const out = await new Response(tapped).text();
  return { out, result: result as TapResult };
}

describe('usage tap', () => {
  it('passes the bytes through unchanged and reads usage from the final SSE chunk', async () => {
    const parts = [
      'data: {"choices":[{"delta":{"content":"Hel"}}],"usage":null}\n\n',
      'data: {"choices":[{"delta":{"content":"lo"}}]}\r',
      '\n\r\ndata: {"choices":[],"usage":{"prompt_tokens":7,',
      '"completion_tokens":2,"total_tokens":9}}\n\ndata: [DONE]\n\n',
    ];
    const { out, result } = await run('sse', parts);
    expect(out).toBe(parts.join(''));
    expect(result).toEqual({ usage: { inputTokens: 7, outputTokens: 2 }, bytes: enc.encode(parts.join('')).byteLength, complete: true });
  });

  it('reads the Responses API usage nested in response.completed', async () => {
    const { result } = await run('sse', [
      'event: response.completed\ndata: {"response":{"usage":{"input_tokens":3,"output_tokens":4}}}\n\n',
    ]);
    expect(result.usage).toEqual({ inputTokens: 3, outputTokens: 4 });
  });

  it('reads usage from a JSON body split across chunks, and from the tail of one too long to keep', async () => {
    const body = JSON.stringify({
      id: 'x',
      data: 'y'.repeat(5000),
      usage: { prompt_tokens: 11, completion_tokens: 5, prompt_tokens_details: { cached_tokens: 1 } },
    });
    const split = [body.slice(0, 10), body.slice(10, 4000), body.slice(4000)];
    expect((await run('json', split)).result.usage).toEqual({ inputTokens: 11, outputTokens: 5 });
    expect((await run('json', split, { maxJsonBytes: 1000 })).result.usage).toEqual({ inputTokens: 11, outputTokens: 5 });
  });

  it('reports no usage when the body has none', async () => {
    expect((await run('json', ['{"object":"list","data":[]}'])).result.usage).toBeUndefined();
    expect((await run('other', ['usage: "prompt_tokens": 5'])).result.usage).toBeUndefined();
  });

  it('tells a cancelled body from a complete one and cancels the source', async () => {
    let cancelled: unknown;
    let result: TapResult | undefined;
    const source = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(enc.encode('data: 1\n\n'));
      },
      cancel(reason) {
        cancelled = reason ?? 'cancelled';
      },
    });
    const reader = tapBody(source, { kind: 'sse', onDone: (r) => (result = r) }).getReader();
    await reader.read();
    await reader.cancel('client left');
    expect(cancelled).toBe('client left');
    expect(result?.complete).toBe(false);
  });
});

describe('query key stripping', () => {
  it('removes every key parameter and keeps the rest byte for byte', () => {
    expect(stripKeyParam('?key=sk_net_abc&api-version=2024-01%2B1&q=a+b')).toEqual({
      query: '?api-version=2024-01%2B1&q=a+b',
      key: 'sk_net_abc',
    });
    expect(stripKeyParam('?k%65y=sk_x&key=sk_y')).toEqual({ query: '', key: 'sk_x' });
    expect(stripKeyParam('?keys=1&monkey=2')).toEqual({ query: '?keys=1&monkey=2', key: undefined });
    expect(stripKeyParam('')).toEqual({ query: '', key: undefined });
  });
});

describe('Retry-After from the rate-limit reset', () => {
  const now = Date.parse('2026-01-15T12:00:00.000Z');
  it('accepts epoch milliseconds, epoch seconds, seconds from now and RFC 3339', () => {
    expect(retryAfterSeconds({ limit: 1, remaining: 0, reset: now + 12_300 }, now)).toBe(13);
    expect(retryAfterSeconds({ limit: 1, remaining: 0, reset: now / 1000 + 30 }, now)).toBe(30);
    expect(retryAfterSeconds({ limit: 1, remaining: 0, reset: 7 }, now)).toBe(7);
    expect(retryAfterSeconds({ limit: 1, remaining: 0, reset: '2026-01-15T12:00:45.000Z' }, now)).toBe(45);
  });
  it('never says less than one second, and a minute when the reset is unknown', () => {
    expect(retryAfterSeconds({ limit: 1, remaining: 0, reset: now - 5000 }, now)).toBe(1);
    expect(retryAfterSeconds(undefined, now)).toBe(60);
  });
});
