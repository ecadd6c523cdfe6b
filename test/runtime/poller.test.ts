import { spawn } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { execute, setLogger } from '../../src/index.js';
import { BUILTIN_MEASUREMENTS, RUNTIME_EVENTS, startPoller } from '../../src/runtime/index.js';
import { busyWait, capture, sleep, waitFor } from './helpers.js';

afterEach(() => {
  vi.useRealTimers();
  setLogger(null);
});

describe('startPoller options', () => {
  it.each([
    [{ period: 0 }, /option period/],
    [{ period: 1.5 }, /option period/],
    [{ period: '5000' }, /option period/],
    [{ initDelay: -1 }, /option initDelay/],
    [{ measurements: 'memory' }, /option measurements must be an array/],
    [{ measurements: ['memory', 'cpu_load'] }, /measurements\[1\] is "cpu_load".*built-ins are memory, /],
    [{ measurements: ['persistent_term'] }, /persistent_term.*no Node\.js counterpart/],
    [{ measurements: [{ name: 'x' }] }, /measurements\[0\] must be/],
    [{ name: '' }, /option name/],
  ])('rejects %j, naming the option', (options, message) => {
    expect(() => startPoller(options as never)).toThrow(
      expect.objectContaining({
        code: 'ERR_TELEMETER_INVALID_OPTION',
        message: expect.stringMatching(message),
      }),
    );
  });

  it('accepts every built-in name', () => {
    const poller = startPoller({ measurements: BUILTIN_MEASUREMENTS });
    expect(poller.listMeasurements()).toEqual([...BUILTIN_MEASUREMENTS]);
    poller.stop();
  });
});

describe('startPoller schedule', () => {
  it('waits initDelay, then runs every period', () => {
    vi.useFakeTimers();
    let runs = 0;
    const poller = startPoller({ period: 1000, initDelay: 500, measurements: [() => runs++] });
    expect(runs).toBe(0);
    vi.advanceTimersByTime(499);
    expect(runs).toBe(0);
    vi.advanceTimersByTime(1);
    expect(runs).toBe(1);
    vi.advanceTimersByTime(999);
    expect(runs).toBe(1);
    vi.advanceTimersByTime(1);
    expect(runs).toBe(2);
    vi.advanceTimersByTime(3000);
    expect(runs).toBe(5);
    poller.stop();
  });

  it('runs the first poll after startPoller returns when initDelay is 0', () => {
    vi.useFakeTimers();
    let runs = 0;
    const poller = startPoller({ period: 1000, measurements: [() => runs++] });
    expect(runs).toBe(0);
    vi.advanceTimersByTime(0);
    expect(runs).toBe(1);
    poller.stop();
  });

  it('stop() ends the schedule, releases measurements and is idempotent', () => {
    vi.useFakeTimers();
    let runs = 0;
    let released = 0;
    const poller = startPoller({
      period: 100,
      measurements: [{ name: 'counted', measure: () => runs++, stop: () => released++ }],
    });
    vi.advanceTimersByTime(250);
    expect(runs).toBe(3);
    poller.stop();
    poller.stop();
    expect(poller.stopped).toBe(true);
    expect(released).toBe(1);
    vi.advanceTimersByTime(1000);
    expect(runs).toBe(3);
    poller.poll();
    expect(runs).toBe(3);
  });

  it('stop() from inside a measurement skips the rest of the run', () => {
    vi.useFakeTimers();
    const ran: string[] = [];
    const poller = startPoller({
      measurements: [() => ran.push('a'), () => poller.stop(), () => ran.push('c')],
    });
    vi.advanceTimersByTime(0);
    expect(ran).toEqual(['a']);
  });

  it('uses a fixed delay: the next run starts period ms after the previous one finished', async () => {
    const starts: number[] = [];
    const poller = startPoller({
      period: 20,
      measurements: [
        () => {
          starts.push(performance.now());
          busyWait(30);
        },
      ],
    });
    for (let i = 0; i < 200 && starts.length < 4; i++) await sleep(20);
    poller.stop();
    expect(starts.length).toBeGreaterThanOrEqual(4);
    // Fixed rate would start every max(period, run time) = 30 ms; fixed delay waits run time + period = 50 ms.
    for (let i = 1; i < starts.length; i++) expect(starts[i] - starts[i - 1]).toBeGreaterThanOrEqual(49);
  });

  it('poll() runs every measurement now', () => {
    vi.useFakeTimers();
    let runs = 0;
    const poller = startPoller({ period: 60_000, initDelay: 60_000, measurements: [() => runs++] });
    poller.poll();
    poller.poll();
    expect(runs).toBe(2);
    poller.stop();
  });

  it('names measurements by built-in name, function name or position', () => {
    function queueLength() {}
    const poller = startPoller({
      measurements: ['memory', queueLength, () => {}, { name: 'custom', measure() {} }],
    });
    expect(poller.listMeasurements()).toEqual(['memory', 'queueLength', 'measurements[2]', 'custom']);
    poller.stop();
  });
});

