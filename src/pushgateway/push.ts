import { invalidArgument } from '../errors.js';
import { describe } from '../events/event-name.js';
import { PROMETHEUS_TEXT_CONTENT_TYPE, PROTOBUF_CONTENT_TYPE } from '../exposition/content-types.js';
import {
  type DeleteFromGatewayOptions,
  type GatewayRequest,
  type PushToGatewayOptions,
  resolveDeleteOptions,
  resolvePushOptions,
} from './options.js';
import { PushgatewayError } from './pushgateway-error.js';

/** What can be pushed: a `Telemeter`, or anything with the same `render` generator (a cluster aggregator). */
export interface PushSource {
  render(options: { format: 'text' }): Iterable<string>;
  /** Delimited protobuf `MetricFamily` messages, for `format: 'protobuf'`. */
  renderProtobuf?(): Iterable<Uint8Array>;
  /** Brings the values up to date before the render, as a cluster aggregator's `collect()` does. */
  collect?(): Promise<unknown>;
}

/** How much of a gateway's answer an error keeps: its messages are a line or two; a proxy's error page is not. */
const MAX_ANSWER_BYTES = 1024;

/**
 * Pushes the metrics of `telemeter` to a Prometheus Pushgateway, as one group: the series a scrape of the same
 * Telemeter would return right now, as Prometheus text 0.0.4 (or protobuf, with `format: 'protobuf'`), to
 * `<url>/metrics/job/<job>{/<label>/<value>}`.
 *
 * - `method: 'put'` (the default, the gateway's "push") replaces every metric of the group: a metric pushed by an
 *   earlier run and absent from this body is gone. `'post'` ("push-add") replaces only the metric names in this
 *   body and keeps the others. A family with no series (a tagged metric that never recorded) sends only its HELP
 *   and TYPE lines, which the gateway ignores: to `'post'`, it is absent.
 * - The gateway adds `push_time_seconds` (and `push_failure_time_seconds`) per group, and `instance=""` when
 *   neither the grouping nor the metrics carry an `instance`. Scrape it with `honor_labels: true`.
 * - The gateway refuses a push whose metrics clash with any group's (one name with two types, a series twice) and
 *   keeps the group as it was. Its answer is in the rejection.
 *
 * Meant for batch jobs, at their end; a long-lived service should be scraped (`telemeter/server`) instead: a
 * gateway keeps a pushed group forever, so a service that is gone still looks alive, with its last values.
 *
 * @returns a promise that resolves when the gateway has accepted the push (2xx), and rejects with a
 *   {@link PushgatewayError} (`ERR_TELEMETER_PUSH_FAILED`, with `status` and the gateway's `body`) when it answers
 *   otherwise or cannot be reached within `timeout`. Nothing is retried.
 * @throws TelemeterTypeError at call time: `ERR_TELEMETER_INVALID_ARGUMENT` without a Telemeter;
 *   `ERR_TELEMETER_INVALID_OPTION` or `ERR_TELEMETER_UNKNOWN_OPTION` naming the option (a missing `job`, a `url`
 *   that is not http(s), a grouping label named `job` or not a valid label name, ...).
 */
export function pushToGateway(telemeter: PushSource, options: PushToGatewayOptions): Promise<void> {
  if (typeof (telemeter as Partial<PushSource> | null)?.render !== 'function') {
    invalidArgument(
      `telemeter/pushgateway: pushToGateway needs a Telemeter as its first argument, got ${describe(telemeter)}`,
    );
  }
  const request = resolvePushOptions(options);
  if (request.format === 'protobuf' && typeof telemeter.renderProtobuf !== 'function') {
    invalidArgument(
      "telemeter/pushgateway: pushToGateway: option format 'protobuf' needs a source with renderProtobuf (a Telemeter)",
    );
  }
  return pushRendered(telemeter, request);
}

/**
 * Deletes one group (the metrics pushed with exactly this `job` and `grouping`) from a Pushgateway. The gateway
 * answers 202 at once and applies the deletion before any push that comes after it. Other groups of the same job
 * stay.
 *
 * @returns a promise that resolves once the gateway has taken the deletion, and rejects with a
 *   {@link PushgatewayError} otherwise.
 * @throws TelemeterTypeError at call time: `ERR_TELEMETER_INVALID_OPTION` or `ERR_TELEMETER_UNKNOWN_OPTION`,
 *   naming the option.
 */
