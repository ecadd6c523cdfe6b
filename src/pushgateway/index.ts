/**
 * `telemeter/pushgateway`: pushes a Telemeter's metrics to a Prometheus Pushgateway, for batch jobs that end before
 * any scrape could reach them, and deletes pushed groups.
 *
 * @packageDocumentation
 */
export type {
  DeleteFromGatewayOptions,
  GatewayGroupOptions,
  PushToGatewayOptions,
} from './options.js';
export { deleteFromGateway, type PushSource, pushToGateway } from './push.js';
export { PushgatewayError } from './pushgateway-error.js';
