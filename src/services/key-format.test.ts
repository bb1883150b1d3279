import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BASE62 } from '../ids.js';
import { crc32, generateSecret, hashSecret, parseSecret, secretHint } from './key-format.js';

describe('key format', () => {
  it('generates {prefix}_{kind}_{random}{checksum} that parses back', () => {
    const s = generateSecret('sk', 'net');
    expect(s).toMatch(/^sk_net_[0-9A-Za-z]{34}$/);
    expect(parseSecret(s)).toEqual({ prefix: 'sk', kind: 'net' });
    expect(parseSecret(generateSecret('acme', 'dev'))).toEqual({ prefix: 'acme', kind: 'dev' });
  });

  it('computes the standard CRC-32', () => {
    expect(crc32('123456789')).toBe(0xcbf43926);
  });

  it('never repeats a secret', () => {
    const seen = new Set(Array.from({ length: 2000 }, () => generateSecret('sk', 'dev')));
    expect(seen.size).toBe(2000);
  });

  it('refuses every single-character change to a key (property)', () => {
    const alphabet = `${BASE62}_-`;
    fc.assert(
      fc.property(fc.constantFrom<'dev' | 'net' | 'dom'>('dev', 'net', 'dom'), fc.nat(), fc.nat(alphabet.length - 1), (kind, pos, ch) => {
        const s = generateSecret('sk', kind);
        const i = pos % s.length;
        const replacement = alphabet[ch];
        fc.pre(replacement !== s[i]);
        const mutated = s.slice(0, i) + replacement + s.slice(i + 1);
        expect(parseSecret(mutated)).toBeNull();
      }),
      { numRuns: 5000 },
    );
  });

  it('refuses truncated, extended and swapped-type keys', () => {
    const s = generateSecret('sk', 'net');
    expect(parseSecret(s.slice(0, -1))).toBeNull();
    expect(parseSecret(`${s}a`)).toBeNull();
    expect(parseSecret(s.replace('_net_', '_dev_'))).toBeNull();
    expect(parseSecret('')).toBeNull();
    expect(parseSecret('x'.repeat(10_000))).toBeNull();
  });

  it('hints show only the type and the last four characters', () => {
    const s = generateSecret('sk', 'net');
    const hint = secretHint(s);
    expect(hint).toBe(`sk_net_…${s.slice(-4)}`);
    expect(hint).not.toContain(s.slice(7, 30));
  });

  it('hashes with SHA-256', async () => {
    expect(hashSecret('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});
