/**
 * Prometheus protobuf exposition bodies decoded by protobufjs (a standard protobuf library), with the schema written
 * from client_model's field table in test/fixtures/prometheus-metrics.proto. protobufjs generates its decoders from
 * strings: not for the no-codegen project.
 */
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

const root = new protobuf.Root().loadSync(
  fileURLToPath(new URL('../fixtures/prometheus-metrics.proto', import.meta.url)),
  { keepCase: true },
);
const MetricFamilyType = root.lookupType('io.prometheus.client.MetricFamily');

export interface Timestamp {
  seconds?: number;
  nanos?: number;
}
export interface DecodedMetric {
  label: { name: string; value: string }[];
  gauge?: { value: number };
  counter?: { value: number; created_timestamp?: Timestamp };
  summary?: {
    sample_count: number;
    sample_sum: number;
    quantile: { quantile: number; value: number }[];
    created_timestamp?: Timestamp;
  };
  histogram?: {
    sample_count: number;
    sample_sum: number;
    bucket: { cumulative_count: number; upper_bound: number }[];
    created_timestamp?: Timestamp;
    schema?: number;
    zero_threshold?: number;
    zero_count?: number;
    negative_span?: { offset?: number; length?: number }[];
    negative_delta?: number[];
    positive_span?: { offset?: number; length?: number }[];
    positive_delta?: number[];
  };
}
export interface DecodedFamily {
  name: string;
  help: string;
  type: string;
  unit?: string;
  metric: DecodedMetric[];
}

/** Every length-delimited MetricFamily of `body`, as protobufjs reads them. */
export function decodeFamilies(body: Uint8Array): DecodedFamily[] {
  const reader = protobuf.Reader.create(body);
  const families: DecodedFamily[] = [];
  while (reader.pos < reader.len) {
    const message = MetricFamilyType.decodeDelimited(reader);
    const object = MetricFamilyType.toObject(message, { longs: Number, enums: String, arrays: true });
    families.push(withoutEmptyRepeats(object) as DecodedFamily);
  }
  return families;
}

/** Leaves out the repeated fields the exposition never fills (native histogram spans, exemplars) when empty. */
function withoutEmptyRepeats(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutEmptyRepeats);
  if (typeof value !== 'object' || value === null) return value;
  const kept: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) {
    if (Array.isArray(field) && field.length === 0 && !ALWAYS_LISTED.has(key)) continue;
    kept[key] = withoutEmptyRepeats(field);
  }
  return kept;
}
const ALWAYS_LISTED = new Set(['metric', 'label', 'bucket', 'quantile']);
