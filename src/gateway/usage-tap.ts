/** Tokens a response says it used. */
export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
}

export type BodyKind = 'sse' | 'json' | 'other';

/** How the response body is read for usage; anything that is neither JSON nor SSE is only counted. */
export function bodyKind(contentType: string | null): BodyKind {
  const ct = (contentType ?? '').toLowerCase();
  if (ct.startsWith('text/event-stream')) return 'sse';
  if (/^application\/([a-z0-9.+-]*\+)?json\b/.test(ct)) return 'json';
  return 'other';
}

const count = (v: unknown): number | undefined => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined);

/**
 * Reads the OpenAI shapes: Chat Completions / Completions / Embeddings (`usage.prompt_tokens`,
 * `usage.completion_tokens`), the Responses API (`usage.input_tokens`, `usage.output_tokens`, also
 * nested under `response` in its streamed `response.completed` event).
 */
export function usageFrom(value: unknown): TokenUsage | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const obj = value as Record<string, unknown>;
  const u = (obj.usage ??
    (obj.response && typeof obj.response === 'object' ? (obj.response as Record<string, unknown>).usage : undefined)) as
    | Record<string, unknown>
    | null
    | undefined;
  if (!u || typeof u !== 'object') return undefined;
  const input = count(u.prompt_tokens) ?? count(u.input_tokens);
  const output = count(u.completion_tokens) ?? count(u.output_tokens);
  if (input === undefined && output === undefined) return undefined;
  return { inputTokens: input ?? 0, outputTokens: output ?? 0 };
}

/** Finds the last usage block in a JSON text that was too long to keep whole (it is the last key in OpenAI responses). */
function usageFromTail(tail: string): TokenUsage | undefined {
  const at = tail.lastIndexOf('"usage"');
  if (at < 0) return undefined;
  const rest = tail.slice(at);
  const num = (name: string): number | undefined => {
    const m = new RegExp(`"${name}"\\s*:\\s*(\\d{1,15})`).exec(rest);
    return m ? Number(m[1]) : undefined;
  };
  const input = num('prompt_tokens') ?? num('input_tokens');
  const output = num('completion_tokens') ?? num('output_tokens');
  if (input === undefined && output === undefined) return undefined;
  return { inputTokens: input ?? 0, outputTokens: output ?? 0 };
}

/** What the tap learnt once the body ended, was cancelled by the client, or failed. */
export interface TapResult {
  usage: TokenUsage | undefined;
  bytes: number;
  /** false when the client went away or the upstream body failed before its end. */
  complete: boolean;
}

export interface TapOptions {
  kind: BodyKind;
  /** Largest JSON body kept whole for parsing; past it only a tail is searched. */
  maxJsonBytes?: number;
  /** Longest SSE line kept; longer lines (never usage events in practice) are skipped. */
  maxSseLineBytes?: number;
  onDone(result: TapResult): void;
}

/** Reads usage from a body fed to it chunk by chunk (the bytes themselves go elsewhere, untouched). */
export interface UsageReader {
  feed(chunk: Uint8Array): void;
  /** Once: the body ended (`complete`), was cancelled by the client, or failed. */
  finish(complete: boolean): TapResult;
}

export function createUsageReader(opts: Omit<TapOptions, 'onDone'>): UsageReader {
  const decoder = new TextDecoder();
  const maxJson = opts.maxJsonBytes ?? 1024 * 1024;
  const maxLine = opts.maxSseLineBytes ?? 1024 * 1024;
  let bytes = 0;
  let usage: TokenUsage | undefined;
  let result: TapResult | undefined;

  // JSON: the whole text while it fits, else a sliding tail.
  let jsonText = '';
  let jsonOverflow = false;
  const TAIL = 64 * 1024;

  // SSE: the unfinished line and the data lines of the current event.
  let line = '';
  let skippingLine = false;
  let dataLines: string[] = [];
  let endedOnCR = false;

  const dispatchEvent = (): void => {
    const data = dataLines.join('\n');
    dataLines = [];
    if (!data.includes('"usage"')) return;
    try {
      const found = usageFrom(JSON.parse(data));
      if (found) usage = found; // the last event carrying usage wins (the final chunk)
    } catch {
      // not JSON: not ours to judge, it still passed through
    }
  };

  const feedSse = (text: string): void => {
    let start = 0;
    // a \r\n split across two chunks is still one line end
    if (endedOnCR && text.charCodeAt(0) === 10) start = 1;
    endedOnCR = text.length > 0 && text.charCodeAt(text.length - 1) === 13;
    for (let i = start; i < text.length; i++) {
      const ch = text.charCodeAt(i);
      if (ch !== 10 && ch !== 13) continue;
      const piece = text.slice(start, i);
      start = i + 1;
      // \r\n is one line end
      if (ch === 13 && text.charCodeAt(i + 1) === 10) {
        i++;
        start = i + 1;
      }
      const full = skippingLine ? null : line + piece;
      line = '';
      skippingLine = false;
      if (full === null) continue;
      if (full === '') dispatchEvent();
      else if (full.startsWith('data:')) dataLines.push(full.slice(full.charCodeAt(5) === 32 ? 6 : 5));
    }
    if (!skippingLine) {
      line += text.slice(start);
      if (line.length > maxLine) {
        line = '';
        skippingLine = true;
      }
    }
  };

  return {
    feed(chunk) {
      if (result) return;
      bytes += chunk.byteLength;
      if (opts.kind === 'other') return;
      const text = decoder.decode(chunk, { stream: true });
      if (opts.kind === 'sse') feedSse(text);
      else {
        jsonText += text;
        if (jsonText.length > maxJson) {
          jsonOverflow = true;
          jsonText = jsonText.slice(-TAIL);
        }
      }
    },
    finish(complete) {
      if (result) return result;
      if (complete && opts.kind === 'sse') {
        if (line !== '' && !skippingLine && line.startsWith('data:')) dataLines.push(line.slice(line.charCodeAt(5) === 32 ? 6 : 5));
        if (dataLines.length) dispatchEvent();
      }
      if (opts.kind === 'json' && complete) {
        jsonText += decoder.decode();
        if (!jsonOverflow) {
          try {
            usage = usageFrom(JSON.parse(jsonText));
          } catch {
            usage = usageFromTail(jsonText);
          }
        } else {
          usage = usageFromTail(jsonText);
        }
      }
      result = { usage, bytes, complete };
      return result;
    },
  };
}

/**
 * Passes a web body stream through chunk by chunk (each chunk is handed on before it is inspected, and
 * nothing waits for more data), while reading usage on the side. Cancelling the returned stream (the
 * client went away) cancels the upstream body, which closes the upstream connection. (The Node entry
 * reads usage with createUsageReader on the socket's own chunks instead.)
 */
export function tapBody(upstream: ReadableStream<Uint8Array>, opts: TapOptions): ReadableStream<Uint8Array> {
  const reader = upstream.getReader();
  const usage = createUsageReader(opts);
  let done = false;
  const finish = (complete: boolean): void => {
    if (done) return;
    done = true;
    opts.onDone(usage.finish(complete));
  };
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let r: ReadableStreamReadResult<Uint8Array>;
        try {
          r = await reader.read();
        } catch (err) {
          finish(false);
          controller.error(err);
          return;
        }
        if (r.done) {
          finish(true);
          controller.close();
          return;
        }
        controller.enqueue(r.value);
        usage.feed(r.value);
      },
      async cancel(reason) {
        finish(false);
        await reader.cancel(reason).catch(() => undefined);
      },
    },
    { highWaterMark: 0 },
  );
}
