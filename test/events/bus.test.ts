import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  attach,
  attachMany,
  detach,
  execute,
  HANDLER_FAILURE_EVENT,
  HandlerError,
  hasHandlers,
  listHandlers,
  setLogger,
} from '../../src/index.js';

const attached: string[] = [];
function track(id: string): string {
  attached.push(id);
  return id;
}

afterEach(() => {
  for (const id of attached.splice(0)) {
    try {
      detach(id);
    } catch {}
  }
  setLogger(null);
});

describe('hasHandlers', () => {
  it('says whether a handler is attached to exactly that event, and follows detach', () => {
    expect(hasHandlers('hh.order.stop')).toBe(false);
    attach(track('hh-1'), 'hh.order.stop', () => {});
    expect(hasHandlers('hh.order.stop')).toBe(true);
    expect(hasHandlers('hh.order')).toBe(false);
    expect(hasHandlers('hh.order.start')).toBe(false);
    detach('hh-1');
    expect(hasHandlers('hh.order.stop')).toBe(false);
  });
});

describe('attach and execute', () => {
  it('calls the handler synchronously with event name, measurements, metadata and config', () => {
    const calls: unknown[][] = [];
    attach(track('t1'), 'shop.checkout.stop', (...args) => calls.push(args), { level: 1 });
    execute('shop.checkout.stop', { duration: 1_500_000 }, { route: '/cart', status: 200 });
    expect(calls).toEqual([
      ['shop.checkout.stop', { duration: 1_500_000 }, { route: '/cart', status: 200 }, { level: 1 }],
    ]);
  });

  it('dispatches to exact names only, never to prefixes or longer names', () => {
    const seen: string[] = [];
    attach(track('t2'), 'a.b', (name) => seen.push(name));
    execute('a', {});
    execute('a.b.c', {});
    execute('a.bc', {});
    execute('a.b', {});
    expect(seen).toEqual(['a.b']);
  });

  it('passes empty metadata when none is given', () => {
    let metadata: unknown;
    attach(track('t3'), 'x.y', (_n, _m, md) => {
      metadata = md;
    });
    execute('x.y', { value: 1 });
    expect(metadata).toEqual({});
  });

  it('turns a bare number into { value: n }, with one deprecation warning', () => {
    const warn = vi.fn();
    setLogger({ warn, error: vi.fn() });
    const got: unknown[] = [];
    attach(track('t4'), 'num.event', (_n, m) => got.push(m));
    execute('num.event', 5);
    execute('num.event', 6);
    expect(got).toEqual([{ value: 5 }, { value: 6 }]);
    expect(warn.mock.calls).toEqual([
      [{}, 'execute("num.event", <number>) is deprecated: pass { value: n } instead'],
    ]);
  });

  it('rejects a duplicate id with already_exists, across events', () => {
    attach(track('dup'), 'one.event', () => {});
    expect(() => attach('dup', 'other.event', () => {})).toThrow(HandlerError);
    try {
      attach('dup', 'other.event', () => {});
    } catch (error) {
      expect((error as HandlerError).code).toBe('already_exists');
      expect((error as Error).message).toContain('"dup"');
    }
  });

  it('rejects detaching an unknown id with not_found', () => {
    expect(() => detach('never-attached')).toThrow(/never-attached/);
    try {
      detach('never-attached');
    } catch (error) {
      expect((error as HandlerError).code).toBe('not_found');
    }
  });

  it('validates ids, names and handlers at attach time', () => {
    expect(() => attach('', 'a.b', () => {})).toThrow(/non-empty/);
    expect(() => attach('bad-name', 'a..b', () => {})).toThrow(/consecutive dots/);
    expect(() => attach('bad-fn', 'a.b', 42 as never)).toThrow(/function/);
    expect(() => attachMany('bad-many', [], () => {})).toThrow(/non-empty array/);
  });

  it.each([
    ['a number', 42],
    ['undefined', undefined],
    ['an empty string', ''],
  ])('rejects an id that is %s with an argument error, attaching nothing', (_label, id) => {
    let error: (Error & { code?: string }) | undefined;
    try {
      attach(id as never, 'bad.id', () => {});
    } catch (caught) {
      error = caught as Error & { code?: string };
    }
    expect(error?.code).toBe('ERR_TELEMETER_INVALID_ARGUMENT');
    expect(error?.message).toBe('telemeter: attach: the handler id must be a non-empty string');
    expect(hasHandlers('bad.id')).toBe(false);
  });

  it('names the handler id in the error for an event name that cannot work', () => {
    expect(() => attach('named-id', 'a..b', () => {})).toThrow(/attach "named-id"/);
  });

  it('attachMany shares one id across events, and detach removes it from all', () => {
    const seen: string[] = [];
    attachMany(track('many'), ['m.one', 'm.two'], (name) => seen.push(name));
    execute('m.one', {});
    execute('m.two', {});
    detach('many');
    execute('m.one', {});
    expect(seen).toEqual(['m.one', 'm.two']);
  });
});

