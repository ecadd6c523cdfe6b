/**
 * OpenMetrics `_created` samples (opt-in): judged by the strict python OpenMetrics parser, and compared with the
 * read model's creation times.
 */
import { describe, expect, it } from 'vitest';
import { parseOpenMetricsStrict } from '../support/openmetrics-parser.js';
import { closedAfterEach } from '../support/telemeters.js';
import { everyTypeFixture } from './fixture.js';

const { track } = closedAfterEach();

describe('OpenMetrics _created samples', () => {
  it('are off by default, and never in 0.0.4', () => {
    const t = everyTypeFixture('cr1');
    track(t);
    expect(t.scrape({ format: 'openmetrics' })).not.toContain('_created');
    expect(t.scrape({ createdSamples: true })).toBe(t.scrape());
  });

  it('come one per counter, histogram and summary series, with its labels, and parse strictly', async () => {
    const before = Date.now();
    const t = everyTypeFixture('cr2');
    const after = Date.now();
    track(t);
    const body = t.scrape({ format: 'openmetrics', createdSamples: true });
    const without = t.scrape({ format: 'openmetrics' });
    const createdLines = body.split('\n').filter((line) => /^\S+_created[{ ]/.test(line));
    // Taking them out gives the body without them, byte for byte.
    expect(
      body
        .split('\n')
        .filter((line) => !createdLines.includes(line))
        .join('\n'),
    ).toBe(without);

    const parsed = await parseOpenMetricsStrict(body);
    expect(parsed).toMatchObject({ ok: true });
    let expected = 0;
    for (const family of t.metricFamilies) {
      if (family.kind === 'gauge') continue;
      for (let s = 0; s < family.seriesIdLimit; s++) if (family.holds(s)) expected++;
    }
    expect(createdLines.length).toBe(expected);
    const createdSamples = parsed.families!.flatMap((f) =>
      f.samples.filter((s) => s.name.endsWith('_created')),
    );
    expect(createdSamples.length).toBe(expected);
    for (const sample of createdSamples) {
      expect(Math.round(sample.value * 1000)).toBeGreaterThanOrEqual(before);
      expect(Math.round(sample.value * 1000)).toBeLessThanOrEqual(after);
    }
    // A counter's is named after its family, without _total.
    expect(createdLines.some((line) => line.startsWith('cr2_http_request_count_created{'))).toBe(true);
  });
});
