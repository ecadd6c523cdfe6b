import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** Credentials a scraper must present. Give `bearer`, `basic`, or both (either is then accepted). */
export interface AuthOptions {
  /**
   * Accepts `Authorization: Bearer <token>`. An array accepts any of its tokens, so a token can be
   * rotated without a failed scrape.
   */
  readonly bearer?: string | readonly string[];
  /** Accepts `Authorization: Basic base64(username:password)`. */
  readonly basic?: { readonly username: string; readonly password: string };
  /** The realm named in `WWW-Authenticate`. Default `'metrics'`. */
  readonly realm?: string;
}

/** A fixed-length digest, so comparing never leaks the secret's length or a matching prefix. */
function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

function nonEmptyString(value: unknown, option: string, hint = ''): string {
  if (typeof value !== 'string' || value === '') {
    const got = value === undefined ? 'undefined' : value === '' ? 'an empty string' : typeof value;
    throw new TypeError(`telemeter/server: option ${option} must be a non-empty string, got ${got}${hint}`);
  }
  return value;
}

/** Derives a browser-session value from a bearer token; the label versions the derivation. */
function sessionValue(token: string): string {
  return createHmac('sha256', token).update('telemeter browser session v1').digest('base64url');
}

/** Checks an `Authorization` header against configured credentials in constant time. */
export class CredentialCheck {
  private readonly bearerDigests: readonly Buffer[];
  private readonly basicDigests: { username: Buffer; password: Buffer } | undefined;
  private readonly sessionDigests: readonly Buffer[];
  /** `WWW-Authenticate` challenges for a 401, one per accepted scheme. */
  readonly challenges: readonly string[];

  /** @throws TypeError naming the option when a credential is missing, empty or malformed. */
  constructor(auth: unknown, option: string) {
    if (typeof auth !== 'object' || auth === null || Array.isArray(auth)) {
      throw new TypeError(
        `telemeter/server: option ${option} must be an object: { bearer: token } or { basic: { username, password } }`,
      );
    }
    const { bearer, basic, realm = 'metrics', ...unknown } = auth as AuthOptions & Record<string, unknown>;
    const extra = Object.keys(unknown);
    if (extra.length > 0) {
      throw new TypeError(
        `telemeter/server: unknown option ${option}.${extra[0]} (expected bearer, basic or realm)`,
      );
    }
    if (!('bearer' in auth) && !('basic' in auth)) {
      throw new TypeError(`telemeter/server: option ${option} must set bearer or basic`);
    }
    if (typeof realm !== 'string' || !/^[\x20-\x7e]+$/.test(realm) || /["\\]/.test(realm)) {
      throw new TypeError(
        `telemeter/server: option ${option}.realm must be printable ASCII without quotes or backslashes`,
      );
    }
    const challenges: string[] = [];
    const bearerDigests: Buffer[] = [];
    const tokens: string[] = [];
    if ('bearer' in auth) {
      const hint = ' (is the environment variable that holds the token set?)';
      if (Array.isArray(bearer)) {
        if (bearer.length === 0) {
          throw new TypeError(`telemeter/server: option ${option}.bearer must not be an empty array`);
        }
        bearer.forEach((token, i) => {
          tokens.push(nonEmptyString(token, `${option}.bearer[${i}]`, hint));
        });
      } else {
        tokens.push(nonEmptyString(bearer, `${option}.bearer`, hint));
      }
      for (const token of tokens) bearerDigests.push(digest(token));
      challenges.push(`Bearer realm="${realm}"`);
    }
    if ('basic' in auth) {
      if (typeof basic !== 'object' || basic === null) {
        throw new TypeError(
          `telemeter/server: option ${option}.basic must be an object { username, password }`,
        );
      }
      const username = nonEmptyString(basic.username, `${option}.basic.username`);
      const password = nonEmptyString(basic.password, `${option}.basic.password`);
      // RFC 7617: the first colon separates the user-id from the password.
      if (username.includes(':')) {
        throw new TypeError(`telemeter/server: option ${option}.basic.username must not contain ':'`);
      }
      this.basicDigests = { username: digest(username), password: digest(password) };
      challenges.push(`Basic realm="${realm}", charset="UTF-8"`);
    }
    this.bearerDigests = bearerDigests;
    this.challenges = challenges;
    this.sessionDigests = tokens.map((token) => digest(sessionValue(token)));
  }

  /** True when bearer tokens are accepted, so a browser can sign in with one (see {@link sessionFor}). */
  get acceptsBearer(): boolean {
    return this.bearerDigests.length > 0;
  }

  /** True when `token` is an accepted bearer token. The time taken does not depend on the secret. */
  verifyBearer(token: string): boolean {
    const given = digest(token);
    let ok = false;
    // Every token is compared, so the time does not reveal which one (if any) matched.
    for (const expected of this.bearerDigests) ok = timingSafeEqual(given, expected) || ok;
    return ok;
  }

  /**
   * The browser-session value that stands for an accepted bearer `token`, or undefined when the token is
   * not accepted. It is derived from the token (an HMAC keyed by it), so a session cookie never holds the
   * token itself, survives restarts, and stops working when the token is rotated out.
   */
  sessionFor(token: string): string | undefined {
    return this.verifyBearer(token) ? sessionValue(token) : undefined;
  }

  /** True when `value` is the session value of an accepted bearer token. Constant time, like {@link verify}. */
  verifySession(value: string | undefined): boolean {
    if (value === undefined || this.sessionDigests.length === 0) return false;
    const given = digest(value);
    let ok = false;
    for (const expected of this.sessionDigests) ok = timingSafeEqual(given, expected) || ok;
    return ok;
  }

  /** True when `authorization` carries accepted credentials. The time taken does not depend on the secret. */
  verify(authorization: string | undefined): boolean {
    if (authorization === undefined) return false;
    const match = /^\s*([A-Za-z]+)\s+(\S+)\s*$/.exec(authorization);
    if (match === null) return false;
    const scheme = match[1].toLowerCase();
    if (scheme === 'bearer' && this.bearerDigests.length > 0) return this.verifyBearer(match[2]);
    if (scheme === 'basic' && this.basicDigests !== undefined) {
      const decoded = Buffer.from(match[2], 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) return false;
      const userOk = timingSafeEqual(digest(decoded.slice(0, colon)), this.basicDigests.username);
      const passwordOk = timingSafeEqual(digest(decoded.slice(colon + 1)), this.basicDigests.password);
      return userOk && passwordOk;
    }
    return false;
  }
}
