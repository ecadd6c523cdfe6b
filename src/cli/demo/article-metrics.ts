import { distribution, lastValue, type MetricDefinition, sum, summary } from '../../metrics/index.js';

/**
 * The article's metric list (Phoenix's generated `telemetry.ex`, as the article adapted it for Peep), written
 * as telemeter definitions over Node.js events. Unlike Peep, telemeter keeps the summaries, so the list works
 * with Phoenix's own metric types unchanged.
 *
 * - Phoenix endpoint and router timings → `http.server.request.*` events from `telemeter/http`.
 * - Ecto's repo query times → the shop's `shop.repo.query` event (same measurement names), re-emitted from
 *   the `db.client.operation.stop` events of the shop's store.
 * - VM metrics → `vm.*` events from the `telemeter/runtime` poller, under the article's names.
 * - The metrics router's own timing (the article's `Plug.Telemetry, event_prefix: [MyAppPeep, :plug]`)
 *   → `telemeter.scrape.stop` from `telemeter/server`.
 *
 * The `*.start.system_time` summaries of Phoenix's list are left out: they summarize wall-clock timestamps.
 */
export function articleMetrics(): MetricDefinition[] {
  const ms = ['native', 'millisecond'] as const;
  return [
    // Endpoint and router (the article turned these into distributions for Peep).
    distribution('http.server.request.stop.duration', {
      unit: ms,
      tags: ['route'],
      description: 'Time to serve a request, by route template (phoenix.router_dispatch.stop.duration).',
      reporterOptions: { buckets: [5, 10, 25, 50, 100, 250, 500, 1000, 2500] },
    }),
    summary('http.server.request.exception.duration', {
      unit: ms,
      tags: ['route'],
      description: 'Time until a request handler failed (phoenix.router_dispatch.exception.duration).',
    }),

    // Database (Ecto's repo query event, kept as Phoenix's summaries).
    summary('shop.repo.query.total_time', { unit: ms, description: 'The sum of the other measurements.' }),
    // decode_time and idle_time: only the in-memory store reports them (pg has no such phases), so an event
    // without them is left out of these two, not counted as dropped.
    summary('shop.repo.query.decode_time', {
      unit: ms,
      keep: (_metadata, measurements) => typeof measurements.decode_time === 'number',
      description: 'The time spent decoding the data received from the database.',
    }),
    summary('shop.repo.query.query_time', { unit: ms, description: 'The time spent executing the query.' }),
    summary('shop.repo.query.queue_time', {
      unit: ms,
      description: 'The time spent waiting for a database connection.',
    }),
    summary('shop.repo.query.idle_time', {
      unit: ms,
      keep: (_metadata, measurements) => typeof measurements.idle_time === 'number',
      description: 'The time the connection spent waiting before being checked out for the query.',
    }),

    // The shop's own business metric.
    sum('shop.order.amount', { tags: ['currency'], description: 'Value of the orders checked out.' }),

    // VM metrics, as in the article.
    lastValue('vm.memory.total', {
      unit: ['byte', 'kilobyte'],
      description: 'Resident memory of the process.',
    }),
    lastValue('vm.total_run_queue_lengths.total', {
      description: 'Active libuv resources (handles and requests).',
    }),
    lastValue('vm.total_run_queue_lengths.cpu', {
      description: 'Run queue of CPU work (always 0 on Node.js).',
    }),
    lastValue('vm.total_run_queue_lengths.io', { description: 'Active libuv resources waiting on I/O.' }),

    // The metrics endpoint's own timing.
    distribution('telemeter.scrape.stop.duration', {
      unit: ms,
      description: 'Time to render and send a scrape of /metrics.',
      reporterOptions: { buckets: [1, 5, 10, 50, 100, 500] },
    }),
  ];
}
