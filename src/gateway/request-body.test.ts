import { describe, expect, it } from 'vitest';
import { duplicateTopLevelKey, inspectJsonRequest } from './request-body.js';

const NAMES = ['model', 'stream'] as const;

describe('duplicateTopLevelKey', () => {
  it('finds a top-level key given twice, also spelled with escapes', () => {
    expect(duplicateTopLevelKey('{"model":"a","x":1,"model":"b"}', NAMES)).toBe('model');
    expect(duplicateTopLevelKey('{"model":"a","mod\\u0065l":"b"}', NAMES)).toBe('model');
    expect(duplicateTopLevelKey('{ "stream" : false , "stream":true }', NAMES)).toBe('stream');
  });

  it('ignores nested objects, values that look like keys, and other names', () => {
    expect(duplicateTopLevelKey('{"model":"a","messages":[{"model":"b"}],"meta":{"model":"c","stream":1}}', NAMES)).toBeUndefined();
    expect(duplicateTopLevelKey('{"a":"\\"model\\":1,{","model":"x","b":"model"}', NAMES)).toBeUndefined();
    expect(duplicateTopLevelKey('{"a":"}","model":"x","c":"{\\"model\\":2}"}', NAMES)).toBeUndefined();
    expect(duplicateTopLevelKey('{"temperature":1,"temperature":2}', NAMES)).toBeUndefined();
  });
});

describe('inspectJsonRequest', () => {
  const bytes = (t: string): Uint8Array => new TextEncoder().encode(t);
  it('reads model and stream, and refuses what servers could read differently', () => {
    expect(inspectJsonRequest(bytes('{"model":"m","stream":true}'), 'application/json', false)).toMatchObject({
      ok: true,
      model: 'm',
      stream: true,
    });
    expect(inspectJsonRequest(bytes('{"model":"m","stream":null}'), 'application/json', false)).toMatchObject({ ok: true, stream: false });
    expect(inspectJsonRequest(bytes('{"model":"m","stream":"true"}'), 'application/json', false)).toMatchObject({
      ok: false,
      param: 'stream',
    });
    expect(inspectJsonRequest(bytes('{"model":"m","model":"n"}'), 'application/json', false)).toMatchObject({ ok: false, param: 'model' });
    expect(inspectJsonRequest(bytes('{"model":'), 'application/json', false)).toMatchObject({ ok: false, param: 'body' });
    expect(inspectJsonRequest(bytes('not json'), 'text/plain', false)).toMatchObject({ ok: true, model: undefined });
  });

  it('asks a streaming request for its usage only when configured to', () => {
    const r = inspectJsonRequest(bytes('{"model":"m","stream":true,"stream_options":{"x":1}}'), 'application/json', true);
    expect(r.ok && JSON.parse(new TextDecoder().decode(r.body)).stream_options).toEqual({ x: 1, include_usage: true });
    const same = bytes('{"model":"m","stream":true}');
    expect(inspectJsonRequest(same, 'application/json', false)).toMatchObject({ ok: true, body: same });
  });
});
