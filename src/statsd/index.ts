/**
 * `telemeter/statsd`: pushes a Telemeter's metrics to StatsD or DogStatsD over UDP or a Unix stream socket.
 *
 * @packageDocumentation
 */
export type { DistributionType, StatsdFormat, StatsdOptions } from './options.js';
export {
  STATSD_PACKET_ERROR_EVENT,
  STATSD_PACKET_SENT_EVENT,
  type StatsdPush,
  startStatsd,
} from './start-statsd.js';
