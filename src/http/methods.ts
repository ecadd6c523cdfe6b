/** The value a non-standard request method is exported as, so clients cannot mint label values. */
export const OTHER_METHOD = '_OTHER';

// RFC 9110 methods plus PATCH (RFC 5789): OpenTelemetry's list of "known" HTTP methods.
const KNOWN_METHODS: ReadonlyMap<string, string> = new Map(
  ['CONNECT', 'DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT', 'TRACE'].map((m) => [m, m]),
);

/**
 * The method label of a request: one of the nine standard methods in upper case, or `_OTHER`.
 * Lower-case spellings of a standard method (which fetch and some clients send) map to it.
 */
export function normalizeMethod(method: unknown): string {
  if (typeof method !== 'string') return OTHER_METHOD;
  return KNOWN_METHODS.get(method) ?? KNOWN_METHODS.get(method.toUpperCase()) ?? OTHER_METHOD;
}
