import { DeltaApplier, type MergeTarget } from './delta-applier.js';
import { MESSAGE_KEY, type PrimaryMessage } from './protocol.js';

/** The primary's side of one worker's exporter, for one session. */
export class WorkerConnection {
  readonly applier: DeltaApplier;
  /** False after a flush request went unanswered in time; such a worker is not waited for until it speaks. */
  responsive = true;
  live = true;
  /** True once the worker stopped, exited or disconnected; it is retired when what it sent before is applied. */
  leaving = false;
  private pending: { id: number; resolve: () => void } | undefined;

  constructor(
    /** `cluster:<id>` or `thread:<threadId>`. */
    readonly key: string,
    /** The worker label value: a slot number, reused when a worker is replaced. */
    readonly label: string,
    readonly session: number,
    private readonly post: (message: PrimaryMessage) => void,
    target: MergeTarget,
  ) {
    this.applier = new DeltaApplier(target, label, () => this.live);
  }

  send(message: PrimaryMessage): void {
    try {
      this.post(message);
    } catch {
      // The worker is exiting; its exit event retires this connection.
    }
  }

  /** Asks for a flush; resolves once the reply is applied, or the connection is retired or cancelled. */
  requestFlush(id: number): Promise<void> {
    this.pending?.resolve();
    return new Promise((resolve) => {
      this.pending = { id, resolve };
      this.send({ [MESSAGE_KEY]: 'flush', session: this.session, id });
    });
  }

  /** True while the reply to flush `id` has not been applied. */
  awaits(id: number): boolean {
    return this.pending?.id === id;
  }

  /** Called after a message is applied: settles the flush it answers. */
  applied(flushId: unknown): void {
    if (this.pending !== undefined && flushId === this.pending.id) this.settle();
  }

  settle(): void {
    const pending = this.pending;
    this.pending = undefined;
    pending?.resolve();
  }
}
