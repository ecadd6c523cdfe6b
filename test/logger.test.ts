import { afterEach, describe, expect, it, vi } from 'vitest';
import { checkLogger, type Logger, LogSink, processLog, setLogger } from '../src/logger.js';

afterEach(() => {
  setLogger(null);
  vi.restoreAllMocks();
});

/** A logger that keeps every call as `[level, fields, message]`. */
function recording(): { logger: Logger; calls: [string, unknown, string][] } {
  const calls: [string, unknown, string][] = [];
  return {
    calls,
    logger: {
      warn: (fields, message) => calls.push(['warn', fields, message]),
      error: (fields, message) => calls.push(['error', fields, message]),
    },
  };
}

describe('the console logger', () => {
  it('writes warnings and errors to their console level, tagged, with the fields and then the error', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    const failure = new Error('boom');
    processLog.warn({ metric: 'a.b' }, 'first');
    processLog.error({ err: failure, metric: 'a.b' }, 'second');
    processLog.error({ err: failure }, 'third');
    processLog.warn({}, 'fourth');
    expect(warn.mock.calls).toEqual([['[telemeter] first', { metric: 'a.b' }], ['[telemeter] fourth']]);
    expect(error.mock.calls).toEqual([
      ['[telemeter] second', { metric: 'a.b' }, failure],
      ['[telemeter] third', failure],
    ]);
  });

  it('is what setLogger(null) goes back to', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const { logger, calls } = recording();
    setLogger(logger);
    processLog.warn({}, 'to the logger');
    setLogger(null);
    processLog.warn({}, 'to the console');
    expect(calls).toEqual([['warn', {}, 'to the logger']]);
    expect(warn.mock.calls).toEqual([['[telemeter] to the console']]);
  });
});

describe('setLogger and checkLogger', () => {
  it.each([
    ['undefined', undefined],
    ['a function', () => {}],
    ['an object without error', { warn: () => {} }],
    ['an object without warn', { error: () => {} }],
    ['methods that are not functions', { warn: 'x', error: 'y' }],
  ])('reject %s, naming the caller, with a code', (_label, logger) => {
    for (const [call, where] of [
      [() => setLogger(logger as never), 'setLogger'],
      [() => checkLogger(logger, 'option logger'), 'option logger'],
    ] as const) {
      let error: (Error & { code?: string }) | undefined;
      try {
        call();
      } catch (caught) {
        error = caught as Error & { code?: string };
      }
      expect(error).toBeInstanceOf(TypeError);
      expect(error?.code).toBe('ERR_TELEMETER_INVALID_OPTION');
      expect(error?.message).toBe(`telemeter: ${where}: a logger must have warn and error methods`);
    }
  });

  it('keep the logger it was given after a rejected one', () => {
    const { logger, calls } = recording();
    setLogger(logger);
    expect(() => setLogger({ warn: () => {} } as never)).toThrow(TypeError);
    processLog.error({}, 'still here');
    expect(calls).toEqual([['error', {}, 'still here']]);
    expect(checkLogger(logger, 'x')).toBe(logger);
  });
});

describe('LogSink', () => {
  it('logs each key once per sink, at its level, and to the process logger when it has none of its own', () => {
    const own = recording();
    const process = recording();
    setLogger(process.logger);
    const sink = new LogSink(own.logger);
    const other = new LogSink(undefined);
    for (let i = 0; i < 3; i++) {
      sink.warnOnce('k', { i }, 'warned');
      sink.errorOnce('e', { i }, 'failed');
      other.errorOnce('k', { i }, 'other');
    }
    expect(own.calls).toEqual([
      ['warn', { i: 0 }, 'warned'],
      ['error', { i: 0 }, 'failed'],
    ]);
    expect(process.calls).toEqual([['error', { i: 0 }, 'other']]);
  });

  it('never throws, whatever the logger does', () => {
    const sink = new LogSink({
      warn: () => {
        throw new Error('warn failed');
      },
      error: () => {
        throw new Error('error failed');
      },
    });
    expect(() => sink.warn({}, 'a')).not.toThrow();
    expect(() => sink.errorOnce('b', {}, 'b')).not.toThrow();
  });
});
