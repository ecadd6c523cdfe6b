/**
 * An OTLP/HTTP metrics receiver for tests: a real HTTP server on loopback that decodes every request with
 * protobufjs and the official opentelemetry-proto files (test/fixtures/otlp-proto, v1.11.0 and later), or as
 * OTLP JSON through the same schema, and answers as told (200, or a status with `Retry-After`, or late).
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import protobuf from 'protobufjs';
import { expect } from 'vitest';
import type { MetricFamily } from '../../src/index.js';

const PROTO_ROOT = fileURLToPath(new URL('../fixtures/otlp-proto/', import.meta.url));

const root = new protobuf.Root();
root.resolvePath = (_origin, target) => (target.startsWith('/') ? target : `${PROTO_ROOT}${target}`);
root.loadSync('opentelemetry/proto/collector/metrics/v1/metrics_service.proto', { keepCase: false });
/** opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest, from the official .proto files. */
export const ExportMetricsServiceRequest = root.lookupType(
  'opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest',
);
/** opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceResponse. */
export const ExportMetricsServiceResponse = root.lookupType(
  'opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceResponse',
);

/** A decoded request as plain data: int64s as decimal strings, enums as numbers, bytes as base64. */
export type DecodedRequest = any;

const TO_OBJECT = { longs: String, enums: Number, bytes: String, defaults: false, arrays: true } as const;

/** Decodes a protobuf `ExportMetricsServiceRequest` body. */
export function decodeProtobuf(body: Uint8Array): DecodedRequest {
  return ExportMetricsServiceRequest.toObject(ExportMetricsServiceRequest.decode(body), TO_OBJECT);
}

/** Reads an OTLP JSON body through the same schema (fromObject accepts camelCase keys and decimal-string int64s). */
export function decodeJson(text: string): DecodedRequest {
  const parsed = JSON.parse(text, (_key, value) =>
    value === 'NaN'
      ? Number.NaN
      : value === 'Infinity'
        ? Infinity
        : value === '-Infinity'
          ? -Infinity
          : value,
  );
  return ExportMetricsServiceRequest.toObject(ExportMetricsServiceRequest.fromObject(parsed), TO_OBJECT);
}

export interface ReceivedRequest {
  readonly headers: IncomingMessage['headers'];
  /** The body as sent (still compressed when gzip). */
  readonly raw: Buffer;
  readonly decoded: DecodedRequest;
}

/** What to answer to request number `n` (0-based): a status and headers, after `delayMs`. */
export type Answer = (n: number) => {
  status: number;
  headers?: Record<string, string>;
  delayMs?: number;
  body?: string | Uint8Array;
};

export class OtlpReceiver {
  /** Requests answered 2xx, decoded. */
  readonly accepted: ReceivedRequest[] = [];
  /** Every request that arrived, whatever the answer. */
  requests = 0;
  answer: Answer = () => ({ status: 200 });
  private readonly server: Server;
  private readonly pending = new Set<ServerResponse>();

  private constructor() {
    this.server = createServer((request, response) => void this.handle(request, response));
  }

  static async start(port = 0): Promise<OtlpReceiver> {
    const receiver = new OtlpReceiver();
    receiver.server.listen(port, '127.0.0.1');
    await once(receiver.server, 'listening');
    return receiver;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/v1/metrics`;
  }

  /** Every data point accepted so far, flattened: metric name, kind, and the point. */
  points(): Array<{ name: string; kind: string; metric: DecodedRequest; point: DecodedRequest }> {
    const out: Array<{ name: string; kind: string; metric: DecodedRequest; point: DecodedRequest }> = [];
    for (const request of this.accepted) {
      for (const rm of request.decoded.resourceMetrics ?? []) {
        for (const sm of rm.scopeMetrics ?? []) {
          for (const metric of sm.metrics ?? []) {
            const kind = ['gauge', 'sum', 'histogram', 'summary', 'exponentialHistogram'].find(
              (k) => metric[k],
            );
            if (kind === undefined) continue;
            for (const point of metric[kind].dataPoints ?? [])
              out.push({ name: metric.name, kind, metric, point });
          }
        }
      }
    }
    return out;
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const n = this.requests++;
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const answer = this.answer(n);
    if (answer.delayMs !== undefined) {
      this.pending.add(response);
      await new Promise((resolve) => setTimeout(resolve, answer.delayMs));
      this.pending.delete(response);
      if (response.destroyed || request.socket.destroyed) return;
    }
    if (answer.status >= 200 && answer.status < 300) {
      const body = request.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
      const decoded =
        request.headers['content-type'] === 'application/json'
          ? decodeJson(body.toString('utf8'))
          : decodeProtobuf(body);
      this.accepted.push({ headers: request.headers, raw, decoded });
    }
    response.writeHead(answer.status, {
      'content-type': 'application/x-protobuf',
      ...(answer.headers ?? {}),
    });
    response.end(answer.body ?? '');
  }

  async close(): Promise<void> {
    for (const response of this.pending) response.destroy();
    this.server.closeAllConnections();
    this.server.close();
    await once(this.server, 'close').catch(() => undefined);
  }
}

/** Nanoseconds (a decimal string, as decoded) as Unix milliseconds. */
export function nanosToMs(nanos: string | undefined): number {
  return nanos === undefined ? 0 : Number(BigInt(nanos) / 1_000_000n);
}

/** A decoded point's attributes as a plain record (string values). */
export function attributesOf(point: DecodedRequest): Record<string, string> {
  const out: Record<string, string> = {};
  for (const { key, value } of point.attributes ?? []) out[key] = value?.stringValue ?? JSON.stringify(value);
  return out;
}

/** The labels of `series` as the point's attributes should carry them (global tags included). */
export function labelsOf(family: MetricFamily, series: number): Record<string, string> {
  const labels: Record<string, string> = {};
  family.forEachLabel(series, (name, value) => {
    labels[name] = value;
  });
  return labels;
}

/** The one point among `points` whose attributes are the labels of `series`. */
export function pointFor(points: DecodedRequest[], family: MetricFamily, series: number): DecodedRequest {
  const labels = JSON.stringify(labelsOf(family, series));
  const matches = points.filter((p) => JSON.stringify(attributesOf(p)) === labels);
  expect(matches, `${family.name} ${labels}`).toHaveLength(1);
  return matches[0];
}
