import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { invalidOption } from '../errors.js';
import { checkOptionKeys } from '../options.js';

/** Credentials a scraper must present. Give `bearer`, `basic`, or both (either is then accepted). */
export interface AuthOptions {
  /**
   * Accepts `Authorization: Bearer <token>`. An array accepts any of its tokens, so a token can be
   * rotated without a failed scrape. A token may hold any character but whitespace and control characters,
   * which no client can send in the header; non-ASCII characters match as clients send them, in UTF-8
   * (curl, Prometheus) or, for characters up to U+00FF, in Latin-1 (Node's and Python's HTTP clients).
   */
  readonly bearer?: string | readonly string[];
  /**
   * Accepts `Authorization: Basic base64(username:password)`, the user-id and password in UTF-8 (curl -u,
   * Prometheus, browsers) or Latin-1. Neither may hold a control character (RFC 7617); the username no `:`.
   */
  readonly basic?: { readonly username: string; readonly password: string };
  /** The realm named in `WWW-Authenticate`. Default `'metrics'`. */
  readonly realm?: string;
}

const AUTH_KEYS = ['bearer', 'basic', 'realm'];
const BASIC_KEYS = ['username', 'password'];

/**
 * `Authorization: <scheme> <credentials>` as Node hands it over: every byte of the header as one character
 * (Latin-1), with optional spaces or tabs around. Only ASCII blanks separate: a UTF-8 token holds bytes such as
 * 0xA0 (in `à`) that a JavaScript `\s` would take for a space.
 */
const AUTHORIZATION = /^[ \t]*([A-Za-z]+)[ \t]+([!-~\u0080-\uffff]+)[ \t]*$/;
/** base64 as RFC 7617 uses it; Node's decoder would skip any other character, so junk must not reach it. */
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** A fixed-length digest, so comparing never leaks the secret's length or a matching prefix. */
function digest(bytes: Uint8Array): Buffer {
  return createHash('sha256').update(bytes).digest();
}

/**
 * The digests of the bytes a client may send for `secret`: its UTF-8 encoding, and its Latin-1 encoding, which
 * Node's and Python's clients send for characters up to U+00FF. Always two, so the time a comparison takes does
 * not depend on which secrets have a Latin-1 form.
 */
function wireDigests(secret: string): [Buffer, Buffer] {
  const utf8 = digest(Buffer.from(secret, 'utf8'));
  return [utf8, isLatin1(secret) ? digest(Buffer.from(secret, 'latin1')) : utf8];
}

/** True when every character of `text` fits in one byte (U+0000 to U+00FF). */
function isLatin1(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0xff) return false;
  return true;
}

/** True when `text` holds a control character (C0 or DEL), or a space when `orSpace`. */
function hasControl(text: string, orSpace: boolean): boolean {
  const limit = orSpace ? 0x20 : 0x1f;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code <= limit || code === 0x7f) return true;
  }
  return false;
}

/**
 * The bytes of a header value as they came over the wire: Node decodes header bytes as Latin-1, one
 * character each. A value with a wider character did not come from a parser (a framework built it): UTF-8.
 */
export function headerBytes(value: string): Buffer {
  return Buffer.from(value, isLatin1(value) ? 'latin1' : 'utf8');
}

/**
 * The index of the group of `expected` that holds `given`, or -1. Every digest is compared, so the time does not
 * reveal which one matched, if any.
 */
function matchIndex(given: Buffer, expected: readonly (readonly Buffer[])[]): number {
  let found = -1;
  for (let i = 0; i < expected.length; i++) {
    let ok = false;
    for (const candidate of expected[i]) ok = timingSafeEqual(given, candidate) || ok;
    if (ok && found < 0) found = i;
  }
  return found;
}

function nonEmptyString(value: unknown, option: string, hint = ''): string {
  if (typeof value !== 'string' || value === '') {
    const got = value === undefined ? 'undefined' : value === '' ? 'an empty string' : typeof value;
    invalidOption(`telemeter/server: option ${option} must be a non-empty string, got ${got}${hint}`);
  }
  if (/\p{Cs}/u.test(value)) {
    invalidOption(
      `telemeter/server: option ${option} holds a lone UTF-16 surrogate, which no client can send; check how it was decoded`,
    );
  }
  return value;
}

/**
 * A bearer token travels in the header as it is, and HTTP has no way to carry whitespace or control characters
 * in it (RFC 6750 allows none): such a token could never sign in. Non-ASCII characters are sendable (curl and
 * Prometheus send UTF-8), and so is the punctuation RFC 6750's token68 leaves out, which real tokens use.
 */
function bearerToken(value: unknown, option: string): string {
  const token = nonEmptyString(value, option, ' (is the environment variable that holds the token set?)');
  if (hasControl(token, true)) {
    invalidOption(
      `telemeter/server: option ${option} must not contain spaces or control characters, which no client can send in an Authorization header (a token read from a file may end in a newline: trim it)`,
    );
  }
  return token;
}

/** RFC 7617: the user-id and the password must not contain control characters. */
function basicPart(value: unknown, option: string): string {
  const part = nonEmptyString(value, option);
  if (hasControl(part, false)) {
    invalidOption(
      `telemeter/server: option ${option} must not contain control characters (RFC 7617); one read from a file may end in a newline: trim it`,
    );
  }
  return part;
}

/** Derives a browser-session value from a bearer token; the label versions the derivation. */
function sessionValue(token: string): string {
  return createHmac('sha256', token).update('telemeter browser session v1').digest('base64url');
}

