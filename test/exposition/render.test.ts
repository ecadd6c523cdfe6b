import { afterEach, describe, expect, it } from 'vitest';
import { distribution, execute, type MetricDefinition, summary, Telemeter } from '../../src/index.js';

const CHUNK_SIZE = 64 * 1024;
const SERIES = 2000;

const open: Telemeter[] = [];
afterEach(() => {
  for (const t of open.splice(0)) t.close();
});

/** A Telemeter of one metric with `SERIES` series, each recorded once: far more than one chunk of exposition. */
function manySeries(definition: MetricDefinition): Telemeter {
  const t = new Telemeter({ metrics: [definition], maxSeries: 1_000_000, selfMetrics: false });
  open.push(t);
  for (let i = 0; i < SERIES; i++) execute(definition.eventName, { v: i % 50 }, { route: `/items/${i}` });
  return t;
}

const histogram = () =>
  distribution('rc.latency', {
    eventName: 'rc.h',
    measurement: 'v',
    tags: ['route'],
    reporterOptions: { buckets: [1, 10, 25] },
  });
const windowed = () =>
  summary('rc.duration', {
    eventName: 'rc.s',
    measurement: 'v',
    tags: ['route'],
    reporterOptions: { quantiles: [0.5, 0.99] },
  });

describe.each([
  ['histogram', histogram, 'rc_latency', 6],
  ['summary', windowed, 'rc_duration', 4],
] as const)('a streamed %s family', (_kind, define, name, linesPerSeries) => {
  it('comes in chunks of about 64 KiB that each end a line, with every line of a series in one chunk', () => {
    const t = manySeries(define());
    const whole = t.scrape(); // sorts the series once; the next render has nothing to sort and no step to yield
    const chunks = [...t.render()];
    expect(chunks.join('')).toBe(whole);
    expect(chunks.length).toBeGreaterThan(2);
    for (const chunk of chunks.slice(0, -1)) {
      expect(chunk.length).toBeGreaterThanOrEqual(CHUNK_SIZE);
      expect(chunk.length).toBeLessThan(CHUNK_SIZE + 1024);
    }
    for (const chunk of chunks) expect(chunk.endsWith('\n')).toBe(true);
    for (const [c, chunk] of chunks.entries()) {
      const routes = new Map<string, number>();
      for (const line of chunk.split('\n')) {
        const route = /route="([^"]*)"/.exec(line)?.[1];
        if (route !== undefined) routes.set(route, (routes.get(route) ?? 0) + 1);
      }
      for (const [route, lines] of routes) {
        expect({ chunk: c, route, lines }).toEqual({ chunk: c, route, lines: linesPerSeries });
      }
    }
    const sampleLines = whole.split('\n').filter((line) => line.startsWith(name));
    expect(sampleLines.length).toBe(SERIES * linesPerSeries);
    expect(new Set(sampleLines).size).toBe(sampleLines.length);
  });

  it('leaves out the series that expire while it is being written', () => {
    const t = manySeries(define());
    t.scrape();
    const { table } = t.families[0];
    const chunks: string[] = [];
    for (const chunk of t.render()) {
      if (chunks.length === 0) expect(table.expire(0)).toBe(SERIES);
      chunks.push(chunk);
    }
    const lines = chunks.join('').split('\n');
    const written = lines.filter((line) => line.startsWith(name));
    // The first chunk was written before the expiry; nothing after it, and no series lost its labels.
    expect(written.length).toBe(chunks[0].split('\n').filter((line) => line.startsWith(name)).length);
    expect(written.length).toBeLessThan(SERIES * linesPerSeries);
    expect(written.filter((line) => !line.includes('route="'))).toEqual([]);
  });
});
