/**
 * An append-only list of chunks that any number of readers replay from the start and then follow
 * until it ends or fails. It lets scrapes that join a render in flight receive the chunks already
 * produced and every later one, so N concurrent scrapes share one render (and one gzip stream).
 */
export class ChunkLog<T> {
  private readonly chunks: T[] = [];
  private settled = false;
  private failure: { error: unknown } | undefined;
  private wakeUp: Array<() => void> = [];

  /** True once every chunk is in (the log ended without error). */
  get complete(): boolean {
    return this.settled && this.failure === undefined;
  }

  /** The chunks produced so far; complete only when {@link complete} is true. */
  get available(): readonly T[] {
    return this.chunks;
  }

  push(chunk: T): void {
    if (this.settled) return;
    this.chunks.push(chunk);
    this.notify();
  }

  end(): void {
    if (this.settled) return;
    this.settled = true;
    this.notify();
  }

  fail(error: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.failure = { error };
    this.notify();
  }

  /** Yields every chunk from the first; throws the producer's error if the log fails. */
  async *read(): AsyncGenerator<T, void, undefined> {
    let next = 0;
    for (;;) {
      if (next < this.chunks.length) {
        yield this.chunks[next++];
        continue;
      }
      if (this.failure !== undefined) throw this.failure.error;
      if (this.settled) return;
      await new Promise<void>((resolve) => this.wakeUp.push(resolve));
    }
  }

  private notify(): void {
    const waiting = this.wakeUp;
    if (waiting.length === 0) return;
    this.wakeUp = [];
    for (const resolve of waiting) resolve();
  }
}