/** Checks an `Authorization` header against configured credentials in constant time. */
export class CredentialCheck {
  private readonly tokens: readonly string[];
  /** Per bearer token, the digests of the two byte forms a client may send (see {@link wireDigests}). */
  private readonly bearerDigests: readonly (readonly Buffer[])[];
  /** The digests of `username:password` as a client may send it, or undefined without basic auth. */
  private readonly basicDigests: readonly Buffer[] | undefined;
  private readonly sessionDigests: readonly Buffer[];
  /** `WWW-Authenticate` challenges for a 401, one per accepted scheme. */
  readonly challenges: readonly string[];

  /**
   * @throws TelemeterTypeError naming the option: `ERR_TELEMETER_UNKNOWN_OPTION` for an unknown key of `auth` or
   *   `auth.basic`, `ERR_TELEMETER_INVALID_OPTION` when a credential is missing, empty, or could never be sent.
   */
  constructor(auth: unknown, option: string) {
    if (typeof auth !== 'object' || auth === null || Array.isArray(auth)) {
      invalidOption(
        `telemeter/server: option ${option} must be an object: { bearer: token } or { basic: { username, password } }`,
      );
    }
    checkOptionKeys('telemeter/server', auth, AUTH_KEYS, `${option}.`);
    const { bearer, basic, realm = 'metrics' } = auth as AuthOptions;
    if (!('bearer' in auth) && !('basic' in auth)) {
      invalidOption(`telemeter/server: option ${option} must set bearer or basic`);
    }
    if (typeof realm !== 'string' || !/^[\x20-\x7e]+$/.test(realm) || /["\\]/.test(realm)) {
      invalidOption(
        `telemeter/server: option ${option}.realm must be printable ASCII without quotes or backslashes`,
      );
    }
    const challenges: string[] = [];
    const tokens: string[] = [];
    if ('bearer' in auth) {
      if (Array.isArray(bearer)) {
        if (bearer.length === 0) {
          invalidOption(`telemeter/server: option ${option}.bearer must not be an empty array`);
        }
        bearer.forEach((token, i) => {
          tokens.push(bearerToken(token, `${option}.bearer[${i}]`));
        });
      } else {
        tokens.push(bearerToken(bearer, `${option}.bearer`));
      }
      challenges.push(`Bearer realm="${realm}"`);
    }
    let basicDigests: Buffer[] | undefined;
    if ('basic' in auth) {
      if (typeof basic !== 'object' || basic === null || Array.isArray(basic)) {
        invalidOption(`telemeter/server: option ${option}.basic must be an object { username, password }`);
      }
      checkOptionKeys('telemeter/server', basic, BASIC_KEYS, `${option}.basic.`);
      const username = basicPart(basic.username, `${option}.basic.username`);
      const password = basicPart(basic.password, `${option}.basic.password`);
      // RFC 7617: the first colon separates the user-id from the password.
      if (username.includes(':')) {
        invalidOption(`telemeter/server: option ${option}.basic.username must not contain ':'`);
      }
      basicDigests = wireDigests(`${username}:${password}`);
      challenges.push(`Basic realm="${realm}", charset="UTF-8"`);
    }
    this.tokens = tokens;
    this.bearerDigests = tokens.map(wireDigests);
    this.basicDigests = basicDigests;
    this.challenges = challenges;
    this.sessionDigests = tokens.map((token) => digest(Buffer.from(sessionValue(token))));
  }

  /** True when bearer tokens are accepted, so a browser can sign in with one (see {@link sessionFor}). */
  get acceptsBearer(): boolean {
    return this.tokens.length > 0;
  }

  /** True when `token`, the bytes a client sent, is an accepted bearer token. Constant time. */
  verifyBearer(token: Uint8Array): boolean {
    return matchIndex(digest(token), this.bearerDigests) >= 0;
  }

  /**
   * The browser-session value that stands for an accepted bearer `token` (the bytes a client sent), or undefined
   * when the token is not accepted. It is derived from the token (an HMAC keyed by it), so a session cookie never
   * holds the token itself, survives restarts, and stops working when the token is rotated out.
   */
  sessionFor(token: Uint8Array): string | undefined {
    const index = matchIndex(digest(token), this.bearerDigests);
    return index < 0 ? undefined : sessionValue(this.tokens[index]);
  }

  /** True when `value` is the session value of an accepted bearer token. Constant time, like {@link verify}. */
  verifySession(value: string | undefined): boolean {
    if (value === undefined || this.sessionDigests.length === 0) return false;
    return matchIndex(digest(Buffer.from(value)), [this.sessionDigests]) >= 0;
  }

  /**
   * True when `authorization`, a header value as Node parsed it, carries accepted credentials: `Bearer` with an
   * accepted token, or `Basic` with the username and password. The time taken does not depend on the secrets.
   */
  verify(authorization: string | undefined): boolean {
    if (authorization === undefined) return false;
    const match = AUTHORIZATION.exec(authorization);
    if (match === null) return false;
    const scheme = match[1].toLowerCase();
    if (scheme === 'bearer') return this.acceptsBearer && this.verifyBearer(headerBytes(match[2]));
    if (scheme === 'basic') {
      if (this.basicDigests === undefined || !BASE64.test(match[2])) return false;
      return matchIndex(digest(Buffer.from(match[2], 'base64')), [this.basicDigests]) >= 0;
    }
    return false;
  }
}
