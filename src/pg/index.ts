/**
 * `telemeter/pg`: node-postgres (`pg`, `pg-pool`) query and pool metrics. pg is a peer dependency: this module
 * only wraps the Pool or Client it is given and never imports pg.
 */
export {
  instrumentPg,
  type PgInstrumentation,
  type PgInstrumentationOptions,
  type PgQueryDescription,
  type PgQueryTags,
  pgErrorType,
} from './instrument.js';
export { type PgMetricsOptions, pgMetrics } from './metrics.js';
