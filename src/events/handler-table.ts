import { type EventHandler, HandlerError, type HandlerInfo } from './types.js';

/** One handler id with every event it listens to. */
export interface Attachment {
  readonly id: string;
  readonly eventNames: readonly string[];
  readonly handler: EventHandler<any>;
  readonly config: unknown;
}

/**
 * The registry behind `attach`/`detach`/`execute`.
 *
 * Readers (`execute`) vastly outnumber writers, so each event's handler list is replaced,
 * never mutated: an `execute` that is iterating while a handler detaches itself keeps
 * a consistent list, and the hot path does no locking or copying (the `persist()` model of :telemetry).
 */
export class HandlerTable {
  /** Handler lists by event name; read directly by `execute`, so the hot path makes no extra call. */
  readonly byEvent = new Map<string, readonly Attachment[]>();
  private readonly byId = new Map<string, Attachment>();

  add(attachment: Attachment): void {
    if (this.byId.has(attachment.id)) {
      throw new HandlerError(
        'already_exists',
        `telemeter: a handler with id "${attachment.id}" is already attached; handler ids are unique across all events`,
      );
    }
    this.byId.set(attachment.id, attachment);
    for (const eventName of attachment.eventNames) {
      const current = this.byEvent.get(eventName) ?? [];
      this.byEvent.set(eventName, [...current, attachment]);
    }
  }

  /** Removes the id from every event; returns false when it was not attached. */
  remove(id: string): boolean {
    const attachment = this.byId.get(id);
    if (attachment === undefined) return false;
    this.byId.delete(id);
    for (const eventName of attachment.eventNames) {
      const remaining = (this.byEvent.get(eventName) ?? []).filter((a) => a !== attachment);
      if (remaining.length === 0) this.byEvent.delete(eventName);
      else this.byEvent.set(eventName, remaining);
    }
    return true;
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  list(prefix: string): HandlerInfo[] {
    const result: HandlerInfo[] = [];
    for (const [eventName, attachments] of this.byEvent) {
      if (prefix !== '' && eventName !== prefix && !eventName.startsWith(`${prefix}.`)) continue;
      for (const a of attachments) {
        result.push({ id: a.id, eventName, handler: a.handler, config: a.config });
      }
    }
    return result;
  }
}
