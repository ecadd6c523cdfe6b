import { afterEach, describe, expect, it } from 'vitest';
import {
  attachMany,
  detach,
  type Measurements,
  type Metadata,
  monotonicTime,
  span,
} from '../../src/index.js';

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
    let ran: [number, number] = [0, 0];
    const result = span('s.sync', { route: '/cart' }, () => {
      const from = monotonicTime();
      busyWait(1);
      ran = [from, monotonicTime()];
      return 'done';
    });
    expect(result).toBe('done');
    expect(captured.map((c) => c.name)).toEqual(['s.sync.start', 's.sync.stop']);
    const [start, stop] = captured;
    expect(Object.keys(start.measurements).sort()).toEqual(['monotonic_time', 'system_time']);
    expect(start.metadata.route).toBe('/cart');
    expect(stop.metadata.route).toBe('/cart');
    expect(stop.metadata.telemetry_span_context).toBe(start.metadata.telemetry_span_context);
    // The span encloses the function's run, on the same clock.
    expect(start.measurements.monotonic_time as number).toBeLessThanOrEqual(ran[0]);
    expect(stop.measurements.monotonic_time as number).toBeGreaterThanOrEqual(ran[1]);
    expect(stop.measurements.duration).toBe(
      (stop.measurements.monotonic_time as number) - (start.measurements.monotonic_time as number),
    );
    // system_time is wall clock in ns: within a minute of Date.now().
    expect(Math.abs((start.measurements.system_time as number) / 1e6 - Date.now())).toBeLessThan(60_000);
  });

  it('resolves to the async function value and emits stop when it settles', async () => {
    listen('s.async');
    let settledAt = 0;
    const promise = span('s.async', {}, async () => {
      await new Promise((r) => setTimeout(r, 20));
      settledAt = monotonicTime();
      return { order: 7 };
    });
    expect(captured.map((c) => c.name)).toEqual(['s.async.start']);
    await expect(promise).resolves.toEqual({ order: 7 });
    expect(captured.map((c) => c.name)).toEqual(['s.async.start', 's.async.stop']);
    // The stop comes once the promise settles, not when the function returned it.
    expect(captured[1].measurements.monotonic_time as number).toBeGreaterThanOrEqual(settledAt);
    expect(captured[1].measurements.duration).toBe(
      (captured[1].measurements.monotonic_time as number) -
        (captured[0].measurements.monotonic_time as number),
    );
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

describe('span results and contexts', () => {
  it.each([
    ['null', null],
    ['undefined', undefined],
    ['a plain object', { order: 7 }],
    // biome-ignore lint/suspicious/noThenProperty: a then that is not a function does not make a thenable
    ['an object whose then is not a function', { then: 'later' }],
    ['a function', () => 1],
  ])('returns %s as it is, synchronously, after the stop event', (_label, value) => {
    listen('s.value');
    const result = span('s.value', {}, () => value);
    expect(result).toBe(value);
    expect(captured.map((c) => c.name)).toEqual(['s.value.start', 's.value.stop']);
  });

  it('waits for a thenable function as for a promise', async () => {
    listen('s.thenable');
    const thenable = Object.assign(() => {}, {
      // biome-ignore lint/suspicious/noThenProperty: the thenable is what this test is about
      then: (resolve: (value: string) => void) => resolve('settled'),
    });
    const result = span('s.thenable', {}, () => thenable);
    expect(result).toBeInstanceOf(Promise);
    await expect(result).resolves.toBe('settled');
    expect(captured.map((c) => c.name)).toEqual(['s.thenable.start', 's.thenable.stop']);
  });

  it('gives each span a fresh numbered context, the same object in its start and stop events', () => {
    listen('s.ids');
    span('s.ids', {}, () => {});
    span('s.ids', {}, () => {});
    const [first, , second] = captured.map((c) => c.metadata.telemetry_span_context as { id: number });
    expect(Number.isInteger(first.id)).toBe(true);
    expect(Number.isInteger(second.id)).toBe(true);
    expect(first.id).not.toBe(second.id);
    expect(Object.isFrozen(first)).toBe(true);
  });

  it('hands the stop event the start metadata itself when the function added none', () => {
    listen('s.same');
    span('s.same', { route: '/a' }, () => {});
    expect(captured[1].metadata).toBe(captured[0].metadata);
  });

  it('measures an exception from the same start as a stop: duration is the difference of the monotonic times', () => {
    listen('s.fail');
    expect(() =>
      span('s.fail', {}, () => {
        throw new Error('no');
      }),
    ).toThrow('no');
    const [start, exception] = captured;
    expect(exception.name).toBe('s.fail.exception');
    expect(exception.measurements.duration).toBe(
      (exception.measurements.monotonic_time as number) - (start.measurements.monotonic_time as number),
    );
  });
});

describe('span with start metadata that is not an object', () => {
  it.each([
    ['a string', 'route'],
    ['a number', 42],
    ['a boolean', true],
  ])('treats %s as no metadata', (_label, metadata) => {
    listen('s.scalar');
    span('s.scalar', metadata as never, () => {});
    expect(Object.keys(captured[0].metadata)).toEqual(['telemetry_span_context']);
  });

  it('treats a proxy that cannot list its keys as no metadata', () => {
    listen('s.proxy');
    const proxy = new Proxy(
      {},
      {
        ownKeys() {
          throw new Error('no keys');
        },
      },
    );
    span('s.proxy', proxy, () => {});
    expect(Object.keys(captured[0].metadata)).toEqual(['telemetry_span_context']);
    expect(captured.map((c) => c.name)).toEqual(['s.proxy.start', 's.proxy.stop']);
  });
});
