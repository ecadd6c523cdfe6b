import { afterEach, describe, expect, it } from 'vitest';
import {
  alertRuleList,
  alertRules,
  DashboardHistory,
  grafanaDashboard,
  liveDashboard,
  mountDashboard,
} from '../../src/dashboard/index.js';
import { httpMetrics } from '../../src/http/index.js';
import { counter, lastValue, Telemeter } from '../../src/index.js';
import type { MetricsServer } from '../../src/server/index.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

function telemeter(): Telemeter {
  const t = new Telemeter({ metrics: httpMetrics() });
  cleanups.push(() => t.close());
  return t;
}

/** A metrics server that must not be reached: option errors are thrown before anything is mounted. */
const unreachableServer = {
  mount() {
    throw new Error('mount was reached');
  },
} as unknown as MetricsServer;

/** Expects `run` to throw a TypeError with `code`, whose message matches `message`. */
function expectCode(run: () => unknown, code: string, message: RegExp): void {
  expect(run).toThrow(
    expect.objectContaining({ name: 'TypeError', code, message: expect.stringMatching(message) }),
  );
}

describe('telemeter/dashboard options', () => {
  const definitions = httpMetrics();

  // One typo per function that takes options: the code, the key and the closest valid one.
  it.each([
    [
      'telemeter',
      'grafanaDashboard',
      () => grafanaDashboard(definitions, { titel: 'Shop' } as never),
      'titel',
      'title',
    ],
    [
      'telemeter',
      'alertRules',
      () => alertRules(definitions, { errorRation: 0.1 } as never),
      'errorRation',
      'errorRatio',
    ],
    ['telemeter', 'alertRules', () => alertRuleList(definitions, { jobs: 'shop' } as never), 'jobs', 'job'],
    [
      'telemeter/dashboard',
      'liveDashboard',
      () => liveDashboard(telemeter(), { pints: 10 } as never),
      'pints',
      'points',
    ],
    [
      'telemeter/dashboard',
      'mountDashboard',
      () => mountDashboard(unreachableServer, telemeter(), { titel: 'Ops' } as never),
      'titel',
      'title',
    ],
    [
      'telemeter/dashboard',
      'DashboardHistory',
      () => new DashboardHistory(telemeter(), { intervl: 1000 } as never),
      'intervl',
      'interval',
    ],
  ])(
    '%s: %s rejects a misspelt option and names the closest valid one',
    (scope, name, run, typo, closest) => {
      expectCode(
        run,
        'ERR_TELEMETER_UNKNOWN_OPTION',
        new RegExp(`^${scope}: ${name}: option ${typo} is unknown \\(did you mean ${closest}\\?`),
      );
    },
  );

  it('gives invalid values, entries and arguments a code of their own', () => {
    const invalid = 'ERR_TELEMETER_INVALID_OPTION';
    expectCode(() => grafanaDashboard(definitions, { uid: 'a b' }), invalid, /grafanaDashboard: option uid/);
    expectCode(() => grafanaDashboard(definitions, null as never), invalid, /options must be an object/);
    expectCode(() => alertRules(definitions, { errorRatio: 2 }), invalid, /alertRules: option errorRatio/);
    // Validated before anything is read from it.
    expectCode(
      () => alertRules(definitions, null as never),
      invalid,
      /alertRules: options must be an object/,
    );
    expectCode(
      () => liveDashboard(telemeter(), { path: 'dashboard' }),
      invalid,
      /^telemeter\/dashboard: liveDashboard: option path/,
    );
    expectCode(
      () => mountDashboard(unreachableServer, telemeter(), { points: 1 }),
      invalid,
      /^telemeter\/dashboard: mountDashboard: option points/,
    );
    expectCode(
      () => liveDashboard(telemeter(), { title: 5 as never }),
      invalid,
      /option title must be a string/,
    );

    const argument = 'ERR_TELEMETER_INVALID_ARGUMENT';
    expectCode(() => grafanaDashboard('x' as never), argument, /definitions must be an array/);
    expectCode(
      () => alertRules([{}] as never),
      argument,
      /alertRules: definitions\[0\] is not a metric definition/,
    );
    expectCode(
      () => grafanaDashboard([counter('a', { eventName: 'a', tags: ['a-b'] })]),
      argument,
      /tag "a-b" is not a valid Prometheus label name/,
    );
    expectCode(
      () => liveDashboard({} as never),
      argument,
      /liveDashboard: the first argument must be a Telemeter/,
    );
    expectCode(
      () =>
        grafanaDashboard([
          counter('a.b_total', { eventName: 'a' }),
          lastValue('a_b_total', { eventName: 'a' }),
        ]),
      'ERR_TELEMETER_DUPLICATE_NAME',
      /"a_b_total" exports "a_b_total", which "a.b_total" also exports/,
    );
  });
});