describe('handler failure', () => {
  it('detaches the failing handler from all its events, emits telemetry.handler.failure, logs once, runs the others', () => {
    const error = vi.fn();
    setLogger({ warn: vi.fn(), error });
    const failures: Array<{ measurements: Record<string, unknown>; metadata: Record<string, unknown> }> = [];
    attach(track('failure-listener'), HANDLER_FAILURE_EVENT, (_n, measurements, metadata) =>
      failures.push({ measurements, metadata }),
    );
    const after: number[] = [];
    attachMany(
      track('bad'),
      ['f.one', 'f.two'],
      () => {
        throw new Error('boom');
      },
      { cfg: true },
    );
    attach(track('good'), 'f.one', () => after.push(1));

    expect(() => execute('f.one', { value: 1 }, { tag: 'x' })).not.toThrow();
    execute('f.one', { value: 1 });
    execute('f.two', { value: 1 });

    expect(after).toEqual([1, 1]);
    expect(failures).toHaveLength(1);
    expect(failures[0].metadata).toMatchObject({
      event_name: 'f.one',
      handler_id: 'bad',
      handler_config: { cfg: true },
      kind: 'error',
    });
    expect((failures[0].metadata.reason as Error).message).toBe('boom');
    expect(typeof failures[0].metadata.stacktrace).toBe('string');
    expect(typeof failures[0].measurements.monotonic_time).toBe('number');
    expect(typeof failures[0].measurements.system_time).toBe('number');
    expect(error).toHaveBeenCalledTimes(1);
    expect(listHandlers('f').map((h) => h.id)).toEqual(['good']);
  });

  it('reports a thrown non-Error with kind "throw"', () => {
    setLogger({ warn: vi.fn(), error: vi.fn() });
    let kind: unknown;
    attach(track('fl2'), HANDLER_FAILURE_EVENT, (_n, _m, md) => {
      kind = md.kind;
    });
    attach(track('thrower'), 'g.one', () => {
      throw 'plain string';
    });
    execute('g.one', {});
    expect(kind).toBe('throw');
  });

  it('detaches a handler that recurses into a stack overflow, reports it once, and frees its id', async () => {
    const error = vi.fn();
    setLogger({ warn: vi.fn(), error });
    const failures: unknown[] = [];
    attach(track('overflow-listener'), HANDLER_FAILURE_EVENT, (_n, _m, md) => failures.push(md.handler_id));
    let depth = 0;
    let deepest = 0;
    attach(track('runaway'), 'rec.event', () => {
      depth++;
      deepest = Math.max(deepest, depth);
      try {
        execute('rec.event', {});
      } finally {
        depth--;
      }
    });
    expect(() => execute('rec.event', {})).not.toThrow();
    expect(deepest).toBeGreaterThan(100);
    expect(listHandlers('rec.event')).toEqual([]);
    expect(hasHandlers('rec.event')).toBe(false);
    deepest = 0;
    execute('rec.event', {});
    expect(deepest).toBe(0);
    expect(() => detach('runaway')).toThrow(expect.objectContaining({ code: 'not_found' }));
    attach('runaway', 'rec.event', () => {});
    expect(() => attach('runaway', 'rec.event', () => {})).toThrow(
      expect.objectContaining({ code: 'already_exists' }),
    );
    // Reports that did not fit on the exhausted stack are delivered once it has unwound.
    await new Promise((resolve) => setImmediate(resolve));
    expect(failures).toEqual(['runaway']);
    expect(error).toHaveBeenCalledTimes(1);
  });

  it('keeps counting when the logger throws: the reporter is never detached by its own warning', () => {
    const logger = {
      warn: () => {
        throw new Error('logger down');
      },
      error: () => {
        throw new Error('logger down');
      },
    };
    setLogger(logger);
    const failures: unknown[] = [];
    attach(track('logger-failure-listener'), HANDLER_FAILURE_EVENT, (_n, _m, md) =>
      failures.push(md.handler_id),
    );
    attach(track('fails-with-throwing-logger'), 'tl.event', () => {
      throw new Error('boom');
    });
    expect(() => execute('tl.event', {})).not.toThrow();
    expect(failures).toEqual(['fails-with-throwing-logger']);
  });

  it('logs the failure once, with the error, the handler id and the event', () => {
    const error = vi.fn();
    setLogger({ warn: vi.fn(), error });
    const boom = new Error('boom');
    attach(track('logged-failure'), 'lf.event', () => {
      throw boom;
    });
    execute('lf.event', {});
    expect(error.mock.calls).toEqual([
      [
        { err: boom, handler_id: 'logged-failure', event_name: 'lf.event' },
        'handler "logged-failure" has failed and has been detached (event "lf.event")',
      ],
    ]);
  });

  it('reports a handler that fails in two events, one inside the other, once, for the event it failed in first', () => {
    const error = vi.fn();
    setLogger({ warn: vi.fn(), error });
    const failures: unknown[] = [];
    attach(track('twice-listener'), HANDLER_FAILURE_EVENT, (_n, _m, md) => failures.push(md.event_name));
    attachMany(track('twice'), ['tw.outer', 'tw.inner'], (name) => {
      if (name === 'tw.outer') execute('tw.inner', {});
      throw new Error(name);
    });
    execute('tw.outer', {});
    expect(failures).toEqual(['tw.inner']);
    expect(error).toHaveBeenCalledTimes(1);
    expect(listHandlers('tw')).toEqual([]);
  });

  it('does not report a handler that was detached before it threw', () => {
    const error = vi.fn();
    setLogger({ warn: vi.fn(), error });
    const failures: unknown[] = [];
    attach(track('gone-listener'), HANDLER_FAILURE_EVENT, (_n, _m, md) => failures.push(md.handler_id));
    attach(track('gone'), 'gone.event', () => {
      detach('gone');
      // The id is free again, and taken by another handler before this one throws.
      attach('gone', 'gone.other', () => {});
      throw new Error('after detach');
    });
    execute('gone.event', {});
    expect(failures).toEqual([]);
    expect(error).not.toHaveBeenCalled();
    expect(listHandlers('gone.other').map((h) => h.id)).toEqual(['gone']);
  });

  it('reports at once an error that only looks like a stack overflow', () => {
    setLogger({ warn: vi.fn(), error: vi.fn() });
    const failures: unknown[] = [];
    attach(track('range-listener'), HANDLER_FAILURE_EVENT, (_n, _m, md) => failures.push(md.handler_id));
    attach(track('range'), 'range.event', () => {
      throw new RangeError('index out of range');
    });
    attach(track('lookalike'), 'range.event', () => {
      throw new Error('Maximum call stack size exceeded');
    });
    execute('range.event', {});
    // Not deferred to a microtask: reported before execute returned.
    expect(failures).toEqual(['range', 'lookalike']);
  });

  it('lets a handler detach itself while the event is running without skipping the others', () => {
    const seen: string[] = [];
    attach(track('self-detach'), 'h.one', () => {
      detach('self-detach');
      seen.push('first');
    });
    attach(track('second'), 'h.one', () => seen.push('second'));
    execute('h.one', {});
    execute('h.one', {});
    expect(seen).toEqual(['first', 'second', 'second']);
  });
});

