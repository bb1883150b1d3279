import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';
import { bufferedLines } from './node-log.js';

describe('batched log lines', () => {
  it('writes the lines of one turn in one write, in order, as JSON lines with secrets masked', async () => {
    const writes: string[] = [];
    const sink = bufferedLines({ write: (s: string) => writes.push(s) });
    const log = createLogger('info', sink.write);
    log.info('one', { path: '/v1/x?key=sk_net_0123456789abcdefghijklmnopqrstuvwxyzAB' });
    log.info('two');
    log.debug('not at info');
    expect(writes).toEqual([]);
    await new Promise((r) => setImmediate(r));
    expect(writes).toHaveLength(1);
    const lines = writes[0]
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { msg: string; path?: string });
    expect(lines.map((l) => l.msg)).toEqual(['one', 'two']);
    expect(lines[0].path).toBe('/v1/x?key=sk_net_[redacted]');
    expect(writes[0]).not.toContain('0123456789abcdef');
  });

  it('flushes pending lines on demand (shutdown) and when the batch is large', () => {
    const writes: string[] = [];
    const sink = bufferedLines({ write: (s: string) => writes.push(s) }, 100);
    sink.write('a');
    sink.flush();
    expect(writes).toEqual(['a\n']);
    sink.write('x'.repeat(120));
    expect(writes).toHaveLength(2);
  });
});
