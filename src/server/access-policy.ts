import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressAllowlist } from './address-allowlist.js';
import type { CredentialCheck } from './credentials.js';
import { sendStatus } from './plain-responses.js';

/** Who may use an endpoint: an address allowlist first (403), then credentials (401). */
export class AccessPolicy {
  constructor(
    private readonly allowlist: AddressAllowlist | undefined,
    private readonly credentials: CredentialCheck | undefined,
  ) {}

  /** 0 when the request may proceed, else the status to refuse it with. */
  check(req: IncomingMessage): 0 | 401 | 403 {
    if (this.allowlist !== undefined && !this.allowlist.allows(req.socket.remoteAddress)) return 403;
    if (this.credentials !== undefined && !this.credentials.verify(req.headers.authorization)) return 401;
    return 0;
  }

  /** Sends the refusal for `status`; a 401 names the accepted schemes, and nothing else. Returns body bytes. */
  refuse(req: IncomingMessage, res: ServerResponse, status: 401 | 403): number {
    const headers: Record<string, string | string[]> = {};
    if (status === 401 && this.credentials !== undefined) {
      headers['WWW-Authenticate'] = [...this.credentials.challenges];
    }
    return sendStatus(req, res, status, headers);
  }

  /** Checks and, when refused, answers: true when the request may proceed. */
  admit(req: IncomingMessage, res: ServerResponse): boolean {
    const status = this.check(req);
    if (status === 0) return true;
    this.refuse(req, res, status);
    return false;
  }
}
