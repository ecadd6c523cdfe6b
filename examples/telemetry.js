// The shop's metric definitions, in a module of their own: the shop's Telemeter aggregates them, and the CLI
// generates the Grafana dashboard and the alert rules from the same list, so neither can drift.
//
//   npx telemeter grafana --module examples/telemetry.js --title Shop -o dashboard.json
//   npx telemeter rules --module examples/telemetry.js -o telemeter.rules.yml
//
// This is the metric list of Phoenix's generated telemetry.ex, as the article adapted it for Peep, over
// Node.js events: telemeter/http for the endpoint and router, the shop's own `shop.repo.query` event for the
// database, telemeter/runtime for the VM.
import { distribution, lastValue, sum, summary } from 'telemeter';
import { httpMetrics } from 'telemeter/http';
import { runtimeMetrics } from 'telemeter/runtime';

const ms = ['native', 'millisecond'];

export const metrics = [
  // http_server_requests_total, http_server_request_duration_seconds, ... by method, route and status.
  ...httpMetrics(),
  // process_* and nodejs_*, under prom-client's names.
  ...runtimeMetrics(),

  // Endpoint and router, as the article's distributions.
  distribution('http.server.request.stop.duration', {
    unit: ms,
    tags: ['route'],
    description: 'Time to serve a request, by route template.',
    reporterOptions: { buckets: [5, 10, 25, 50, 100, 250, 500, 1000, 2500] },
  }),
  summary('http.server.request.exception.duration', {
    unit: ms,
    tags: ['route'],
    description: 'Time until a request handler failed.',
  }),

  // Database: one event per query, five measurements (Ecto's names).
  summary('shop.repo.query.total_time', { unit: ms, description: 'The sum of the other measurements.' }),
  summary('shop.repo.query.decode_time', { unit: ms, description: 'Time spent decoding the rows.' }),
  summary('shop.repo.query.query_time', { unit: ms, description: 'Time spent executing the query.' }),
  summary('shop.repo.query.queue_time', { unit: ms, description: 'Time spent waiting for a connection.' }),
  summary('shop.repo.query.idle_time', {
    unit: ms,
    description: 'Time the connection was idle before the query.',
  }),

  // The shop's business metric; Prometheus stores it as shop_order_amount_total{currency}.
  sum('shop.order.amount', { tags: ['currency'], description: 'Value of the orders checked out.' }),

  // VM metrics, as in the article (vm.memory.total in kilobytes).
  lastValue('vm.memory.total', {
    unit: ['byte', 'kilobyte'],
    description: 'Resident memory of the process.',
  }),
  lastValue('vm.total_run_queue_lengths.total', { description: 'Active libuv resources.' }),
  lastValue('vm.total_run_queue_lengths.io', { description: 'Active libuv resources waiting on I/O.' }),

  // The metrics endpoint's own timing.
  distribution('telemeter.scrape.stop.duration', {
    unit: ms,
    description: 'Time to render and send a scrape of /metrics.',
    reporterOptions: { buckets: [1, 5, 10, 50, 100, 500] },
  }),
];
