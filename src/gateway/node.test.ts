import { describe, expect, it } from 'vitest';
import { bufferedLineWriter } from './node.js';

describe('bufferedLineWriter', () => {
  it('writes the lines of one turn of the event loop together, in order, and flushes on demand', async () => {
    const writes: string[] = [];
    const w = bufferedLineWriter((t) => writes.push(t));
    w.line('a');
    w.line('b');
    expect(writes).toEqual([]);
    await new Promise((r) => setImmediate(r));
    expect(writes).toEqual(['a\nb\n']);
    w.line('c');
    w.flush();
    expect(writes).toEqual(['a\nb\n', 'c\n']);
    await new Promise((r) => setImmediate(r));
    expect(writes).toHaveLength(2);
  });

  it('writes at once when many lines are waiting', () => {
    const writes: string[] = [];
    const w = bufferedLineWriter((t) => writes.push(t));
    for (let i = 0; i < 256; i++) w.line(String(i));
    expect(writes).toHaveLength(1);
    expect(writes[0].split('\n')).toHaveLength(257);
  });
});
