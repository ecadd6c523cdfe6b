export {
  attach,
  attachMany,
  detach,
  execute,
  HANDLER_FAILURE_EVENT,
  hasHandlers,
  listHandlers,
} from './bus.js';
export { monotonicTime, systemTime } from './clock.js';
export { addCollector, runCollectors } from './collectors.js';
export { elapsedNs, monotonicNs, readClock, systemNs } from './operation-clock.js';
export { type SpanContext, type SpanControl, span } from './span.js';
export {
  type EventHandler,
  HandlerError,
  type HandlerInfo,
  type Measurements,
  type Metadata,
} from './types.js';
