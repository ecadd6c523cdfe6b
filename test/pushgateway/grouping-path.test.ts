import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { base64Url, groupingPath } from '../../src/pushgateway/grouping-path.js';

describe('groupingPath', () => {
  it('percent-encodes plain values and keeps the label order given', () => {
    expect(groupingPath('nightly', [])).toBe('/metrics/job/nightly');
    expect(
      groupingPath('nightly', [
        ['zone', 'eu west'],
        ['instance', 'db-1'],
        ['pct', '100%'],
      ]),
    ).toBe('/metrics/job/nightly/zone/eu%20west/instance/db-1/pct/100%25');
  });

  it("uses the gateway's base64 form for /, the empty value (a single =) and dot segments, the job's too", () => {
    expect(groupingPath('backup', [['path', '/var/tmp']])).toBe(
      '/metrics/job/backup/path@base64/L3Zhci90bXA',
    );
    expect(groupingPath('backup', [['first', '']])).toBe('/metrics/job/backup/first@base64/=');
    expect(groupingPath('a/b', [['dot', '.']])).toBe('/metrics/job@base64/YS9i/dot@base64/Lg');
    expect(groupingPath('..', [])).toBe('/metrics/job@base64/Li4');
    // Only whole dot segments are special.
    expect(groupingPath('v1.2', [['x', '...']])).toBe('/metrics/job/v1.2/x/...');
  });
});

describe('base64Url', () => {
  it('is the UTF-8 bytes in base64url without padding, for any well-formed string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }), (value) => {
        expect(base64Url(value)).toBe(Buffer.from(value, 'utf8').toString('base64url'));
      }),
      { numRuns: 500 },
    );
    // The URL-safe alphabet: - and _ where plain base64 has + and /.
    expect(base64Url('>>>?')).toBe('Pj4-Pw');
    expect(base64Url('???')).toBe('Pz8_');
    expect(base64Url('')).toBe('=');
  });
});
