import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressAllowlist } from './address-allowlist.js';
import {
  canScopeCookie,
  readCookie,
  SESSION_COOKIE,
  sendSignedIn,
  tokenParameter,
} from './browser-session.js';
import type { CredentialCheck } from './credentials.js';
import { sendStatus } from './plain-responses.js';

/** A mounted route, for which a browser session (see `browser-session.ts`) also counts as credentials. */
export interface MountedTarget {
  /** The mounted path, which scopes the session cookie. */
  readonly path: string;
  /** Whether the server speaks TLS, so the cookie gets `Secure`. */
  readonly secure: boolean;
}

/** Who may use an endpoint: an address allowlist first (403), then credentials (401). */
export class AccessPolicy {
  constructor(
    private readonly allowlist: AddressAllowlist | undefined,
    private readonly credentials: CredentialCheck | undefined,
  ) {}

  /**
   * 0 when the request may proceed, else the status to refuse it with. On a mounted route the session
   * cookie of a bearer token is accepted as well as the `Authorization` header.
   */
  check(req: IncomingMessage, mounted?: MountedTarget): 0 | 401 | 403 {
    if (this.allowlist !== undefined && !this.allowlist.allows(req.socket.remoteAddress)) return 403;
    const credentials = this.credentials;
    if (credentials === undefined || credentials.verify(req.headers.authorization)) return 0;
    if (mounted !== undefined && credentials.verifySession(readCookie(req.headers.cookie, SESSION_COOKIE))) {
      return 0;
    }
    return 401;
  }

  /** Sends the refusal for `status`; a 401 names the accepted schemes, and nothing else. Returns body bytes. */
  refuse(req: IncomingMessage, res: ServerResponse, status: 401 | 403): number {
    const headers: Record<string, string | string[]> = {};
    if (status === 401 && this.credentials !== undefined) {
      headers['WWW-Authenticate'] = [...this.credentials.challenges];
    }
    return sendStatus(req, res, status, headers);
  }

  /**
   * Checks and, when refused, answers: true when the request may proceed. On a mounted route, a `GET` or
   * `HEAD` with `?token=` (a bearer token) from an allowed address is answered here: a valid token signs
   * the browser in, any other gets 401.
   */
  admit(req: IncomingMessage, res: ServerResponse, mounted?: MountedTarget): boolean {
    const status = this.check(req, mounted);
    if (status !== 403 && mounted !== undefined && this.signIn(req, res, mounted)) return false;
    if (status === 0) return true;
    this.refuse(req, res, status);
    return false;
  }

  /** Handles a `?token=` sign-in; false when the request carries none (or cannot sign in here). */
  private signIn(req: IncomingMessage, res: ServerResponse, mounted: MountedTarget): boolean {
    const credentials = this.credentials;
    if (credentials === undefined || !credentials.acceptsBearer || !canScopeCookie(mounted.path))
      return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const token = tokenParameter(req.url);
    if (token === undefined) return false;
    const session = credentials.sessionFor(token);
    if (session === undefined) this.refuse(req, res, 401);
    else sendSignedIn(req, res, mounted.path, session, mounted.secure);
    return true;
  }
}
