import cluster from 'node:cluster';
import { isMainThread, MessageChannel, parentPort } from 'node:worker_threads';
import { TelemeterTypeError } from '../errors.js';
import {
  type HelloMessage,
  MESSAGE_KEY,
  messageType,
  PROTOCOL_VERSION,
  type WorkerMessage,
} from './protocol.js';

/** The worker's end of the channel to the primary. */
export interface WorkerLink {
  /** `'cluster'` (IPC to the cluster primary) or `'thread'` (a port to the parent thread). */
  readonly kind: 'cluster' | 'thread';
  /** Sends a message; resolves once it is handed to the channel (false when the channel is gone). */
  send(message: WorkerMessage): Promise<boolean>;
  /** Keeps the worker alive until `close()`, for an answer that is still on its way. */
  hold(): void;
  close(): void;
}

/**
 * Opens the channel to the primary from a cluster worker or a worker thread, and says hello.
 *
 * - cluster: `process.send` and `process.on('message')`, telemeter's messages told apart by their
 *   `telemeter` key (cluster IPC has one channel, shared with the application).
 * - worker thread: a `MessageChannel` of its own, whose port travels to the parent in the one hello
 *   message on `parentPort`; everything else goes over that port, so the application's own
 *   `parentPort` traffic (and protocols such as a pool's) never sees telemeter's messages.
 *
 * @throws TelemeterTypeError `ERR_TELEMETER_INVALID_STATE` when this is neither a cluster worker nor a worker thread.
 */
export function openWorkerLink(onMessage: (message: unknown) => void): WorkerLink {
  if (!isMainThread && parentPort !== null) return openThreadLink(parentPort, onMessage);
  if (cluster.isWorker && typeof process.send === 'function') return openClusterLink(onMessage);
  throw new TelemeterTypeError(
    'ERR_TELEMETER_INVALID_STATE',
    'telemeter/cluster: startClusterWorker must run in a node:cluster worker or a worker thread; in the primary, use startClusterPrimary',
  );
}

const hello: HelloMessage = { [MESSAGE_KEY]: 'hello', version: PROTOCOL_VERSION };

function openClusterLink(onMessage: (message: unknown) => void): WorkerLink {
  const listener = (message: unknown) => {
    if (messageType(message) !== undefined) onMessage(message);
  };
  process.on('message', listener);
  const send = (message: WorkerMessage) =>
    new Promise<boolean>((resolve) => {
      if (!process.connected || process.send === undefined) {
        resolve(false);
        return;
      }
      try {
        process.send(message, undefined, {}, (error) => resolve(error == null));
      } catch {
        resolve(false);
      }
    });
  void send(hello);
  return {
    kind: 'cluster',
    send,
    // The IPC channel keeps a cluster worker alive anyway.
    hold: () => {},
    close: () => {
      process.off('message', listener);
    },
  };
}

function openThreadLink(
  parent: NonNullable<typeof parentPort>,
  onMessage: (message: unknown) => void,
): WorkerLink {
  const { port1, port2 } = new MessageChannel();
  port1.on('message', (message: unknown) => {
    if (messageType(message) !== undefined) onMessage(message);
  });
  // The port must never be what keeps a finished worker alive.
  port1.unref();
  parent.postMessage({ ...hello, port: port2 }, [port2]);
  let open = true;
  return {
    kind: 'thread',
    send: async (message) => {
      if (!open) return false;
      try {
        port1.postMessage(message);
        return true;
      } catch {
        return false;
      }
    },
    hold: () => {
      if (open) port1.ref();
    },
    close: () => {
      if (!open) return;
      open = false;
      port1.close();
    },
  };
}