describe('dispatch', () => {
  it('calls many handlers of one event in attach order, each with its config, after attach and detach', () => {
    const seen: string[] = [];
    for (let i = 0; i < 6; i++) {
      attach(track(`many-${i}`), 'm.one', (_e, m, _md, config) => seen.push(`${config}:${m.v}`), i);
    }
    execute('m.one', { v: 1 });
    detach('many-2');
    execute('m.one', { v: 2 });
    expect(seen).toEqual(['0:1', '1:1', '2:1', '3:1', '4:1', '5:1', '0:2', '1:2', '3:2', '4:2', '5:2']);
  });

  it('works the same where Node.js refuses to generate code from strings', () => {
    const script = fileURLToPath(new URL('../fixtures/bus-without-codegen.ts', import.meta.url));
    const output = execFileSync(
      process.execPath,
      ['--disallow-code-generation-from-strings', '--import', 'tsx', script],
      { encoding: 'utf8' },
    );
    expect(JSON.parse(output)).toEqual({ seen: ['a1', 'c1!', 'a2', 'c2!'], left: ['a', 'c'] });
  });
});

describe('listHandlers', () => {
  it('matches by whole segments and lists a multi-event handler once per event', () => {
    const noop = () => {};
    attachMany(track('l1'), ['http.request.start', 'http.request.stop'], noop, 'c');
    attach(track('l2'), 'https.get', noop);
    attach(track('l3'), 'http', noop);
    const http = listHandlers('http').map((h) => `${h.id}@${h.eventName}`);
    expect(http.sort()).toEqual(['l1@http.request.start', 'l1@http.request.stop', 'l3@http']);
    expect(listHandlers('http.request.stop')).toEqual([
      { id: 'l1', eventName: 'http.request.stop', handler: noop, config: 'c' },
    ]);
    expect(listHandlers().length).toBeGreaterThanOrEqual(4);
  });
});
