export {
  contentTypeOf,
  type ExpositionFormat,
  OPENMETRICS_CONTENT_TYPE,
  PROMETHEUS_TEXT_CONTENT_TYPE,
} from './content-types.js';
export { formatCanonical, formatValue } from './number-format.js';
export { renderExposition } from './render.js';
