/**
 * `telemeter/mysql2`: MySQL and MariaDB statement and pool metrics from mysql2's TracingChannels (3.20+).
 * mysql2 is a peer dependency: this module subscribes to its channels and never imports it.
 */
export {
  instrumentMysql2,
  type Mysql2Instrumentation,
  type Mysql2InstrumentationOptions,
  mysqlErrorType,
} from './instrument.js';
export { type Mysql2MetricsOptions, mysql2Metrics } from './metrics.js';
