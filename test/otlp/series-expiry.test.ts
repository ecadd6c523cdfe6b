/**
 * OTLP points across series expiry: a series that reuses an expired id (idleTimeout) is a new stream, with its own
 * attributes, its own creation time as start, and, in delta, its whole value (never a change against the old
 * series' value).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { counter, execute, Telemeter } from '../../src/index.js';
import { ExportBuilder, type NumberPoint, type SumData } from '../../src/otlp/export-request.js';

afterEach(() => {
  vi.useRealTimers();
});

function points(builder: ExportBuilder, now: number): NumberPoint[] {
  const request = builder.build(now);
  return request === undefined ? [] : [...(request.metrics[0].data as SumData).points];
}

describe.each(['cumulative', 'delta'] as const)('OTLP points across series expiry, %s', (temporality) => {
  it('start a new stream for a series that reuses an expired id', () => {
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
      const builder = new ExportBuilder(telemeter.metricFamilies, [], temporality);
      const adaCreated = Date.now();
      for (let i = 0; i < 5; i++) execute('shop.visit', { value: 1 }, { user: 'ada' });
      const t1 = adaCreated + 500;
      expect(points(builder, t1)).toEqual([
        { attributes: [['user', 'ada']], start: adaCreated, time: t1, value: 5 },
      ]);
      // ada goes quiet: her series expires, and the next user takes its id.
      vi.advanceTimersByTime(2000);
      const graceCreated = Date.now();
      execute('shop.visit', { value: 1 }, { user: 'grace' });
      execute('shop.visit', { value: 1 }, { user: 'grace' });
      const t2 = t1 + 2000;
      expect(points(builder, t2)).toEqual([
        { attributes: [['user', 'grace']], start: graceCreated, time: t2, value: 2 },
      ]);
      execute('shop.visit', { value: 1 }, { user: 'grace' });
      const t3 = t2 + 100;
      expect(points(builder, t3)).toEqual([
        temporality === 'delta'
          ? { attributes: [['user', 'grace']], start: t2, time: t3, value: 1 }
          : { attributes: [['user', 'grace']], start: graceCreated, time: t3, value: 3 },
      ]);
    } finally {
      telemeter.close();
    }
  });
});
