import { counter, distribution, execute, lastValue, sum, summary, Telemeter } from '../../src/index.js';

/** Tag values that break naive exposition writers. */
export const HOSTILE_TAG_VALUES = [
  'plain',
  'quote"inside',
  'back\\slash',
  'new\nline',
  'tab\tand cr\r',
  'unicode ✓ ünïcödé 日本 🚀',
  '',
  '{curly},comma=eq',
  '\\n literal',
  '<img src=x onerror=alert(1)>',
];

/**
 * One Telemeter holding every metric type, fed a fixed sequence of events: the input of the golden files
 * and of the outside judges. Event names are unique to the fixture so tests can run side by side.
 */
export function everyTypeFixture(prefix: string, options: { selfMetrics?: boolean } = {}): Telemeter {
  const telemeter = new Telemeter({
    metrics: [
      counter(`${prefix}.http.request.count`, {
        eventName: `${prefix}.http.request.stop`,
        measurement: 'duration',
        tags: ['route', 'status'],
        description: 'HTTP requests "served", with a \\ backslash\nand a newline.',
      }),
      distribution(`${prefix}.http.request.stop.duration`, {
        unit: ['native', 'millisecond'],
        tags: ['route'],
        reporterOptions: { buckets: [0.5, 1, 10, 100, 1000000] },
      }),
      distribution(`${prefix}.http.request.stop.duration_seconds`, {
        measurement: 'duration',
        unit: ['native', 'second'],
        description: 'Request duration in seconds.',
        reporterOptions: { buckets: [0.00001, 0.001, 0.25, 1, 2.5] },
      }),
      lastValue(`${prefix}.vm.memory.total`, { unit: ['byte', 'kilobyte'] }),
      sum(`${prefix}.shop.order.amount`, { tags: ['currency'], description: 'Order value' }),
      sum(`${prefix}.shop.stock.delta`, { reporterOptions: { prometheusType: 'gauge' } }),
      sum(`${prefix}.shop.payload.bytes_total`, {
        eventName: `${prefix}.shop.payload`,
        measurement: 'bytes',
        unit: 'byte',
      }),
      summary(`${prefix}.db.query.stop.duration`, {
        unit: ['native', 'millisecond'],
        tags: ['table'],
        reporterOptions: { quantiles: [0.5, 0.9, 0.99] },
      }),
      lastValue(`${prefix}.empty.metric.value`, { tags: ['never'] }),
    ],
    globalTags: { service: 'shop' },
    selfMetrics: options.selfMetrics ?? false,
  });
  HOSTILE_TAG_VALUES.forEach((route, i) => {
    execute(`${prefix}.http.request.stop`, { duration: (i + 1) * 700_000 }, { route, status: 200 + i });
  });
  execute(`${prefix}.http.request.stop`, { duration: 2_000_000_000 }, { route: 'plain', status: 500 });
  execute(`${prefix}.vm.memory`, { total: 52_428_800 });
  execute(`${prefix}.shop.order`, { amount: 19.99 }, { currency: 'EUR' });
  execute(`${prefix}.shop.order`, { amount: 0.01 }, { currency: 'EUR' });
  execute(`${prefix}.shop.order`, { amount: 5 }, { currency: 'USD' });
  execute(`${prefix}.shop.stock`, { delta: 3 });
  execute(`${prefix}.shop.stock`, { delta: -10 });
  execute(`${prefix}.shop.payload`, { bytes: 2048 });
  for (let i = 1; i <= 100; i++) {
    execute(
      `${prefix}.db.query.stop`,
      { duration: i * 1_000_000 },
      { table: i % 2 === 0 ? 'orders' : 'users' },
    );
  }
  return telemeter;
}

/**
 * Tag values that are different strings in JavaScript but one label set on the wire once encoded as UTF-8 (lone
 * surrogates become U+FFFD), and a real value that reads like the overflow series.
 */
export const COLLIDING_TAG_VALUES = ['\uD800', '\uDC00', 'a\uD83D', '\uFFFD', 'a\uFFFD', '__overflow__'];

/**
 * Observations OpenMetrics constrains (negative values in histograms and summaries), and tag values that collide
 * once encoded: the input of the judges' edge-value checks.
 */
export function edgeValuesFixture(prefix: string): Telemeter {
  const telemeter = new Telemeter({
    metrics: [
      distribution(`${prefix}.temperature.change`, {
        tags: ['sensor'],
        reporterOptions: { buckets: [0, 1, 5] },
      }),
      distribution(`${prefix}.balance.delta`, { reporterOptions: { buckets: [-10, 0, 10] } }),
      summary(`${prefix}.clock.skew`, { tags: ['sensor'], reporterOptions: { quantiles: [0.1, 0.5, 0.99] } }),
      counter(`${prefix}.label.seen`, { eventName: `${prefix}.label`, measurement: 'n', tags: ['value'] }),
      counter(`${prefix}.capped.seen`, {
        eventName: `${prefix}.label`,
        measurement: 'n',
        tags: ['value'],
        reporterOptions: { maxSeries: 1 },
      }),
    ],
    selfMetrics: false,
  });
  for (const change of [-5, 0.5, 3]) execute(`${prefix}.temperature`, { change }, { sensor: 'mixed' });
  execute(`${prefix}.temperature`, { change: -5 }, { sensor: 'cold' });
  execute(`${prefix}.temperature`, { change: 2 }, { sensor: 'warm' });
  for (const delta of [-20, -1, 4, 30]) execute(`${prefix}.balance`, { delta });
  for (const skew of [-5, -1, 2]) execute(`${prefix}.clock`, { skew }, { sensor: 'mixed' });
  execute(`${prefix}.clock`, { skew: -5 }, { sensor: 'negative' });
  for (const value of COLLIDING_TAG_VALUES) execute(`${prefix}.label`, { n: 1 }, { value });
  return telemeter;
}
