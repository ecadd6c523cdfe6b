/** The value a non-standard request method is exported as, so clients cannot mint label values. */
export const OTHER_METHOD = '_OTHER';

/**
 * The method label of a request: one of the nine standard methods (RFC 9110, and PATCH from RFC 5789:
 * OpenTelemetry's list of "known" methods) in upper case, or `_OTHER`. Lower-case spellings of a standard method
 * (which fetch and some clients send) map to it. A `switch` over the common spellings first: Node's parser hands
 * out the same string for each method, and comparing it costs less than hashing it into a Map.
 */
export function normalizeMethod(method: unknown): string {
  switch (method) {
    case 'GET':
      return 'GET';
    case 'POST':
      return 'POST';
    case 'PUT':
      return 'PUT';
    case 'DELETE':
      return 'DELETE';
    case 'PATCH':
      return 'PATCH';
    case 'HEAD':
      return 'HEAD';
    case 'OPTIONS':
      return 'OPTIONS';
    case 'CONNECT':
      return 'CONNECT';
    case 'TRACE':
      return 'TRACE';
  }
  if (typeof method !== 'string' || method.length > 7) return OTHER_METHOD;
  const upper = method.toUpperCase();
  return upper !== method ? normalizeMethod(upper) : OTHER_METHOD;
}
