import { setImmediate as nextTurn } from 'node:timers/promises';
import { TelemeterTypeError } from '../errors.js';
import { execute } from '../events/bus.js';
import { describe } from '../events/event-name.js';
import { type LogSink, processLog } from '../logger.js';
import type { Telemeter } from '../telemeter.js';
import { commitLine, type Line, LineBuilder } from './lines.js';
import { MIN_MTU, resolveStatsdOptions, type StatsdOptions } from './options.js';
import { type Packet, packLines } from './packets.js';
import { type Transport, UdpTransport, UnixStreamTransport } from './transport.js';

/** Emitted after each packet is written: measurement `bytes`, metadata `format`. */
export const STATSD_PACKET_SENT_EVENT = 'telemeter.statsd.packet.sent';
/**
 * Emitted when a packet could not be written, when packets already written were refused (UDP: `ECONNREFUSED`,
 * the server's port is closed; `bytes` counts the written packets that will be sent again), or when a line could
 * never fit a packet: measurement `bytes`, metadata `reason` (the socket error code such as `EMSGSIZE`,
 * `ECONNREFUSED`, `ENOENT`, or `line_too_long`) and `format`.
 */
export const STATSD_PACKET_ERROR_EVENT = 'telemeter.statsd.packet.error';

/** A running StatsD push, returned by {@link startStatsd}. */
export interface StatsdPush {
  /**
   * Sends what changed since the last delivered send, now, after any flush in progress. Resolves when done;
   * never rejects: send failures are reported as `telemeter.statsd.packet.error` events (and logged once per
   * reason), and what was not sent, or was refused, is sent by a later flush.
   */
  flush(): Promise<void>;
  /** Stops the timer, flushes once more and closes the socket. Idempotent. */
  stop(): Promise<void>;
  /** The current packet size limit, which shrinks when the kernel answers `EMSGSIZE`. */
  readonly mtu: number;
}

/**
 * Pushes a Telemeter's metrics to a StatsD or DogStatsD server every `flushInterval` milliseconds.
 *
 * Counters and counter-typed sums are sent as deltas (`name:<delta>|c`) when non-zero; last values and gauge-typed
 * sums as gauges (`|g`) every flush; each distribution bucket that grew as one value with a sample rate of
 * `1/<growth>` (`|ms`, or `|d` for DogStatsD), so the server counts exactly the observations made; summaries as
 * `.count`/`.sum` deltas and `.p50`-style quantile gauges. Numbers are written in full, never rounded.
 *
 * "Last sent" advances per packet, only for the lines of packets the socket accepted and, over UDP, only at the
 * next flush if no refusal (`ECONNREFUSED`) came back meanwhile; the rest are sent again next flush. So a
 * StatsD daemon that is down, on a host that answers, loses nothing (docs/statsd.md says exactly what UDP allows).
 *
 * @throws TelemeterTypeError `ERR_TELEMETER_INVALID_ARGUMENT` without a Telemeter; `ERR_TELEMETER_INVALID_OPTION`
 *   or `ERR_TELEMETER_UNKNOWN_OPTION` naming the option.
 */
export function startStatsd(telemeter: Telemeter, options: StatsdOptions = {}): StatsdPush {
  if (typeof telemeter !== 'object' || telemeter === null || !Array.isArray(telemeter.metricFamilies)) {
    throw new TelemeterTypeError(
      'ERR_TELEMETER_INVALID_ARGUMENT',
      `telemeter/statsd: startStatsd needs a Telemeter as its first argument, got ${describe(telemeter)}`,
    );
  }
  return startStatsdOver(telemeter, options);
}

/** {@link startStatsd} over a given transport (tests use it to fail sends on purpose). Not part of the public API. */
export function startStatsdOver(
  telemeter: Telemeter,
  options: StatsdOptions,
  transport?: Transport,
): StatsdPush {
  const resolved = resolveStatsdOptions(options);
  const target = resolved.target;
  const socket =
    transport ??
    (target.kind === 'unix'
      ? new UnixStreamTransport(target.path)
      : new UdpTransport(target.host, target.port));
  return new StatsdPusher(telemeter, new LineBuilder(telemeter.metricFamilies, resolved), socket, resolved);
}

class StatsdPusher implements StatsdPush {
  mtu: number;
  private readonly timer: NodeJS.Timeout;
  private readonly format: string;
  private readonly logger: LogSink;
  private queue: Promise<void> = Promise.resolve();
  private running = false;
  private stopped: Promise<void> | undefined;
  /**
   * Packets the socket accepted since the previous flush began. Their lines are committed when the next flush
   * begins, unless a refusal came back meanwhile: then they are dropped uncommitted, and their deltas are sent
   * again with the next flush's.
   */
  private unconfirmed: Packet[] = [];
  /** The refusal reported since the previous flush began, if any. */
  private refusal: Error | undefined;

