import busboy from 'busboy';

/** Longest model name the gateway passes on (the key service's bound). */
export const MAX_MODEL_LENGTH = 128;

/** Bodies small enough to be requests we read whole for `model`; media uploads stream untouched. */
export function requestBodyKind(contentType: string | undefined): 'buffer' | 'multipart' | 'stream' {
  const ct = (contentType ?? '').toLowerCase();
  if (ct.startsWith('multipart/form-data')) return 'multipart';
  // Content types an inference server might still parse as JSON, so `model` must be read from them too.
  if (ct === '' || ct.includes('json') || ct.startsWith('text/plain') || ct.startsWith('application/x-www-form-urlencoded'))
    return 'buffer';
  return 'stream';
}

export const isJsonType = (contentType: string | undefined): boolean => /json/i.test(contentType ?? '');

/**
 * The first of `names` that is a key of the top-level object more than once, in a text JSON.parse
 * accepted. Parsers disagree on duplicates (JSON.parse and Python keep the last, others the first), so
 * the gateway must not check one `model` while the inference server uses another. Keys are compared
 * after unescaping: `"mod\u0065l"` is `model`.
 */
export function duplicateTopLevelKey(text: string, names: readonly string[]): string | undefined {
  // Fast path: without escapes, a duplicate needs the quoted name at least twice.
  if (!text.includes('\\') && names.every((n) => text.indexOf(`"${n}"`) === text.lastIndexOf(`"${n}"`))) return undefined;
  const seen = new Set<string>();
  let depth = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 34) {
      const start = i;
      let escaped = false;
      for (i++; i < n; i++) {
        const d = text.charCodeAt(i);
        if (d === 92) {
          escaped = true;
          i++;
        } else if (d === 34) break;
      }
      if (depth !== 1) continue;
      let j = i + 1;
      while (j < n && (text.charCodeAt(j) === 32 || text.charCodeAt(j) === 9 || text.charCodeAt(j) === 10 || text.charCodeAt(j) === 13))
        j++;
      if (text.charCodeAt(j) !== 58) continue; // a value, not a key
      const key = escaped ? (JSON.parse(text.slice(start, i + 1)) as string) : text.slice(start + 1, i);
      if (!names.includes(key)) continue;
      if (seen.has(key)) return key;
      seen.add(key);
    } else if (c === 123 || c === 91) depth++;
    else if (c === 125 || c === 93) depth--;
  }
  return undefined;
}

/** What the gateway learnt from a JSON-ish request body, or why it refuses it. */
export type JsonRequest =
  | { ok: true; model: string | undefined; stream: boolean; body: Uint8Array }
  | { ok: false; message: string; param: string };

/**
 * Reads `model` and `stream` from a JSON body the way an inference server would, refusing what could
 * make the gateway and the server read it differently; with `includeStreamUsage`, asks a streaming
 * request for its usage. Bodies that are not JSON pass unchanged (only a JSON content type must parse).
 */
export function inspectJsonRequest(bytes: Uint8Array, contentType: string | undefined, includeStreamUsage: boolean): JsonRequest {
  if (bytes.byteLength === 0) return { ok: true, model: undefined, stream: false, body: bytes };
  const text = new TextDecoder().decode(bytes);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    if (isJsonType(contentType)) return { ok: false, message: 'The request body is not valid JSON.', param: 'body' };
    return { ok: true, model: undefined, stream: false, body: bytes };
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return { ok: true, model: undefined, stream: false, body: bytes };
  const obj = parsed as Record<string, unknown>;
  const dup = duplicateTopLevelKey(text, ['model', 'stream']);
  if (dup) return { ok: false, message: `The request body has "${dup}" more than once.`, param: dup };
  let model: string | undefined;
  if (typeof obj.model === 'string' && obj.model !== '') model = obj.model;
  if (model !== undefined && model.length > MAX_MODEL_LENGTH)
    return { ok: false, message: 'The model name is longer than 128 characters.', param: 'model' };
  // Servers disagree on "true", 1 or "yes" (some stream, some do not): only a boolean (or null) is taken.
  if (obj.stream !== undefined && obj.stream !== null && typeof obj.stream !== 'boolean') {
    return { ok: false, message: '"stream" must be true or false.', param: 'stream' };
  }
  const stream = obj.stream === true;
  let body = bytes;
  if (includeStreamUsage && stream) {
    const so = obj.stream_options;
    if (!(so && typeof so === 'object' && (so as Record<string, unknown>).include_usage === true)) {
      obj.stream_options = { ...(so && typeof so === 'object' ? so : {}), include_usage: true };
      body = new TextEncoder().encode(JSON.stringify(obj));
    }
  }
  return { ok: true, model, stream, body };
}

export const MULTIPART_MALFORMED = 'The multipart body is malformed.';

/** Watches a multipart/form-data body, as it passes, for its `model` field. */
export interface MultipartInspector {
  /** The first `model` field's value, once parsed (undefined if unusable or not seen yet). */
  model(): string | undefined;
  /** Why the body must be refused (a second `model` part, a file part named `model`, a broken body), once seen. */
  refusal(): string | undefined;
  /** Parses one chunk; resolves once it has been parsed, so a refusal is known before the chunk is forwarded. */
  write(chunk: Uint8Array): Promise<void>;
  /** The body ended: resolves once the parser has seen the end. */
  end(): Promise<void>;
}

/**
 * A real multipart parser (busboy), with the field names compared exactly (case-sensitive), as the
 * inference servers' own parsers do.
 */
export function inspectMultipart(contentType: string): MultipartInspector | { error: string } {
  let bb: busboy.Busboy;
  try {
    bb = busboy({ headers: { 'content-type': contentType }, limits: { fieldSize: 64 * 1024 }, defParamCharset: 'utf8' });
  } catch {
    return { error: 'The multipart body has no usable boundary.' };
  }
  let model: string | undefined;
  let models = 0;
  let refusal: string | undefined;
  bb.on('field', (name, value, info) => {
    if (name !== 'model') return;
    models++;
    if (models > 1) refusal = 'The multipart body has more than one "model" part.';
    else if (!info.valueTruncated && value !== '' && value.length <= MAX_MODEL_LENGTH) model = value;
  });
  bb.on('file', (name, stream) => {
    // A body cut off inside a file part errors that part's stream too: it must not go unhandled.
    stream.on('error', () => {
      refusal ??= MULTIPART_MALFORMED;
    });
    stream.resume();
    if (name === 'model') refusal = 'The multipart body has a file part named "model".';
  });
  bb.on('error', () => {
    refusal ??= MULTIPART_MALFORMED;
  });
  let closed = false;
  bb.on('close', () => (closed = true));
  return {
    model: () => (refusal ? undefined : model),
    refusal: () => refusal,
    write: (chunk) =>
      new Promise<void>((resolve) => {
        if (refusal || closed) return resolve();
        bb.write(chunk, () => resolve());
      }),
    end: () =>
      new Promise<void>((resolve) => {
        if (refusal || closed) return resolve();
        bb.once('close', () => resolve());
        bb.once('error', () => resolve());
        bb.end();
      }),
  };
}
