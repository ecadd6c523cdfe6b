import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Telemeter } from '../../src/index.js';
import { everyTypeFixture } from './fixture.js';

// Regenerate with UPDATE_GOLDEN=1 after an intended format change, then review the diff by hand.
const golden = (name: string) => fileURLToPath(new URL(`../golden/${name}`, import.meta.url));

describe('golden exposition', () => {
  // Built for each test rather than once for the file, so that `npm run mutate` knows which test covers what.
  let telemeter: Telemeter;
  beforeEach(() => {
    telemeter = everyTypeFixture('g');
  });
  afterEach(() => telemeter.close());

  it.each([
    ['every-type.prom', 'text'],
    ['every-type.om', 'openmetrics'],
  ] as const)('%s holds the exact %s rendering of every metric type', (file, format) => {
    const body = telemeter.scrape({ format });
    if (process.env.UPDATE_GOLDEN === '1' || !existsSync(golden(file))) writeFileSync(golden(file), body);
    expect(body).toBe(readFileSync(golden(file), 'utf8'));
  });

  it('renders both formats from one walk: same samples apart from counter names and EOF', () => {
    const text = telemeter.scrape();
    const om = telemeter.scrape({ format: 'openmetrics' });
    const textSamples = text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
    const omSamples = om
      .split('\n')
      .filter((l) => l !== '' && !l.startsWith('#'))
      .map((l) => l.replace(/^(g_http_request_count|g_shop_order_amount)_total/, '$1'));
    expect(omSamples).toEqual(textSamples);
    expect(om.endsWith('# EOF\n')).toBe(true);
    expect(text).not.toContain('# EOF');
    expect(text).not.toContain('\r\n');
  });
});
