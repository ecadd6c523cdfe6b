import { afterEach, describe, expect, it } from 'vitest';
import { attachMany, detach, type Measurements, type Metadata, span } from '../../src/index.js';

type Captured = { name: string; measurements: Measurements; metadata: Metadata };
let captured: Captured[] = [];
let id = 0;
let current = '';

function listen(prefix: string): void {
  current = `span-test-${++id}`;
  captured = [];
  attachMany(
    current,
    [`${prefix}.start`, `${prefix}.stop`, `${prefix}.exception`],
    (name, measurements, metadata) => captured.push({ name, measurements, metadata }),
  );
}

afterEach(() => detach(current));

function busyWait(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {}
}

describe('span', () => {
  it('returns the sync function value and emits start then stop with the start metadata', () => {
    listen('s.sync');
    const result = span('s.sync', { route: '/cart' }, () => {
      busyWait(5);
      return 'done';
    });
    expect(result).toBe('done');
    expect(captured.map((c) => c.name)).toEqual(['s.sync.start', 's.sync.stop']);
    const [start, stop] = captured;
    expect(Object.keys(start.measurements).sort()).toEqual(['monotonic_time', 'system_time']);
    expect(start.metadata.route).toBe('/cart');
    expect(stop.metadata.route).toBe('/cart');
    expect(stop.metadata.telemetry_span_context).toBe(start.metadata.telemetry_span_context);
    expect(stop.measurements.duration as number).toBeGreaterThanOrEqual(5_000_000);
    expect(stop.measurements.duration).toBe(
      (stop.measurements.monotonic_time as number) - (start.measurements.monotonic_time as number),
    );
    // system_time is wall clock in ns: within a minute of Date.now().
    expect(Math.abs((start.measurements.system_time as number) / 1e6 - Date.now())).toBeLessThan(60_000);
  });

  it('resolves to the async function value and emits stop when it settles', async () => {
    listen('s.async');
    const promise = span('s.async', {}, async () => {
      await new Promise((r) => setTimeout(r, 20));
      return { order: 7 };
    });
    expect(captured.map((c) => c.name)).toEqual(['s.async.start']);
    await expect(promise).resolves.toEqual({ order: 7 });
    expect(captured.map((c) => c.name)).toEqual(['s.async.start', 's.async.stop']);
    expect(captured[1].measurements.duration as number).toBeGreaterThanOrEqual(15_000_000);
  });

  it('lets the function add stop metadata and measurements, but not override duration', () => {
    listen('s.extra');
    span('s.extra', { route: '/a' }, (s) => {
      s.setMetadata({ status: 201 });
      s.setMeasurements({ bytes: 512, duration: -1, monotonic_time: -1 });
    });
    const stop = captured[1];
    expect(stop.metadata).toMatchObject({ route: '/a', status: 201 });
    expect(stop.measurements.bytes).toBe(512);
    expect(stop.measurements.duration as number).toBeGreaterThanOrEqual(0);
    expect(stop.measurements.monotonic_time as number).toBeGreaterThan(0);
  });

  it('emits exception with kind, reason and stacktrace, then rethrows (sync)', () => {
    listen('s.throw');
    const error = new Error('nope');
    expect(() =>
      span('s.throw', { route: '/x' }, () => {
        throw error;
      }),
    ).toThrow(error);
    expect(captured.map((c) => c.name)).toEqual(['s.throw.start', 's.throw.exception']);
    const exception = captured[1];
    expect(exception.metadata).toMatchObject({ route: '/x', kind: 'error', reason: error });
    expect(exception.metadata.stacktrace).toBe(error.stack);
    expect(Object.keys(exception.measurements).sort()).toEqual(['duration', 'monotonic_time']);
  });

  it('emits exception and rejects with the original reason (async)', async () => {
    listen('s.reject');
    await expect(span('s.reject', {}, async () => Promise.reject('str-reason'))).rejects.toBe('str-reason');
    expect(captured[1].name).toBe('s.reject.exception');
    expect(captured[1].metadata.kind).toBe('throw');
  });

  it('keeps a caller-supplied span context, and makes a fresh one otherwise', () => {
    listen('s.ctx');
    const context = { id: -1 };
    span('s.ctx', { telemetry_span_context: context }, () => {});
    span('s.ctx', {}, () => {});
    span('s.ctx', {}, () => {});
    expect(captured[0].metadata.telemetry_span_context).toBe(context);
    expect(captured[2].metadata.telemetry_span_context).not.toBe(captured[4].metadata.telemetry_span_context);
  });
});

describe('span with bad metadata', () => {
  it.each([
    ['undefined', undefined],
    ['null', null],
    [
      'an object with a throwing getter',
      Object.defineProperty({ route: '/cart' }, 'user', {
        enumerable: true,
        get() {
          throw new Error('getter');
        },
      }),
    ],
  ])('runs the function and emits start and stop for %s, as execute tolerates it', (_label, metadata) => {
    listen('s.bad');
    let ran = 0;
    const result = span('s.bad', metadata as Metadata, () => {
      ran++;
      return 'ok';
    });
    expect({ result, ran }).toEqual({ result: 'ok', ran: 1 });
    expect(captured.map((c) => c.name)).toEqual(['s.bad.start', 's.bad.stop']);
    expect(captured[1].metadata.telemetry_span_context).toBe(captured[0].metadata.telemetry_span_context);
    // What could be read is kept; a key whose getter throws is left out.
    expect(captured[0].metadata.user).toBeUndefined();
    if (metadata !== null && metadata !== undefined) expect(captured[0].metadata.route).toBe('/cart');
  });

  it('keeps the stop event when the function hands setMetadata a throwing getter', () => {
    listen('s.badset');
    span('s.badset', {}, (control) => {
      control.setMetadata(
        Object.defineProperty({ ok: 1 }, 'bad', {
          enumerable: true,
          get() {
            throw new Error('getter');
          },
        }),
      );
    });
    expect(captured.map((c) => c.name)).toEqual(['s.badset.start', 's.badset.stop']);
    expect(captured[1].metadata.ok).toBe(1);
  });
});
