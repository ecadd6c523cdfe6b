/**
 * The path that names one group on a Pushgateway: `/metrics/job/<job>{/<label>/<value>}`.
 *
 * The gateway routes on the decoded path, so a value holding `/` would split into two segments, and an empty value
 * or a `.`/`..` segment is removed (or redirected) by path cleaning before the gateway sees it. Those values take the
 * gateway's base64 form, `<label>@base64/<base64url>`; its README asks for a single `=` for the empty value, since an
 * empty segment is not a segment at all. Every other value is percent-encoded and stays readable in logs.
 */

/** `/metrics/job/<job>` followed by each grouping label in the order given, every value in a form the gateway reads back exactly. */
export function groupingPath(job: string, grouping: ReadonlyArray<readonly [string, string]>): string {
  let path = `/metrics/${segment('job', job)}`;
  for (const [name, value] of grouping) path += `/${segment(name, value)}`;
  return path;
}

/** `<label>/<value>`, or `<label>@base64/<value in base64url>` for a value that plain encoding would not carry. */
function segment(name: string, value: string): string {
  if (needsBase64(value)) return `${name}@base64/${base64Url(value)}`;
  return `${name}/${encodeURIComponent(value)}`;
}

function needsBase64(value: string): boolean {
  return value === '' || value === '.' || value === '..' || value.includes('/');
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * The UTF-8 bytes of `value` in base64url (RFC 4648 §5) without padding, and `=` for the empty string. Written out
 * rather than through `Buffer`, which a Worker or a browser-like runtime may not have.
 */
export function base64Url(value: string): string {
  if (value === '') return '=';
  const bytes = new TextEncoder().encode(value);
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += ALPHABET[n >> 18] + ALPHABET[(n >> 12) & 63] + ALPHABET[(n >> 6) & 63] + ALPHABET[n & 63];
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i] << 16;
    out += ALPHABET[n >> 18] + ALPHABET[(n >> 12) & 63];
  } else if (rest === 2) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8);
    out += ALPHABET[n >> 18] + ALPHABET[(n >> 12) & 63] + ALPHABET[(n >> 6) & 63];
  }
  return out;
}
