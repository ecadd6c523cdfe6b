import type { IncomingMessage, ServerResponse } from 'node:http';
import { headerBytes } from './credentials.js';
import { BASE_HEADERS } from './plain-responses.js';

/**
 * Browser sign-in for mounted pages. A browser cannot send `Authorization: Bearer` by itself, so a page
 * behind a bearer token is opened once as `/dashboard?token=...`: the server answers with a session cookie
 * (HttpOnly, SameSite=Strict, scoped to the mounted path, holding a value derived from the token, never the
 * token) and moves the browser on to the path without the token. Basic auth needs none of this: browsers
 * prompt for it on the 401.
 */
export const SESSION_COOKIE = 'telemeter_session';

/** The value of cookie `name` in a `Cookie` header, or undefined. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq < 0 || pair.slice(0, eq).trim() !== name) continue;
    return pair.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * The first `token` query parameter of a request URL, as bytes, or undefined. Only percent-escapes are decoded:
 * a `+` stays a `+` (URLSearchParams would read it as a space), so a base64 token pasted into the link as it is
 * signs in, and so does one escaped with `encodeURIComponent`.
 */
export function tokenParameter(url: string | undefined): Buffer | undefined {
  const start = url?.indexOf('?') ?? -1;
  if (url === undefined || start < 0) return undefined;
  for (const pair of url.slice(start + 1).split('&')) {
    const eq = pair.indexOf('=');
    if ((eq < 0 ? pair : pair.slice(0, eq)) !== 'token') continue;
    const value = eq < 0 ? '' : pair.slice(eq + 1);
    // Node hands the request target over one character per byte; %XX becomes that byte, the rest stays.
    const bytes = headerBytes(value).toString('latin1');
    return Buffer.from(
      bytes.replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16))),
      'latin1',
    );
  }
  return undefined;
}

/** Cookie attributes forbid `;`, `,`, spaces and control characters, so such a path cannot scope a cookie. */
export function canScopeCookie(path: string): boolean {
  return /^\/[\x21-\x2b\x2d-\x3a\x3c-\x7e]*$/.test(path);
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * Answers a valid `?token=` with the session cookie and a page that refreshes to `path`. A meta refresh
 * rather than a 303: the follow-up request is then initiated by this same-site page, so the SameSite=Strict
 * cookie is sent even when the link was opened from another site (a cross-site redirect chain would drop it).
 */
export function sendSignedIn(
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  session: string,
  secure: boolean,
): void {
  const target = escapeHtml(path);
  const page = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta http-equiv="refresh" content="0; url=${target}"><title>Signed in</title></head>
<body><p>Signed in. <a href="${target}">Continue to ${target}</a></p></body>
</html>
`;
  const cookie = `${SESSION_COOKIE}=${session}; Path=${path}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
  res.writeHead(200, {
    ...BASE_HEADERS,
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(page)),
    'Content-Security-Policy':
      "default-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'",
    'Referrer-Policy': 'no-referrer',
    'Set-Cookie': cookie,
  });
  res.end(req.method === 'HEAD' ? undefined : page);
}