  constructor(
    private readonly telemeter: Telemeter,
    private readonly builder: LineBuilder,
    private readonly transport: Transport,
    options: { mtu: number; flushInterval: number; format: string },
  ) {
    this.mtu = options.mtu;
    this.format = options.format;
    // A structural Telemeter (a test double) may have no logger of its own.
    this.logger = telemeter.logger ?? processLog;
    transport.onRefused = (error) => this.refused(error);
    this.timer = setInterval(() => {
      // A flush slower than the interval is not stacked up behind itself.
      if (!this.running) void this.flush();
    }, options.flushInterval);
    this.timer.unref();
  }

  flush(): Promise<void> {
    if (this.stopped !== undefined) return this.stopped;
    return this.enqueue();
  }

  stop(): Promise<void> {
    if (this.stopped === undefined) {
      clearInterval(this.timer);
      this.stopped = this.enqueue().then(() => this.transport.close());
    }
    return this.stopped;
  }

  private enqueue(): Promise<void> {
    this.queue = this.queue.then(() => this.flushOnce());
    return this.queue;
  }

  private async flushOnce(): Promise<void> {
    this.running = true;
    try {
      // A datagram refused on loopback is reported by the kernel before its send returns, and by the socket's
      // read side at the event loop's next poll: give that poll a turn before deciding the last flush arrived.
      await nextTurn();
      this.settle();
      refreshComputedValues(this.telemeter);
      const lines = this.builder.build();
      const packets = packLines(lines, this.mtu, (line) => this.dropTooLong(line));
      for (const packet of packets) {
        // Refused: the rest of this flush goes with the refused packets, next flush.
        if (this.refusal !== undefined) return;
        try {
          await this.transport.send(packet.payload);
        } catch (error) {
          // A refusal was reported when it came; any other failure is reported here.
          if (error !== this.refusal) this.sendFailed(error, packet.payload.length);
          // The rest of this flush would meet the same socket; its lines stay unsent and go next flush.
          return;
        }
        this.unconfirmed.push(packet);
        execute(STATSD_PACKET_SENT_EVENT, { bytes: packet.payload.length }, { format: this.format });
      }
    } catch (error) {
      this.logger.errorOnce(
        'statsd-flush',
        { err: error },
        'telemeter/statsd: a flush failed unexpectedly; later flushes will try again',
      );
    } finally {
      this.running = false;
    }
  }

  /** Commits what the previous flush sent, unless it was refused since. */
  private settle(): void {
    if (this.refusal === undefined) {
      for (const packet of this.unconfirmed) for (const line of packet.lines) commitLine(line);
    }
    this.unconfirmed = [];
    this.refusal = undefined;
  }

  /** The transport says packets it accepted may not have arrived (UDP: the port is closed). */
  private refused(error: Error): void {
    // One refusal condemns every unconfirmed packet; the socket is reopened, so later ones are echoes.
    if (this.refusal !== undefined) return;
    this.refusal = error;
    this.transport.reset();
    const code = (error as NodeJS.ErrnoException).code;
    const reason = typeof code === 'string' ? code : 'unknown';
    let bytes = 0;
    for (const packet of this.unconfirmed) bytes += packet.payload.length;
    this.logger.warnOnce(
      `statsd-send:${reason}`,
      { err: error },
      `telemeter/statsd: the StatsD server refused packets (${reason}): is it running? Refused and unconfirmed deltas are kept and sent again on the next flush`,
    );
    execute(STATSD_PACKET_ERROR_EVENT, { bytes }, { reason, format: this.format });
  }

  private sendFailed(error: unknown, bytes: number): void {
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    const reason = typeof code === 'string' ? code : 'unknown';
    if (reason === 'EMSGSIZE') {
      this.mtu = Math.max(MIN_MTU, Math.min(this.mtu, bytes) - 1);
    } else if (reason !== 'EAGAIN' && reason !== 'ENOBUFS' && reason !== 'EWOULDBLOCK') {
      this.transport.reset();
    }
    this.logger.warnOnce(
      `statsd-send:${reason}`,
      { err: error },
      `telemeter/statsd: a StatsD send failed (${reason}); unsent values are kept and retried on the next flush`,
    );
    execute(STATSD_PACKET_ERROR_EVENT, { bytes }, { reason, format: this.format });
  }

  private dropTooLong(line: Line): void {
    // It can never fit, so it is dropped for good rather than retried every flush.
    commitLine(line);
    this.logger.warnOnce(
      `statsd-too-long:${line.metric}`,
      {},
      `telemeter/statsd: a StatsD line of metric "${line.metric}" is ${line.bytes} bytes, more than mtu ${this.mtu}; it is dropped (shorten its tags or raise mtu)`,
    );
    execute(
      STATSD_PACKET_ERROR_EVENT,
      { bytes: line.bytes },
      { reason: 'line_too_long', format: this.format },
    );
  }
}

/** Updates values a Telemeter computes on read (`telemeter_series`), as a scrape would. */
function refreshComputedValues(telemeter: Telemeter): void {
  telemeter.refreshComputedFamilies();
}
