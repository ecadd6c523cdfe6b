import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { lookup } from 'node:dns';
import { createConnection, type Socket as StreamSocket } from 'node:net';

/** Where packets go. A failed send rejects with the socket error, whose `code` (`EMSGSIZE`, `ENOENT`, …) says why. */
export interface Transport {
  send(payload: Buffer): Promise<void>;
  /**
   * Set by the pusher; called when the transport learns that packets it had accepted may not have arrived
   * (UDP: the kernel's report of an ICMP "port unreachable" for an earlier datagram). They must be sent again.
   * A send that fails for this reason calls it before it rejects, with the same error.
   */
  onRefused?: (error: Error) => void;
  /** Forgets the socket after an error; the next send opens a new one. */
  reset(): void;
  close(): void;
}

/**
 * A socket opened on the first send and shared by the next ones. A failed open is forgotten, so the next send
 * tries again; `take` hands the socket over (to be closed) and forgets it.
 */
class LazySocket<T> {
  private pending: Promise<T> | undefined;

  constructor(private readonly open: () => Promise<T>) {}

  get(): Promise<T> {
    if (this.pending === undefined) {
      const opening = this.open();
      this.pending = opening;
      opening.catch(() => this.forget(opening));
    }
    return this.pending;
  }

  /** The socket being opened or open, if any. */
  current(): Promise<T> | undefined {
    return this.pending;
  }

  /** Forgets `socket` if it is still the current one. */
  forget(socket: Promise<T> | undefined): void {
    if (this.pending === socket) this.pending = undefined;
  }

  take(): Promise<T> | undefined {
    const socket = this.pending;
    this.pending = undefined;
    return socket;
  }
}

/**
 * UDP to `host:port`, on a connected socket: the host is resolved once per socket, and the kernel reports a
 * closed port (an ICMP "port unreachable" for a datagram already sent) instead of dropping packets without a
 * word. It reports it once, as `ECONNREFUSED`, on whichever comes first: the socket's next send, or the
 * socket's read side (an `error` event, when the event loop polls the socket before the next send).
 */
export class UdpTransport implements Transport {
  onRefused: ((error: Error) => void) | undefined;
  private readonly socket = new LazySocket(() => this.open());

  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {}

  async send(payload: Buffer): Promise<void> {
    const socket = await this.socket.get();
    await new Promise<void>((resolve, reject) => {
      socket.send(payload, (error) => {
        if (!error) {
          resolve();
          return;
        }
        // A datagram is never refused by its own send: ECONNREFUSED here is about one sent before.
        if ((error as NodeJS.ErrnoException).code === 'ECONNREFUSED') this.onRefused?.(error);
        reject(error);
      });
    });
  }

  reset(): void {
    this.socket.take()?.then(closeQuietly, () => {});
  }

  close(): void {
    this.reset();
  }

  private open(): Promise<UdpSocket> {
    return new Promise((resolve, reject) => {
      lookup(this.host, (lookupError, address, family) => {
        if (lookupError) {
          reject(lookupError);
          return;
        }
        const socket = createSocket(family === 6 ? 'udp6' : 'udp4');
        // Metrics must never keep a process alive.
        socket.unref();
        const failed = (error: Error) => {
          closeQuietly(socket);
          reject(error);
        };
        socket.once('error', failed);
        socket.connect(this.port, address, () => {
          socket.off('error', failed);
          // Errors outside a send come from the read side of a connected socket: ICMP errors (port or host
          // unreachable) about datagrams already sent.
          socket.on('error', (error) => this.onRefused?.(error));
          resolve(socket);
        });
      });
    });
  }
}

function closeQuietly(socket: UdpSocket): void {
  try {
    socket.close();
  } catch {
    // Already closed.
  }
}

/** How long a write may wait for a reader that stopped reading, before the connection is given up. */
const STREAM_WRITE_TIMEOUT_MS = 10_000;

/**
 * A Unix domain stream socket, framed as DogStatsD's `unix` listener reads it: each packet is preceded by its
 * length as a 4-byte little-endian integer. (Node has no `unixgram` sockets.)
 */
export class UnixStreamTransport implements Transport {
  private readonly socket = new LazySocket(() => this.open());

  constructor(private readonly path: string) {}

  async send(payload: Buffer): Promise<void> {
    const socket = await this.socket.get();
    const frame = Buffer.allocUnsafe(4 + payload.length);
    frame.writeUInt32LE(payload.length, 0);
    payload.copy(frame, 4);
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        socket.destroy();
        reject(Object.assign(new Error('telemeter: StatsD socket write timed out'), { code: 'ETIMEDOUT' }));
      }, STREAM_WRITE_TIMEOUT_MS);
      timer.unref();
      socket.write(frame, (error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error) reject(error);
        else resolve();
      });
    });
  }

  reset(): void {
    this.socket.take()?.then(
      (s) => s.destroy(),
      () => {},
    );
  }

  close(): void {
    // end() lets written frames drain; destroy() would drop them.
    this.socket.take()?.then(
      (s) => s.end(),
      () => {},
    );
  }

  private open(): Promise<StreamSocket> {
    return new Promise((resolve, reject) => {
      const socket = createConnection({ path: this.path });
      socket.unref();
      const failed = (error: Error) => {
        socket.destroy();
        reject(error);
      };
      socket.once('error', failed);
      socket.once('connect', () => {
        socket.off('error', failed);
        const current = this.socket.current();
        const forget = () => this.socket.forget(current);
        socket.on('error', forget);
        socket.on('close', forget);
        // Nothing is expected back; reading keeps an unexpected reply from filling the buffer.
        socket.resume();
        resolve(socket);
      });
    });
  }
}
