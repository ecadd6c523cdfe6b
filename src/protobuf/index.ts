/**
 * Protocol buffers encoding for the exporters that speak it (the Prometheus protobuf exposition, OTLP): a wire
 * writer with no dependencies. Internal to telemeter; not a package entry point.
 *
 * @packageDocumentation
 */
export { type MessageMark, ProtobufWriter, varintSize, zigzag } from './writer.js';
