import { describe, expect, it } from 'vitest';
import {
  eventLoopMeasurement,
  instrumentRuntime,
  runtimeMetrics,
  startPoller,
} from '../../src/runtime/index.js';

/** Expects `run` to throw a TypeError with `code`, whose message matches `message`. */
function expectCode(run: () => unknown, code: string, message: RegExp): void {
  expect(run).toThrow(
    expect.objectContaining({ name: 'TypeError', code, message: expect.stringMatching(message) }),
  );
}

describe('telemeter/runtime options', () => {
  // One typo per function that takes options: the code, the key and the closest valid one. Each throws before
  // it starts anything, so nothing is left running.
  it.each([
    {
      name: 'startPoller',
      run: () => startPoller({ periode: 10 } as never),
      typo: 'periode',
      closest: 'period',
    },
    { name: 'startPoller', run: () => startPoller({ interval: 10 } as never), typo: 'interval' },
    {
      name: 'instrumentRuntime',
      run: () => instrumentRuntime({ initdelay: 5 } as never),
      typo: 'initdelay',
      closest: 'initDelay',
    },
    // instrumentRuntime names its poller itself, so the poller's `name` is not one of its options.
    { name: 'instrumentRuntime', run: () => instrumentRuntime({ name: 'x' } as never), typo: 'name' },
    {
      name: 'runtimeMetrics',
      run: () => runtimeMetrics({ prefx: 'shop_' } as never),
      typo: 'prefx',
      closest: 'prefix',
    },
    {
      name: 'runtimeMetrics',
      run: () => runtimeMetrics({ gcDurationBucket: [1] } as never),
      typo: 'gcDurationBucket',
      closest: 'gcDurationBuckets',
    },
    {
      name: 'eventLoopMeasurement',
      run: () => eventLoopMeasurement({ resolutin: 5 } as never),
      typo: 'resolutin',
      closest: 'resolution',
    },
  ] as Array<{ name: string; run: () => unknown; typo: string; closest?: string }>)(
    '$name rejects the misspelt option $typo, naming the closest valid one',
    ({ name, run, typo, closest }) => {
      const hint = closest === undefined ? '' : `did you mean ${closest}\\? `;
      expectCode(
        run,
        'ERR_TELEMETER_UNKNOWN_OPTION',
        new RegExp(`^telemeter: ${name}: option ${typo} is unknown \\(${hint}valid`),
      );
    },
  );

  it('gives invalid values and non-objects a code of their own', () => {
    const invalid = 'ERR_TELEMETER_INVALID_OPTION';
    expectCode(
      () => instrumentRuntime(null as never),
      invalid,
      /instrumentRuntime: options must be an object/,
    );
    expectCode(() => instrumentRuntime({ gc: 'yes' as never }), invalid, /option gc must be a boolean/);
    expectCode(() => instrumentRuntime({ period: 0 }), invalid, /startPoller: option period/);
    expectCode(() => runtimeMetrics({ prefix: '1x' }), invalid, /runtimeMetrics: option prefix/);
    expectCode(() => eventLoopMeasurement({ resolution: 0 }), invalid, /option resolution/);
    expectCode(() => eventLoopMeasurement({ exactAt: [-1] }), invalid, /option exactAt/);
    expectCode(() => eventLoopMeasurement([] as never), invalid, /eventLoopMeasurement: options must be/);
  });
});
