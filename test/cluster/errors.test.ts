import { once } from 'node:events';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type ClusterWorkerOptions,
  clusterTelemeter,
  startClusterPrimary,
  startClusterWorker,
} from '../../src/cluster/index.js';
import type { TelemeterErrorCode } from '../../src/errors.js';
import { counter, lastValue, Telemeter } from '../../src/index.js';
import { clusterMetrics } from '../fixtures/cluster-metrics.js';

/** Every throw of telemeter/cluster: its stable code, and a message that names the function and the option. */

const telemeters: Telemeter[] = [];
afterEach(() => {
  for (const t of telemeters.splice(0)) t.close();
});

function plain(): Telemeter {
  const t = new Telemeter({ metrics: clusterMetrics(), selfMetrics: false });
  telemeters.push(t);
  return t;
}

function primary(): Telemeter {
  const t = clusterTelemeter({ metrics: clusterMetrics(), selfMetrics: false });
  telemeters.push(t);
  return t;
}

function expectError(fn: () => unknown, code: TelemeterErrorCode, message: RegExp): void {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  expect(thrown, `expected ${code}`).toBeInstanceOf(TypeError);
  expect((thrown as { code?: unknown }).code).toBe(code);
  expect((thrown as Error).message).toMatch(message);
}

describe('startClusterWorker', () => {
  it('rejects what is not a worker’s Telemeter, and where no primary can be reached', () => {
    expectError(
      () => startClusterWorker({} as Telemeter),
      'ERR_TELEMETER_INVALID_ARGUMENT',
      /startClusterWorker needs the Telemeter of this worker/,
    );
    expectError(
      () => startClusterWorker(primary()),
      'ERR_TELEMETER_INVALID_STATE',
      /built by clusterTelemeter\(\), which is for the primary/,
    );
    expectError(
      () => startClusterWorker(plain()),
      'ERR_TELEMETER_INVALID_STATE',
      /must run in a node:cluster worker or a worker thread/,
    );
  });

  it('rejects unknown and invalid options, suggesting the closest key', () => {
    const t = plain();
    const cases: Array<[unknown, TelemeterErrorCode, RegExp]> = [
      [
        { flushIntervall: 10 },
        'ERR_TELEMETER_UNKNOWN_OPTION',
        /option flushIntervall is unknown \(did you mean flushInterval\?/,
      ],
      [{ welcomeTimout: 10 }, 'ERR_TELEMETER_UNKNOWN_OPTION', /did you mean welcomeTimeout\?/],
      [{ maxEntries: 10 }, 'ERR_TELEMETER_UNKNOWN_OPTION', /option maxEntries is unknown/],
      [null, 'ERR_TELEMETER_INVALID_OPTION', /startClusterWorker: options must be an object/],
      [
        { flushInterval: 5 },
        'ERR_TELEMETER_INVALID_OPTION',
        /startClusterWorker: option flushInterval must be an integer from 10/,
      ],
      [
        { maxEntriesPerMessage: 0 },
        'ERR_TELEMETER_INVALID_OPTION',
        /option maxEntriesPerMessage must be an integer >= 1/,
      ],
      [
        { welcomeTimeout: 0 },
        'ERR_TELEMETER_INVALID_OPTION',
        /option welcomeTimeout must be an integer from 1 to 600000/,
      ],
      [{ welcomeTimeout: '1s' }, 'ERR_TELEMETER_INVALID_OPTION', /option welcomeTimeout .*got "1s"/],
    ];
    for (const [options, code, message] of cases) {
      expectError(() => startClusterWorker(t, options as ClusterWorkerOptions), code, message);
    }
  });

  it('refuses a second exporter for one Telemeter while the first runs', async () => {
    const bootstrap = fileURLToPath(new URL('../fixtures/thread-bootstrap.mjs', import.meta.url));
    const entry = pathToFileURL(
      fileURLToPath(new URL('../fixtures/cluster-worker-twice.ts', import.meta.url)),
    );
    const worker = new Worker(bootstrap, { workerData: { entry: entry.href } });
    const exited = once(worker, 'exit');
    // The exporter's hello comes first on parentPort; the answer is the message with a cmd.
    const answer = await new Promise<{ code: string; message: string }>((resolve) => {
      worker.on('message', (m) => {
        if (m?.cmd === 'twice') resolve(m);
      });
    });
    expect(answer.code).toBe('ERR_TELEMETER_INVALID_STATE');
    expect(answer.message).toMatch(/already running for this Telemeter/);
    await exited;
  });
});

describe('startClusterPrimary and addWorkerThread', () => {
  it('reject a Telemeter not built by clusterTelemeter, unknown and invalid options, and a non-Worker', () => {
    expectError(
      () => startClusterPrimary(plain()),
      'ERR_TELEMETER_INVALID_ARGUMENT',
      /clusterTelemeter\(options\)/,
    );
    const p = primary();
    const cases: Array<[unknown, TelemeterErrorCode, RegExp]> = [
      [
        { timeout: 5 },
        'ERR_TELEMETER_UNKNOWN_OPTION',
        /startClusterPrimary: option timeout is unknown \(did you mean timeoutMs\?/,
      ],
      [{ clusters: false }, 'ERR_TELEMETER_UNKNOWN_OPTION', /did you mean cluster\?/],
      ['fast', 'ERR_TELEMETER_INVALID_OPTION', /startClusterPrimary: options must be an object/],
      [
        { timeoutMs: 0 },
        'ERR_TELEMETER_INVALID_OPTION',
        /startClusterPrimary: option timeoutMs must be an integer from 1 to 60000/,
      ],
      [
        { cluster: 'no' },
        'ERR_TELEMETER_INVALID_OPTION',
        /startClusterPrimary: option cluster must be a boolean/,
      ],
    ];
    for (const [options, code, message] of cases) {
      expectError(() => startClusterPrimary(p, options as never), code, message);
    }
    const aggregator = startClusterPrimary(p, { cluster: false });
    try {
      expectError(
        () => aggregator.addWorkerThread({} as Worker),
        'ERR_TELEMETER_INVALID_ARGUMENT',
        /addWorkerThread needs a worker_threads Worker/,
      );
    } finally {
      aggregator.close();
    }
  });
});

describe('clusterTelemeter', () => {
  it('rejects unknown options (suggesting the closest of its own and the Telemeter’s) and invalid ones', () => {
    const metrics = clusterMetrics();
    const cases: Array<[unknown, TelemeterErrorCode, RegExp]> = [
      [
        { metrics, gaugeAgregation: 'sum' },
        'ERR_TELEMETER_UNKNOWN_OPTION',
        /clusterTelemeter: option gaugeAgregation is unknown \(did you mean gaugeAggregation\?/,
      ],
      [{ metrics, maxSerie: 10 }, 'ERR_TELEMETER_UNKNOWN_OPTION', /did you mean maxSeries\?/],
      [{ metrics, globaltags: {} }, 'ERR_TELEMETER_UNKNOWN_OPTION', /did you mean globalTags\?/],
      [undefined, 'ERR_TELEMETER_INVALID_OPTION', /clusterTelemeter: options must be an object/],
      [{ metrics: 'all' }, 'ERR_TELEMETER_INVALID_OPTION', /option metrics must be an array/],
      [
        { metrics, gaugeAggregation: 'avg' },
        'ERR_TELEMETER_INVALID_OPTION',
        /option gaugeAggregation must be one of/,
      ],
      [
        { metrics, workerLabel: '__w' },
        'ERR_TELEMETER_INVALID_OPTION',
        /option workerLabel must be a valid label name/,
      ],
      [
        { metrics, globalTags: { worker: 'x' } },
        'ERR_TELEMETER_INVALID_OPTION',
        /option workerLabel "worker" is also a key of globalTags/,
      ],
      [
        { metrics: [lastValue('q.depth', { eventName: 'q', measurement: 'depth', tags: ['worker'] })] },
        'ERR_TELEMETER_INVALID_OPTION',
        /metric "q.depth" already has a tag "worker".*set option workerLabel/,
      ],
    ];
    for (const [options, code, message] of cases)
      expectError(() => clusterTelemeter(options as never), code, message);
  });

  it('takes a logger, as the Telemeter does', () => {
    const warnings: string[] = [];
    const t = clusterTelemeter({
      metrics: [counter('c.count', { eventName: 'c', measurement: 'n' })],
      logger: { warn: (_f, m) => warnings.push(m), error: (_f, m) => warnings.push(m) },
    });
    telemeters.push(t);
    t.logger.warnOnce('k', {}, 'hello');
    expect(warnings).toEqual(['hello']);
  });
});
