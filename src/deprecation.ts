/**
 * Deprecation notices: once per deprecated name and process, as a Node.js `DeprecationWarning`, so that
 * `--no-deprecation`, `--throw-deprecation` and `--trace-deprecation` work on them as on Node's own.
 */
const warned = new Set<string>();

/**
 * Warns, once per `code`, that `oldName` is deprecated in favour of `newName`. Throws only under
 * `--throw-deprecation`, which asks for exactly that.
 */
export function warnDeprecated(code: string, oldName: string, newName: string, removedIn: string): void {
  if (warned.has(code)) return;
  warned.add(code);
  const message = `telemeter: ${oldName} is deprecated and will be removed in ${removedIn}; use ${newName}`;
  const host = (globalThis as { process?: { emitWarning?: unknown } }).process;
  if (typeof host?.emitWarning === 'function') {
    (host.emitWarning as (warning: string, options: object) => void).call(host, message, {
      type: 'DeprecationWarning',
      code,
    });
  }
}
