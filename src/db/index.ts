export {
  DB_CONNECTION_EVENTS,
  DB_CONNECTION_WAIT_BUCKETS,
  type DbConnectionCountMetadata,
  type DbPoolMetadata,
  dbConnectionPoolMetrics,
} from './connection-pool.js';
export {
  DB_OPERATION_EVENT_PREFIX,
  DB_OPERATION_EVENTS,
  DB_OPERATION_TAGS,
  type DbOperationMetadata,
  type DbSystemName,
} from './operation-events.js';
export { DB_OPERATION_DURATION_BUCKETS, dbOperationMetrics } from './operation-metrics.js';
export { type SqlSummary, summarizeSql } from './sql-summary.js';
