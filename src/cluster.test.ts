import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { parseWorkers, WorkersError } from './cluster.js';

describe('parseWorkers', () => {
  it('defaults to one process', () => {
    expect(parseWorkers(undefined, 'WORKERS')).toBe(1);
    expect(parseWorkers('', 'WORKERS')).toBe(1);
  });

  it('takes a count, and "auto" as one per core', () => {
    expect(parseWorkers('3', 'WORKERS')).toBe(3);
    expect(parseWorkers('auto', 'WORKERS')).toBe(availableParallelism());
  });

  it('refuses anything else, naming the setting', () => {
    for (const bad of ['0', '-2', '2.5', 'all', '1e2', '257', ' 2']) {
      expect(() => parseWorkers(bad, '--workers / WORKERS')).toThrow(WorkersError);
    }
    expect(() => parseWorkers('x', '--workers / WORKERS')).toThrow(/^invalid configuration: --workers \/ WORKERS: /);
  });
});