describe('startPoller failures', () => {
  it('removes a throwing measurement, logs it once, emits a failure event, and keeps the others running', async () => {
    const errors: unknown[][] = [];
    setLogger({ warn() {}, error: (...args) => errors.push(args) });
    const failures = capture(RUNTIME_EVENTS.measurementFailure);
    const ticks = capture('test.poller.tick');
    let badRuns = 0;
    const boom = new Error('boom');
    const before = () => execute('test.poller.tick', { value: 1 }, { from: 'before' });
    function flaky() {
      badRuns++;
      throw boom;
    }
    const after = () => execute('test.poller.tick', { value: 1 }, { from: 'after' });
    const poller = startPoller({ name: 'test-poller', period: 5, measurements: [before, flaky, after] });
    const count = (from: string) => ticks.events.filter((e) => e.metadata.from === from).length;
    for (let i = 0; i < 400 && count('after') < 5; i++) await sleep(5);
    poller.stop();
    failures.stop();
    ticks.stop();

    expect(count('after')).toBeGreaterThanOrEqual(5);
    // The run in which flaky threw still went on to the next measurement.
    expect(count('before')).toBe(count('after'));
    expect(badRuns).toBe(1);
    expect(poller.listMeasurements()).toEqual(['before', 'after']);
    expect(errors).toHaveLength(1);
    expect(String(errors[0][1])).toMatch(
      /poller "test-poller": measurement "flaky" failed and has been removed/,
    );
    expect(errors[0][0]).toEqual({ err: boom });
    expect(failures.events).toHaveLength(1);
    expect(failures.events[0].metadata).toMatchObject({
      poller: 'test-poller',
      measurement: 'flaky',
      kind: 'error',
      reason: boom,
    });
    expect(typeof failures.events[0].measurements.system_time).toBe('number');
  });

  it('removes a measurement whose promise rejects', async () => {
    setLogger({ warn() {}, error() {} });
    let runs = 0;
    let healthyRuns = 0;
    const poller = startPoller({
      period: 5,
      measurements: [
        function rejecting() {
          runs++;
          return Promise.reject(new Error('later'));
        },
        function healthy() {
          healthyRuns++;
        },
      ],
    });
    await waitFor(() => poller.listMeasurements().length === 1, 'the rejecting measurement removed');
    // Three more polls ran, and the rejecting measurement in none of them.
    const removedAt = healthyRuns;
    await waitFor(() => healthyRuns >= removedAt + 3, 'three more polls');
    poller.stop();
    expect(poller.listMeasurements()).toEqual(['healthy']);
    expect(runs).toBe(1);
  });
});

describe('startPoller and process lifetime', () => {
  const entry = pathToFileURL(new URL('../../src/runtime/index.ts', import.meta.url).pathname).href;

  /**
   * Runs `code` in a child process until it exits, or until it prints `alive`: a line that an unref-ed timer
   * prints only while something else keeps the process running, after which the child is killed.
   */
  function runChild(code: string) {
    return new Promise<{ code: number | null; lines: string[]; keptAlive: boolean }>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
        cwd: new URL('../..', import.meta.url).pathname,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      const lines = () => stdout.split('\n').filter((line) => line !== '');
      child.stdout.on('data', (chunk) => {
        stdout += chunk;
        if (lines().includes('alive')) child.kill('SIGKILL');
      });
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`the child neither exited nor printed "alive" within 20 s:\n${stdout}`));
      }, 20_000);
      child.on('close', (exitCode) => {
        clearTimeout(timer);
        resolve({ code: exitCode, lines: lines(), keptAlive: lines().includes('alive') });
      });
    });
  }

  const script = (extra: string) => `
    const { startPoller, observeGc, instrumentRuntime } = await import(${JSON.stringify(entry)});
    let runs = 0;
    startPoller({ period: 20, measurements: [() => { runs++; }, 'event_loop', 'memory', 'active_resources'] });
    observeGc();
    instrumentRuntime({ period: 20 });
    ${extra}
    setTimeout(() => {
      console.log(JSON.stringify({ runs }));
      setTimeout(() => console.log('alive'), 200).unref();
    }, 300);
  `;

  it('a poller, the GC observer and instrumentRuntime do not keep the process alive', async () => {
    const result = await runChild(script(''));
    expect(result.keptAlive).toBe(false);
    expect(result.code).toBe(0);
    // The poller did run while something else kept the process alive.
    expect(JSON.parse(result.lines[0]).runs).toBeGreaterThanOrEqual(3);
  });

  it('control: a ref-ed interval does keep the child alive (so the check above can fail)', async () => {
    const result = await runChild(script('setInterval(() => {}, 1000);'));
    expect(result.keptAlive).toBe(true);
    expect(result.lines).toHaveLength(2);
  });
});
