import { invalidArgument } from '../errors.js';

/**
 * Checks a dotted event name (`http.request.stop`): non-empty segments only, so that
 * `listHandlers('http')` can match by whole segments.
 */
export function validateEventName(eventName: unknown, where: string): string {
  if (typeof eventName !== 'string' || eventName === '') {
    invalidArgument(
      `telemeter: ${where}: an event name must be a non-empty dotted string, got ${describe(eventName)}`,
    );
  }
  if (eventName.startsWith('.') || eventName.endsWith('.') || eventName.includes('..')) {
    invalidArgument(
      `telemeter: ${where}: event name "${eventName}" contains leading, trailing or consecutive dots`,
    );
  }
  return eventName;
}

export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  return value === null ? 'null' : typeof value === 'object' ? 'an object' : String(value);
}
