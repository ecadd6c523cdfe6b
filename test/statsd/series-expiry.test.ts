import { afterEach, describe, expect, it, vi } from 'vitest';
import { counter, execute, Telemeter } from '../../src/index.js';
import { commitLine, LineBuilder } from '../../src/statsd/lines.js';
import { resolveStatsdOptions } from '../../src/statsd/options.js';

afterEach(() => {
  vi.useRealTimers();
});

/** The lines of one flush, committed as if every packet reached the server. */
function flush(builder: LineBuilder): string[] {
  const lines = builder.build();
  for (const line of lines) commitLine(line);
  return lines.map((line) => line.text);
}

describe('StatsD lines across series expiry', () => {
  it('sends a series that reuses an expired id with its own tags and from zero, never a negative delta', () => {
    vi.useFakeTimers();
    const telemeter = new Telemeter({
      metrics: [
        counter('shop.visits', {
          eventName: 'shop.visit',
          measurement: 'value',
          tags: ['user'],
          reporterOptions: { idleTimeout: 1000 },
        }),
      ],
      selfMetrics: false,
    });
    try {
      const builder = new LineBuilder(telemeter.metricFamilies, resolveStatsdOptions({ format: 'datadog' }));
      for (let i = 0; i < 5; i++) execute('shop.visit', { value: 1 }, { user: 'ada' });
      expect(flush(builder)).toEqual(['shop.visits:5|c|#user:ada']);
      // ada goes quiet: her series expires, and the next user takes its id.
      vi.advanceTimersByTime(2000);
      execute('shop.visit', { value: 1 }, { user: 'grace' });
      execute('shop.visit', { value: 1 }, { user: 'grace' });
      expect(flush(builder)).toEqual(['shop.visits:2|c|#user:grace']);
      expect(flush(builder)).toEqual([]);
    } finally {
      telemeter.close();
    }
  });
});