export function deleteFromGateway(options: DeleteFromGatewayOptions): Promise<void> {
  return send(resolveDeleteOptions(options), undefined);
}

async function pushRendered(source: PushSource, request: GatewayRequest): Promise<void> {
  if (typeof source.collect === 'function') await source.collect();
  // A batch job's exposition is small: one body, sent with a Content-Length, suits every gateway and proxy.
  let body: string | Uint8Array<ArrayBuffer>;
  if (request.format === 'protobuf') {
    const chunks = [...source.renderProtobuf!()];
    const bytes = new Uint8Array(chunks.reduce((total, chunk) => total + chunk.length, 0));
    let offset = 0;
    for (const chunk of chunks) {
      bytes.set(chunk, offset);
      offset += chunk.length;
    }
    body = bytes;
  } else body = [...source.render({ format: 'text' })].join('');
  await send(request, request.gzip ? await gzipped(body) : body);
}

function gzipped(body: string | Uint8Array<ArrayBuffer>): Promise<ArrayBuffer> {
  return new Response(new Blob([body]).stream().pipeThrough(new CompressionStream('gzip'))).arrayBuffer();
}

async function send(
  request: GatewayRequest,
  body: string | Uint8Array<ArrayBuffer> | ArrayBuffer | undefined,
): Promise<void> {
  const headers: Record<string, string> = { ...request.headers };
  if (body !== undefined) {
    headers['content-type'] =
      request.format === 'protobuf' ? PROTOBUF_CONTENT_TYPE : PROMETHEUS_TEXT_CONTENT_TYPE;
    if (request.gzip) headers['content-encoding'] = 'gzip';
  }
  const signal = AbortSignal.timeout(request.timeout);
  const what = `telemeter/pushgateway: ${request.method} ${request.url}`;
  const details = { method: request.method, url: request.url };
  try {
    const response = await fetch(request.url, {
      method: request.method,
      headers,
      body,
      signal,
      // A redirect would replay the push elsewhere, or as a GET: the gateway never sends one for a path of ours.
      redirect: 'manual',
    });
    const answer = await readAnswer(response);
    if (response.status >= 200 && response.status < 300) return;
    const location = response.headers.get('location');
    const reason = answer !== '' ? answer : location !== null ? `redirect to ${location}` : 'no message';
    throw new PushgatewayError(
      `${what} answered ${response.status}${response.statusText === '' ? '' : ` ${response.statusText}`}: ${reason}`,
      { ...details, status: response.status, body: answer },
    );
  } catch (error) {
    if (error instanceof PushgatewayError) throw error;
    if (signal.aborted) {
      throw new PushgatewayError(
        `${what} got no complete answer within ${request.timeout} ms (option timeout)`,
        details,
        { cause: error },
      );
    }
    throw new PushgatewayError(`${what} failed: ${networkReason(error)}`, details, { cause: error });
  }
}

/** The start of the answer as text, trimmed: at most {@link MAX_ANSWER_BYTES}, the rest discarded unread. */
async function readAnswer(response: Response): Promise<string> {
  if (response.body === null) return '';
  const reader = response.body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  let complete = false;
  while (size < MAX_ANSWER_BYTES) {
    const step = await reader.read();
    if (step.done) {
      complete = true;
      break;
    }
    parts.push(step.value);
    size += step.value.length;
  }
  if (!complete) await reader.cancel().catch(() => {});
  const bytes = new Uint8Array(Math.min(size, MAX_ANSWER_BYTES));
  let at = 0;
  for (const part of parts) {
    const take = part.subarray(0, bytes.length - at);
    bytes.set(take, at);
    at += take.length;
  }
  const text = new TextDecoder().decode(bytes).trim();
  return complete ? text : `${text}…`;
}

/** fetch's own message is "fetch failed"; the system error under it says what happened. */
function networkReason(error: unknown): string {
  let reason: unknown = error;
  while (reason instanceof Error && reason.cause instanceof Error) reason = reason.cause;
  return reason instanceof Error ? reason.message : String(reason);
}
