import { afterEach } from 'vitest';
import { type MetricDefinition, Telemeter, type TelemeterOptions } from '../../src/index.js';

/** What {@link closedAfterEach} returns. */
export interface TestTelemeters {
  /** A new Telemeter of `metrics`, closed after the test; the file's defaults, then `options`. */
  make(metrics: MetricDefinition[], options?: Partial<TelemeterOptions>): Telemeter;
  /** Closes `telemeter` after the test, and returns it. */
  track<T extends { close(): unknown }>(telemeter: T): T;
}

/**
 * Telemeters a test file makes, each closed after the test that made it. Call it once at the top level of a file:
 * it registers the `afterEach`. `defaults` apply to every `make` (self-metrics off unless they say otherwise).
 */
export function closedAfterEach(
  defaults: Partial<TelemeterOptions> = { selfMetrics: false },
): TestTelemeters {
  const open: { close(): unknown }[] = [];
  afterEach(() => {
    for (const telemeter of open.splice(0)) telemeter.close();
  });
  const track = <T extends { close(): unknown }>(telemeter: T): T => {
    open.push(telemeter);
    return telemeter;
  };
  return {
    make: (metrics, options = {}) => track(new Telemeter({ metrics, ...defaults, ...options })),
    track,
  };
}
