import { sourceTag } from '../compile.js';
import {
  type EventHandler,
  HandlerError,
  type HandlerInfo,
  type Measurements,
  type Metadata,
} from './types.js';

/** One handler id with every event it listens to. */
export interface Attachment {
  readonly id: string;
  readonly eventNames: readonly string[];
  readonly handler: EventHandler<any>;
  readonly config: unknown;
}

/** Runs every handler of one event, in order; a handler that throws is reported and the others still run. */
export type Dispatch = (eventName: string, measurements: Measurements, metadata: Metadata) => void;

/** Called when a handler throws inside a {@link Dispatch}. */
export type FailureListener = (attachment: Attachment, eventName: string, error: unknown) => void;

/**
 * The registry behind `attach`/`detach`/`execute`.
 *
 * Readers (`execute`) vastly outnumber writers, so each event's handler list is replaced,
 * never mutated: an `execute` that is iterating while a handler detaches itself keeps
 * a consistent list, and the hot path does no locking or copying (the `persist()` model of :telemetry).
 * Each list comes with its dispatch function, built when the list changes (see {@link compileDispatch}).
 */
export class HandlerTable {
  /** Handler lists by event name. */
  readonly byEvent = new Map<string, readonly Attachment[]>();
  /** The dispatch of each list in `byEvent`; read directly by `execute`, so the hot path makes no extra call. */
  readonly dispatchByEvent = new Map<string, Dispatch>();
  private readonly byId = new Map<string, Attachment>();

  constructor(private readonly onFailure: FailureListener) {}

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
      this.setList(eventName, [...current, attachment]);
    }
  }

  /** Removes the id from every event; returns false when it was not attached. */
  remove(id: string): boolean {
    const attachment = this.byId.get(id);
    if (attachment === undefined) return false;
    this.byId.delete(id);
    for (const eventName of attachment.eventNames) {
      const remaining = (this.byEvent.get(eventName) ?? []).filter((a) => a !== attachment);
      this.setList(eventName, remaining);
    }
    return true;
  }

  private setList(eventName: string, attachments: readonly Attachment[]): void {
    if (attachments.length === 0) {
      this.byEvent.delete(eventName);
      this.dispatchByEvent.delete(eventName);
    } else {
      this.byEvent.set(eventName, attachments);
      this.dispatchByEvent.set(eventName, compileDispatch(eventName, attachments, this.onFailure));
    }
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

/**
 * The dispatch of one event's handler list: a function generated for the list, which calls each handler
 * through a constant of its own. A loop over the list made one call site for the handlers of every event,
 * which V8 cannot inline; here each call site sees one handler (a reporter's generated handler, say) and
 * V8 can inline it. Where code generation is disabled (`--disallow-code-generation-from-strings`), a loop
 * over the list does the same, more slowly.
 */
export function compileDispatch(
  eventName: string,
  attachments: readonly Attachment[],
  onFailure: FailureListener,
): Dispatch {
  const calls = attachments
    .map(
      (_, i) => `
        try { handler${i}(eventName, measurements, metadata, config${i}); }
        catch (error) { onFailure(attachments[${i}], eventName, error); }`,
    )
    .join('');
  const body = `return function dispatch(eventName, measurements, metadata) { ${sourceTag(`dispatch ${eventName}`)} ${calls} };`;
  const names = attachments.flatMap((_, i) => [`handler${i}`, `config${i}`]);
  const values = attachments.flatMap((a) => [a.handler, a.config]);
  try {
    return new Function('attachments', 'onFailure', ...names, body)(
      attachments,
      onFailure,
      ...values,
    ) as Dispatch;
  } catch {
    return (eventName, measurements, metadata) => {
      for (const attachment of attachments) {
        try {
          attachment.handler(eventName, measurements, metadata, attachment.config);
        } catch (error) {
          onFailure(attachment, eventName, error);
        }
      }
    };
  }
}
