import type { ExemplarFunction } from './definitions.js';

/** What telemeter uses of `@opentelemetry/api`: the active span and its context. */
export interface OpenTelemetryTraceApi {
  readonly trace: {
    getActiveSpan(): { spanContext(): { traceId: string; spanId: string; traceFlags: number } } | undefined;
    isSpanContextValid(context: { traceId: string; spanId: string; traceFlags: number }): boolean;
  };
}

/** W3C trace flags: the span is sampled, so its trace is kept and an exemplar pointing at it leads somewhere. */
const SAMPLED = 1;

/**
 * The exemplar function of `exemplar: 'opentelemetry'`: `{ trace_id, span_id }` of the active span when it is
 * valid and sampled (an unsampled trace is not stored, so an exemplar would point nowhere), else none.
 *
 * `@opentelemetry/api` is an optional peer dependency, loaded here, when a definition asks for it, and never
 * otherwise. It is loaded with `require`: the definition is built synchronously, and the API keeps its context
 * manager on `globalThis`, so this copy sees the spans of the application's own (ESM or CommonJS) copy.
 *
 * @param fail called with the reason when the API cannot be loaded; it throws the start-up error.
 * @param load loads the API; tests pass one that fails.
 */
export function openTelemetryExemplar(
  fail: (why: string) => never,
  load: () => OpenTelemetryTraceApi = loadOpenTelemetryApi,
): ExemplarFunction {
  let api: OpenTelemetryTraceApi;
  try {
    api = load();
  } catch (error) {
    return fail(
      `'opentelemetry' needs the package @opentelemetry/api, which could not be loaded (${(error as Error)?.message ?? String(error)}). Install it (npm install @opentelemetry/api), or pass a function (metadata, measurements) => ({ trace_id, span_id })`,
    );
  }
  const { trace } = api;
  return () => {
    const span = trace.getActiveSpan();
    if (span === undefined) return undefined;
    const context = span.spanContext();
    if ((context.traceFlags & SAMPLED) === 0 || !trace.isSpanContextValid(context)) return undefined;
    return { trace_id: context.traceId, span_id: context.spanId };
  };
}

function loadOpenTelemetryApi(): OpenTelemetryTraceApi {
  // process.getBuiltinModule rather than an import of node:module, which would make every runtime that loads the
  // definitions (browsers for the dashboard, Cloudflare Workers) resolve it.
  const builtin = (
    globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }
  ).process?.getBuiltinModule?.('node:module') as
    | { createRequire(from: string): (id: string) => unknown }
    | undefined;
  if (builtin === undefined) throw new Error('this runtime has no require for optional packages');
  const api = builtin.createRequire(import.meta.url)('@opentelemetry/api') as OpenTelemetryTraceApi;
  if (typeof api?.trace?.getActiveSpan !== 'function') {
    throw new Error('the installed @opentelemetry/api has no trace.getActiveSpan (it needs 1.2 or later)');
  }
  return api;
}
