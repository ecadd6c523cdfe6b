import { execute } from '../events/bus.js';
import type { Metadata } from '../events/types.js';
import { RUNTIME_EVENTS } from './event-names.js';
import type { Measurement } from './measurement.js';

/**
 * What keeps a libuv resource alive: a `handle` (server, socket, pipe, TTY, child process, watcher), a `request`
 * (one in-flight operation: fs call, DNS lookup, write, connect), a `timer` or an `immediate`.
 */
export type ResourceKind = 'handle' | 'request' | 'timer' | 'immediate';

/** Counts of `process.getActiveResourcesInfo()`, classified. */
export interface ResourceSnapshot {
  readonly total: number;
  readonly handles: number;
  readonly requests: number;
  readonly timers: number;
  readonly immediates: number;
  /** Sockets, servers, pipes, TTYs, UDP sockets and child processes: what the BEAM calls ports. */
  readonly io: number;
  readonly byType: ReadonlyMap<string, number>;
}

// Request wraps are named *Req* (FSReqCallback, GetAddrInfoReqWrap, CloseReq) except a few stream operations.
const REQUEST_TYPE = /Req|^(Write|Shutdown|Connect|Query|Send)Wrap$/;
const IO_HANDLE_TYPE = /^(TCP|Pipe|TTY|UDP|Process)/;
const kinds = new Map<string, ResourceKind>();

/** The kind of a resource type name from `process.getActiveResourcesInfo()`. */
export function resourceKind(type: string): ResourceKind {
  let kind = kinds.get(type);
  if (kind === undefined) {
    kind =
      type === 'Timeout'
        ? 'timer'
        : type === 'Immediate'
          ? 'immediate'
          : REQUEST_TYPE.test(type)
            ? 'request'
            : 'handle';
    kinds.set(type, kind);
  }
  return kind;
}

/** Classifies the resources that keep the event loop alive right now. */
export function resourceSnapshot(): ResourceSnapshot {
  const types = process.getActiveResourcesInfo();
  const byType = new Map<string, number>();
  let handles = 0;
  let requests = 0;
  let timers = 0;
  let immediates = 0;
  let io = 0;
  for (const type of types) {
    byType.set(type, (byType.get(type) ?? 0) + 1);
    switch (resourceKind(type)) {
      case 'handle':
        handles++;
        if (IO_HANDLE_TYPE.test(type)) io++;
        break;
      case 'request':
        requests++;
        break;
      case 'timer':
        timers++;
        break;
      default:
        immediates++;
    }
  }
  return { total: types.length, handles, requests, timers, immediates, io, byType };
}

/**
 * The `active_resources` built-in: one `nodejs.active_resources.type` event per resource type, then one
 * `nodejs.active_resources` event with the totals. A type that was seen before and is gone now is reported
 * with count 0, because a last-value series otherwise keeps showing the old count forever.
 */
export function activeResourcesMeasurement(): Measurement {
  const seen = new Map<string, Metadata>();
  return {
    name: 'active_resources',
    measure() {
      const snapshot = resourceSnapshot();
      for (const [type, count] of snapshot.byType) {
        let metadata = seen.get(type);
        if (metadata === undefined) {
          metadata = Object.freeze({ type, kind: resourceKind(type) });
          seen.set(type, metadata);
        }
        execute(RUNTIME_EVENTS.activeResourcesByType, { count }, metadata);
      }
      for (const [type, metadata] of seen) {
        if (!snapshot.byType.has(type)) execute(RUNTIME_EVENTS.activeResourcesByType, { count: 0 }, metadata);
      }
      execute(RUNTIME_EVENTS.activeResources, {
        total: snapshot.total,
        handles: snapshot.handles,
        requests: snapshot.requests,
        timers: snapshot.timers,
        immediates: snapshot.immediates,
      });
    },
  };
}
