import { generate, sourceTag } from '../compile.js';
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
  /** Set once the handler has failed and been removed; the bus reports the failure from it. */
  failure: HandlerFailure | undefined;
}

/** A handler's failure, kept until it has been logged and emitted. */
export interface HandlerFailure {
  readonly eventName: string;
  readonly error: unknown;
  logged: boolean;
  emitted: boolean;
  /** Reported later, once the stack has unwound (see the bus). */
  deferred: boolean;
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
    const lists = attachment.eventNames.map((eventName) => {
      const attachments = [...(this.byEvent.get(eventName) ?? []), attachment];
      return { eventName, attachments, dispatch: compileDispatch(eventName, attachments, this.onFailure) };
    });
    for (const { eventName, attachments, dispatch } of lists) this.setList(eventName, attachments, dispatch);
    this.byId.set(attachment.id, attachment);
  }

  /**
   * Removes `attachment` from every event; returns false when it is no longer attached (or its id now belongs to
   * another attachment).
   *
   * Every new list and its dispatch are built before anything changes. A handler that recursed into a stack
   * overflow is removed from deep in that stack, where building a dispatch can itself overflow: the table is then
   * left as it was, still consistent, and the caller's caller retries from a shallower frame. The id is released
   * last, so a removal cut short in between leaves it attached and removable.
   */
  remove(attachment: Attachment): boolean {
    if (this.byId.get(attachment.id) !== attachment) return false;
    const lists = attachment.eventNames.map((eventName) => {
      const remaining = (this.byEvent.get(eventName) ?? []).filter((a) => a !== attachment);
      const dispatch =
        remaining.length === 0 ? undefined : compileDispatch(eventName, remaining, this.onFailure);
      return { eventName, remaining, dispatch };
    });
    for (const { eventName, remaining, dispatch } of lists) this.setList(eventName, remaining, dispatch);
    this.byId.delete(attachment.id);
    return true;
  }

  /** The attachment with `id`, if any. */
  get(id: string): Attachment | undefined {
    return this.byId.get(id);
  }

  /** Installs `attachments` for `eventName` with their `dispatch`; undefined (for no attachments) removes the event. */
  private setList(
    eventName: string,
    attachments: readonly Attachment[],
    dispatch: Dispatch | undefined,
  ): void {
    if (dispatch === undefined) {
      this.byEvent.delete(eventName);
      this.dispatchByEvent.delete(eventName);
    } else {
      this.byEvent.set(eventName, attachments);
      this.dispatchByEvent.set(eventName, dispatch);
    }
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
  return (
    generate<Dispatch>(['attachments', 'onFailure', ...names], body, [attachments, onFailure, ...values]) ??
    ((eventName, measurements, metadata) => {
      for (const attachment of attachments) {
        try {
          attachment.handler(eventName, measurements, metadata, attachment.config);
        } catch (error) {
          onFailure(attachment, eventName, error);
        }
      }
    })
  );
}
