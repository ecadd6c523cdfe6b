export {
  contentTypeOf,
  type ExpositionFormat,
  OPENMETRICS_CONTENT_TYPE,
  PROMETHEUS_TEXT_CONTENT_TYPE,
  PROTOBUF_CONTENT_TYPE,
  type WireFormat,
} from './content-types.js';
export { formatCanonical, formatValue } from './number-format.js';
export {
  ExpositionSyntaxError,
  openMetricsName,
  type ParsedFamily,
  type ParsedSample,
  type ParsedType,
  parsedTypeOf,
  parseExposition,
  reservedNames,
} from './parse.js';
export { encodeProtobuf } from './protobuf.js';
export { renderExposition } from './render.js';
export { renderParsedFamily } from './render-parsed.js';
