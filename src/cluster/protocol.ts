import type { HistogramLayout, MergeShape } from '../reporter/index.js';

/**
 * The messages between a worker's exporter and the primary's aggregator. Every message is plain data that
 * survives both JSON (cluster IPC) and structured clone (worker_threads), and carries a `telemeter` key so an
 * application's own IPC handlers can tell it apart and ignore it.
 */

/** The key that marks telemeter's messages; its value is the message type. */
export const MESSAGE_KEY = 'telemeter';

/** Bumped when a message changes shape; both sides refuse other versions with one warning. */
export const PROTOCOL_VERSION = 1;

/**
 * How a family's samples combine across processes: the reporter's merge shape, `add` for counters and sums
 * (deltas are added), `set` for last values, `histogram` and `summary`.
 */
export type FamilyShape = MergeShape;

/** A sketch of observations as sparse `[binIndex, count, ...]` pairs; `z` counts the zeros. */
export interface EncodedSketch {
  readonly p: number[];
  readonly n: number[];
  readonly z: number;
}

/**
 * The observations a native histogram series gained since the previous message: its schema `s` and zero threshold
 * `t` (the worker's, which the primary merges at the lower of its own and these), the zero bucket's count `z`, the
 * observation count `c` (NaN included, which no bucket holds) and sum `u`, and the populated buckets of each sign as
 * sparse `[index, count, ...]` pairs by ascending Prometheus index (`p` positive, `n` negative): a few observations
 * since the last flush touch only a few buckets.
 */
export interface EncodedNative {
  readonly s: number;
  readonly t: number;
  readonly z: number;
  readonly c: number;
  readonly u: number;
  readonly p: number[];
  readonly n: number[];
}

/**
 * The changes of one family since the previous message, for the series that changed.
 *
 * A series travels as the worker's own series index; the first message of a session that mentions it also
 * announces its tag values, which the primary resolves to its own index (indices differ per process).
 * `data` is flat:
 * - `add`: `id, delta`;  `set`: `id, value`;
 * - `histogram`: `id, countDelta, sumDelta, k, (slot, delta) × k` (per-bucket, not cumulative), and for a family
 *   with native buckets `natives[i]` holding the i-th entry's native delta;
 * - `summary`: `id, countDelta, sumDelta`, with `sketches[i]` holding the i-th entry's new observations.
 */
export interface FamilyDelta {
  readonly name: string;
  readonly shape: FamilyShape;
  /**
   * Histogram slots (bounds + `+Inf`), or a summary's schema, so a mismatch is caught. (Before summaries moved to
   * native histogram schemas this was their relative accuracy, a fraction, which no schema equals: such a worker
   * is refused, not misread.)
   */
  readonly layout: number;
  /** A histogram's buckets when not only classic ones; absent for classic (and from workers that predate it). */
  readonly histogram?: Exclude<HistogramLayout, 'classic'>;
  readonly announce: Array<[number, string[]]>;
  readonly data: number[];
  readonly sketches?: EncodedSketch[];
  /**
   * Exemplars recorded since the previous message, of families that keep them, as flat
   * `id, bucket, labelBlock, value, timestamp` runs (bucket 0 for a counter). Primaries that predate it ignore it.
   */
  readonly exemplars?: (number | string)[];
  readonly natives?: EncodedNative[];
}

/** Worker → primary: the exporter started. Over worker_threads it carries the port the exporter talks on. */
export interface HelloMessage {
  readonly telemeter: 'hello';
  readonly version: number;
  readonly port?: unknown;
}

/**
 * Worker → primary: changes since the previous delta. `flush` is set on the last message of a flush reply.
 * `seq` numbers the messages of a session, for the primary's acknowledgements.
 */
export interface DeltaMessage {
  readonly telemeter: 'delta';
  readonly session: number;
  readonly seq: number;
  readonly flush?: number;
  readonly families: FamilyDelta[];
}

/**
 * Worker → primary: the exporter stopped (`stop()`), after its last delta of the session. The primary retires
 * the worker once everything before it is applied, instead of waiting for a reply that will never come.
 * Primaries that predate it ignore it, as they ignore any message type they do not know.
 */
export interface ByeMessage {
  readonly telemeter: 'bye';
  readonly session: number;
}

/** Primary → worker: the aggregator accepted the exporter; series must be announced anew in this session. */
export interface WelcomeMessage {
  readonly telemeter: 'welcome';
  readonly version: number;
  readonly session: number;
  readonly worker: string;
}

/** Primary → worker: send everything now, and mark the last message with `id`. */
export interface FlushRequest {
  readonly telemeter: 'flush';
  readonly session: number;
  readonly id: number;
}

/**
 * Primary → worker: delta `seq` is applied. A worker keeps only a few messages unacknowledged, so a flush
 * of many series reaches the primary at the pace it applies them, instead of piling up in the channel and
 * being parsed in one go.
 */
export interface AckMessage {
  readonly telemeter: 'ack';
  readonly session: number;
  readonly seq: number;
}

/** Primary → cluster worker: an aggregator started after this worker; say hello again. */
export interface ProbeMessage {
  readonly telemeter: 'probe';
}

export type WorkerMessage = HelloMessage | DeltaMessage | ByeMessage;
export type PrimaryMessage = WelcomeMessage | FlushRequest | AckMessage | ProbeMessage;

/** The message type when `message` is one of telemeter's, else undefined. */
export function messageType(message: unknown): string | undefined {
  if (typeof message !== 'object' || message === null) return undefined;
  const type = (message as Record<string, unknown>)[MESSAGE_KEY];
  return typeof type === 'string' ? type : undefined;
}
