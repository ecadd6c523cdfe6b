/**
 * One OTLP/HTTP request and what its answer means, as the OTLP specification's "OTLP/HTTP Response" and the
 * exporter specification say: 2xx delivered (a partial success included, which must not be retried); 429, 502,
 * 503 and 504 retried, after `Retry-After` when the receiver sends one; every other status refused for good; a
 * network failure or a timeout retried.
 */

/** What one request came to. */
export type AttemptResult =
  | {
      readonly outcome: 'delivered';
      /** Points the receiver refused in a partial success (`partial_success.rejected_data_points`); 0 for none. */
      readonly rejected: number;
      /** The receiver's `partial_success.error_message`, `''` when none. */
      readonly message: string;
    }
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
      // The answer (an ExportMetricsServiceResponse) is read to the end, which also frees the connection for reuse.
      const answer = await response.arrayBuffer().catch(() => new ArrayBuffer(0));
      return {
        outcome: 'delivered',
        ...partialSuccess(new Uint8Array(answer), response.headers.get('content-type')),
      };
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

/**
 * The `partial_success` of an `ExportMetricsServiceResponse` (field 1: `{1 rejected_data_points int64, 2
 * error_message string}`), in protobuf or JSON; nothing rejected when the answer is empty or unreadable, since a
 * 2xx is a success whatever its body.
 */
export function partialSuccess(
  body: Uint8Array,
  contentType: string | null,
): { rejected: number; message: string } {
  const none = { rejected: 0, message: '' };
  if (body.length === 0) return none;
  try {
    if (contentType?.startsWith('application/json')) {
      const parsed = JSON.parse(new TextDecoder().decode(body)) as {
        partialSuccess?: { rejectedDataPoints?: number | string; errorMessage?: string };
      };
      const partial = parsed.partialSuccess;
      return {
        rejected: Number(partial?.rejectedDataPoints ?? 0) || 0,
        message: String(partial?.errorMessage ?? ''),
      };
    }
    const outer = new FieldReader(body);
    for (let field = outer.next(); field !== undefined; field = outer.next()) {
      if (field.number !== 1 || field.bytes === undefined) continue;
      const inner = new FieldReader(field.bytes);
      const result = { ...none };
      for (let f = inner.next(); f !== undefined; f = inner.next()) {
        if (f.number === 1 && f.varint !== undefined) result.rejected = f.varint;
        if (f.number === 2 && f.bytes !== undefined) result.message = new TextDecoder().decode(f.bytes);
      }
      return result;
    }
  } catch {
    // An answer that is not an ExportMetricsServiceResponse: the 2xx stands.
  }
  return none;
}

/** Just enough of the protobuf wire format to read a response: varint and length-delimited fields, others skipped. */
class FieldReader {
  private at = 0;
  constructor(private readonly bytes: Uint8Array) {}

  next(): { number: number; varint?: number; bytes?: Uint8Array } | undefined {
    if (this.at >= this.bytes.length) return undefined;
    const tag = this.varint();
    const number = Math.floor(tag / 8);
    switch (tag % 8) {
      case 0:
        return { number, varint: this.varint() };
      case 1:
        this.skip(8);
        return { number };
      case 2: {
        const length = this.varint();
        const start = this.at;
        this.skip(length);
        return { number, bytes: this.bytes.subarray(start, start + length) };
      }
      case 5:
        this.skip(4);
        return { number };
      default:
        throw new Error('unsupported wire type');
    }
  }

  private varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.at >= this.bytes.length) throw new Error('truncated varint');
      const byte = this.bytes[this.at++];
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 128;
    }
    throw new Error('varint too long');
  }

  private skip(length: number): void {
    if (this.at + length > this.bytes.length) throw new Error('truncated field');
    this.at += length;
  }
}
