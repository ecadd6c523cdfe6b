import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';

/**
 * How the peers are set up in every section, so each one is configured the same way everywhere.
 *
 * prom-client: its own Registry (no default metrics). Summary: prom-client's default (one t-digest per series,
 * no sliding window), with telemeter's four quantiles so both export the same number of lines.
 * OpenTelemetry: a MeterProvider whose only reader is the Prometheus exporter (server not started), with a view
 * that lifts the per-stream cardinality limit (default 2000) far above every series count used here.
 */

/** prom-client's default histogram bounds; the hot path gives these to all three libraries. */
export const PROM_DEFAULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The quantiles telemeter's summaries export by default. */
export const SUMMARY_QUANTILES = [0.5, 0.9, 0.95, 0.99];

export const OTEL_CARDINALITY_LIMIT = 1_000_000;

export interface OtelPipeline {
  readonly provider: MeterProvider;
  readonly exporter: PrometheusExporter;
  /** What the exporter's HTTP handler does per scrape: collect, then serialize to one string. */
  scrape(): Promise<string>;
  shutdown(): Promise<void>;
}

export function otelPipeline(): OtelPipeline {
  const exporter = new PrometheusExporter({ preventServerStart: true });
  const provider = new MeterProvider({
    readers: [exporter],
    views: [{ instrumentName: '*', aggregationCardinalityLimit: OTEL_CARDINALITY_LIMIT }],
  });
  // The exporter's own defaults: no prefix, no timestamps, scope labels and target_info included.
  const serializer = new PrometheusSerializer();
  return {
    provider,
    exporter,
    async scrape() {
      const { resourceMetrics, errors } = await exporter.collect();
      if (errors.length > 0) throw new Error(`bench: OpenTelemetry collection failed: ${String(errors[0])}`);
      return serializer.serialize(resourceMetrics);
    },
    async shutdown() {
      await provider.shutdown();
    },
  };
}
