/**
 * Periodic work caught up from the clock, as a Cloudflare Worker needs (no timers at a module's top level, a
 * request's timers cancelled when it ends): the same window and expiry as with intervals, and no timer set.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { distribution, execute, summary, Telemeter } from '../../src/index.js';
import { periodicWorkByClockForTests } from '../../src/reporter/periodic-work.js';
import { sample, samples } from '../support/samples.js';

describe('periodic work by the clock', () => {
  const made: Telemeter[] = [];
  beforeEach(() => {
    periodicWorkByClockForTests(true);
    // The fake clock starts at 0, as a Worker's does while its module's top level runs; the tests below start
    // it first, but the last one.
    vi.useFakeTimers({ toFake: ['performance', 'setInterval', 'clearInterval'] });
  });
  afterEach(() => {
    for (const t of made.splice(0)) t.close();
    vi.useRealTimers();
    periodicWorkByClockForTests(undefined);
  });

  it('sets no timer, so a Telemeter can be made where timers are refused', () => {
    const setInterval = vi.spyOn(globalThis, 'setInterval').mockImplementation(() => {
      throw new Error('Disallowed operation called within global scope');
    });
    try {
      made.push(
        new Telemeter({
          metrics: [
            summary('pw1.db.query'),
            distribution('pw1.db.size', { reporterOptions: { idleTimeout: 1000, buckets: [1] } }),
          ],
        }),
      );
      expect(setInterval).not.toHaveBeenCalled();
    } finally {
      setInterval.mockRestore();
    }
  });

  it('slides a summary window by the clock: observations land in the slot of their time', () => {
    const t = new Telemeter({
      metrics: [summary('pw2.db.query', { reporterOptions: { maxAgeSeconds: 10, ageBuckets: 2 } })],
    });
    made.push(t);
    vi.advanceTimersByTime(1_000);
    execute('pw2.db', { query: 100 });
    vi.advanceTimersByTime(5_000);
    execute('pw2.db', { query: 1 });
    expect(sample(t.scrape(), 'pw2_db_query{quantile="0.99"}')).toBeGreaterThan(90);
    vi.advanceTimersByTime(5_000);
    // The slot holding 100 ended 10 s after it began: only 1 is left.
    expect(sample(t.scrape(), 'pw2_db_query{quantile="0.99"}')).toBeCloseTo(1, 1);
    // A long silence empties the whole window; the next observation is the only one in it.
    vi.advanceTimersByTime(60_000);
    expect(t.scrape()).toContain('pw2_db_query{quantile="0.5"} NaN');
    execute('pw2.db', { query: 7 });
    // Within the default schema's 1.08%.
    expect(Math.abs(sample(t.scrape(), 'pw2_db_query{quantile="0.5"}') - 7) / 7).toBeLessThanOrEqual(0.0109);
    expect(sample(t.scrape(), 'pw2_db_query_count')).toBe(3);
  });

  it('expires idle series when the metrics are read, and keeps active ones', () => {
    const t = new Telemeter({
      metrics: [
        distribution('pw3.req.duration', {
          tags: ['user'],
          reporterOptions: { idleTimeout: 10_000, buckets: [1, 10] },
        }),
      ],
    });
    made.push(t);
    vi.advanceTimersByTime(1_000);
    execute('pw3.req', { duration: 5 }, { user: 'gone' });
    for (let i = 0; i < 4; i++) {
      execute('pw3.req', { duration: 5 }, { user: 'active' });
      t.scrape();
      vi.advanceTimersByTime(5_000);
    }
    execute('pw3.req', { duration: 5 }, { user: 'active' });
    const users = [...samples(t.scrape()).keys()].filter((k) => k.startsWith('pw3_req_duration_count'));
    expect(users).toEqual(['pw3_req_duration_count{user="active"}']);
  });

  it("keeps what was observed while the clock read 0 (a Worker's top level) in the first slot of the window", () => {
    const t = new Telemeter({
      metrics: [summary('pw4.db.query', { reporterOptions: { maxAgeSeconds: 10, ageBuckets: 2 } })],
    });
    made.push(t);
    execute('pw4.db', { query: 100 });
    // The first request: a Worker's clock jumps from 0 to the Unix time.
    vi.advanceTimersByTime(1_796_000_000_000);
    expect(sample(t.scrape(), 'pw4_db_query{quantile="0.5"}')).toBeGreaterThan(90);
    vi.advanceTimersByTime(4_000);
    expect(sample(t.scrape(), 'pw4_db_query{quantile="0.5"}')).toBeGreaterThan(90);
    vi.advanceTimersByTime(6_000);
    expect(t.scrape()).toContain('pw4_db_query{quantile="0.5"} NaN');
  });
});
