/**
 * `telemeter/cluster`: one `/metrics` for a node:cluster application or one that uses worker threads.
 * Workers record into their own Telemeter at full speed and ship what changed (`startClusterWorker`);
 * the primary merges it into its Telemeter (`clusterTelemeter` + `startClusterPrimary`) and serves it.
 *
 * @packageDocumentation
 */
export {
  type ClusterAggregator,
  type ClusterPrimaryOptions,
  type CollectResult,
  startClusterPrimary,
} from './aggregator.js';
export {
  type ClusterTelemeterOptions,
  COLLECT_STOP_EVENT,
  clusterTelemeter,
  PRIMARY_WORKER_LABEL,
} from './cluster-telemeter.js';
export type { GaugeAggregation } from './gauge-merge.js';
export { type ClusterWorker, type ClusterWorkerOptions, startClusterWorker } from './worker.js';
