/**
 * One OTLP/HTTP request and what its answer means, as the OTLP specification's "OTLP/HTTP Response" and the
 * exporter specification say: 2xx delivered (a partial success included, which must not be retried); 429, 502,
 * 503 and 504 retried, after `Retry-After` when the receiver sends one; every other status refused for good; a
 * network failure or a timeout retried.
 */

/** What one request came to. */
export type AttemptResult =
  | { readonly outcome: 'delivered' }
  | {
      readonly outcome: 'retry';
      readonly reason: string;
      readonly retryAfter: number | undefined;
      readonly detail: string;
    }
  | { readonly outcome: 'refused'; readonly reason: string; readonly detail: string };

export interface ExportTarget {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly contentType: string;
  readonly gzip: boolean;
  /** Milliseconds the request may take. */
  readonly timeout: number;
}

const RETRYABLE = new Set([429, 502, 503, 504]);
/** How much of an error answer is kept for the log: a receiver's message is a line; a proxy's page is not. */
const MAX_DETAIL_BYTES = 512;

/** Sends `body` once. Never rejects. `abort` ends the request early (the exporter stopping). */
export async function sendOnce(
  target: ExportTarget,
  body: Uint8Array | string,
  abort: AbortSignal,
): Promise<AttemptResult> {
  const headers: Record<string, string> = { ...target.headers, 'content-type': target.contentType };
  if (target.gzip) headers['content-encoding'] = 'gzip';
  const timeout = AbortSignal.timeout(target.timeout);
  try {
    const response = await fetch(target.url, {
      method: 'POST',
      headers,
      body: body as BodyInit,
      signal: AbortSignal.any([timeout, abort]),
      // A redirect would replay the export elsewhere, or as a GET.
      redirect: 'manual',
    });
    const status = response.status;
    if (status >= 200 && status < 300) {
      // The answer (an ExportMetricsServiceResponse) is read to the end so the connection can be reused.
      await response.arrayBuffer().catch(() => undefined);
      return { outcome: 'delivered' };
    }
    const detail = await answerText(response);
    if (RETRYABLE.has(status)) {
      return {
        outcome: 'retry',
        reason: String(status),
        retryAfter: retryAfterMs(response.headers.get('retry-after'), Date.now()),
        detail,
      };
    }
    return { outcome: 'refused', reason: String(status), detail };
  } catch (error) {
    if (timeout.aborted)
      return {
        outcome: 'retry',
        reason: 'timeout',
        retryAfter: undefined,
        detail: `no answer within ${target.timeout} ms`,
      };
    return { outcome: 'retry', reason: 'network', retryAfter: undefined, detail: networkReason(error) };
  }
}

/**
 * `Retry-After` in milliseconds from `now`: delay-seconds or an HTTP-date (RFC 9110 §10.2.3); undefined when
 * absent or unreadable. A date in the past is 0.
 */
export function retryAfterMs(header: string | null, now: number): number | undefined {
  if (header === null) return undefined;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/**
 * The wait before retry number `attempt` (1 for the first retry): `initial × 2^(attempt−1)`, capped at `max`,
 * of which a random part (up to half) is taken off, so exporters that failed together do not retry together.
 */
export function backoffMs(
  attempt: number,
  initial: number,
  max: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(max, initial * 2 ** Math.min(attempt - 1, 30));
  return Math.round(ceiling * (1 - random() / 2));
}

async function answerText(response: Response): Promise<string> {
  try {
    const bytes = new Uint8Array(await response.arrayBuffer());
    const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes.subarray(0, MAX_DETAIL_BYTES));
    // A protobuf google.rpc.Status is binary: keep what reads as text.
    const printable = text.replace(/[^\x20-\x7e\u00a0-\uffff]+/g, ' ').trim();
    return bytes.length > MAX_DETAIL_BYTES ? `${printable}…` : printable;
  } catch {
    return '';
  }
}

/** fetch's own message is "fetch failed"; the system error under it says what happened. */
function networkReason(error: unknown): string {
  let reason: unknown = error;
  while (reason instanceof Error && reason.cause instanceof Error) reason = reason.cause;
  return reason instanceof Error ? reason.message : String(reason);
}
