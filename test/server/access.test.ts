import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AddressAllowlist } from '../../src/server/address-allowlist.js';
import { CredentialCheck } from '../../src/server/credentials.js';
import { thrown } from '../support/thrown.js';

const basic = (user: string, password: string, encoding: BufferEncoding = 'utf8') =>
  `Basic ${Buffer.from(`${user}:${password}`, encoding).toString('base64')}`;

/** A header value as Node's parser hands it over: each byte of the wire, UTF-8 here, as one character. */
const wire = (header: string) => Buffer.from(header, 'utf8').toString('latin1');

describe('AddressAllowlist', () => {
  // Built in the test, not once for the file, so that npm run mutate knows which test covers what.
  const list = () => new AddressAllowlist(['127.0.0.0/8', '::1/128', 'fdaa::/16', '10.1.2.3'], 'allow');

  it.each([
    ['127.0.0.1', true],
    ['127.255.0.9', true],
    ['128.0.0.1', false],
    ['::ffff:127.0.0.1', true],
    ['::ffff:7f00:1', true],
    ['::ffff:10.1.2.3', true],
    ['10.1.2.4', false],
    ['::1', true],
    ['::2', false],
    ['fdaa:0:1::5', true],
    ['fdab::1', false],
    ['fe80::1%eth0', false],
    ['0:0:0:0:0:0:0:1', true],
    ['::ffff:0:10.1.2.3', false],
    ['::10.1.2.3', false],
    ['not an address', false],
    ['', false],
    [undefined, false],
  ])('%s → %s', (address, expected) => {
    expect(list().allows(address)).toBe(expected);
  });

  it('matches IPv4 peers against an IPv4-mapped IPv6 block too', () => {
    const mapped = new AddressAllowlist(['::ffff:192.168.0.0/112'], 'allow');
    expect(mapped.allows('192.168.3.4')).toBe(true);
    expect(mapped.allows('::ffff:192.168.3.4')).toBe(true);
    expect(mapped.allows('192.169.0.1')).toBe(false);
  });

  it('/0 admits a whole family, /32 and /128 one host', () => {
    const v4 = new AddressAllowlist(['0.0.0.0/0'], 'allow');
    expect(v4.allows('203.0.113.9')).toBe(true);
    expect(v4.allows('::ffff:203.0.113.9')).toBe(true);
    expect(v4.allows('::1')).toBe(false);
    const v6 = new AddressAllowlist(['::/0'], 'allow');
    expect(v6.allows('2001:db8::1')).toBe(true);
    // IPv4 peers are IPv4-mapped IPv6 addresses, inside ::/0.
    expect(v6.allows('203.0.113.9')).toBe(true);
    const host = new AddressAllowlist(['10.0.0.1/32', 'fdaa::1/128'], 'allow');
    expect([host.allows('10.0.0.1'), host.allows('10.0.0.0'), host.allows('10.0.0.2')]).toEqual([
      true,
      false,
      false,
    ]);
    expect([host.allows('fdaa::1'), host.allows('fdaa::2'), host.allows('fdaa::')]).toEqual([
      true,
      false,
      false,
    ]);
    // Host bits beyond the prefix are ignored, as Go's ParseCIDR does: 10.0.0.1/31 is 10.0.0.0 and .1.
    const pair = new AddressAllowlist(['10.0.0.1/31'], 'allow');
    expect([pair.allows('10.0.0.0'), pair.allows('10.0.0.1'), pair.allows('10.0.0.2')]).toEqual([
      true,
      true,
      false,
    ]);
  });

  it('matches a link-local peer by its address, whatever its zone', () => {
    const list = new AddressAllowlist(['fe80::/10'], 'allow');
    expect(list.allows('fe80::1%eth0')).toBe(true);
    expect(list.allows('fe80::1%2')).toBe(true);
    expect(list.allows('fec0::1%eth0')).toBe(false);
  });

  it('rejects a zone in a rule, which it could not check, with a code', () => {
    const error = thrown(() => new AddressAllowlist(['fe80::1%eth0'], 'allow'));
    expect(error.code).toBe('ERR_TELEMETER_INVALID_OPTION');
    expect(error.message).toMatch(/option allow\[0\] must not name an IPv6 zone/);
    expect(() => new AddressAllowlist(['::1', 'fe80::%eth0/64'], 'allow')).toThrow(/allow\[1\].*zone/);
  });

  it.each([
    [[], /option allow must be a non-empty array/],
    ['10.0.0.0/8', /option allow must be a non-empty array/],
    [['10.0.0.0/33'], /option allow\[0\] must be an IPv4 or IPv6 address or CIDR.*"10.0.0.0\/33"/],
    [['::1/129'], /allow\[0\]/],
    [['127.0.0.1', '10.0.0/8'], /allow\[1\].*"10.0.0\/8"/],
    [['localhost'], /allow\[0\]/],
    [['10.0.0.0/-1'], /allow\[0\]/],
    [['10.0.0.0/'], /allow\[0\]/],
    [['10.0.0.0/+8'], /allow\[0\]/],
    [['10.0.0.0/8.0'], /allow\[0\]/],
    [['10.0.0.0/0x8'], /allow\[0\]/],
    [['10.0.0.0/8/8'], /allow\[0\]/],
    [['010.0.0.0/8'], /allow\[0\]/],
    [['::/1000'], /allow\[0\]/],
    [['/8'], /allow\[0\]/],
    [[''], /allow\[0\]/],
    [[42], /allow\[0\]/],
    [[null], /allow\[0\]/],
  ])('rejects %j with ERR_TELEMETER_INVALID_OPTION', (cidrs, message) => {
    const error = thrown(() => new AddressAllowlist(cidrs, 'allow'));
    expect(error).toBeInstanceOf(TypeError);
    expect(error.code).toBe('ERR_TELEMETER_INVALID_OPTION');
    expect(error.message).toMatch(message);
  });
});

describe('CredentialCheck', () => {
  it('accepts the bearer token, with any scheme case, and nothing else', () => {
    const check = new CredentialCheck({ bearer: 's3cret' }, 'auth');
    expect(check.verify('Bearer s3cret')).toBe(true);
    expect(check.verify('bearer s3cret')).toBe(true);
    expect(check.verify('Bearer s3cret2')).toBe(false);
    expect(check.verify('Bearer s3cre')).toBe(false);
    expect(check.verify('Bearer')).toBe(false);
    expect(check.verify('s3cret')).toBe(false);
    expect(check.verify(basic('s3cret', 's3cret'))).toBe(false);
    expect(check.verify(undefined)).toBe(false);
    expect(check.challenges).toEqual(['Bearer realm="metrics"']);
  });

  it('accepts blanks around the header and between scheme and token, and nothing else around them', () => {
    const check = new CredentialCheck({ bearer: 's3cret' }, 'auth');
    expect(check.verify('  Bearer \t s3cret\t ')).toBe(true);
    for (const header of [
      'Bearer s3cret junk',
      'Bearer s3cret,x',
      'Bearer s3cret s3cret',
      ';Bearer s3cret',
      'x Bearer s3cret',
      '"Bearer s3cret"',
      'Bearer\ns3cret',
      'Bearer s3cret\u0000',
      'Bearers3cret',
    ]) {
      expect(check.verify(header), JSON.stringify(header)).toBe(false);
    }
  });

  it('compares a bearer token as the bytes a client sent: UTF-8 (curl, Prometheus) or Latin-1 (Node, Python)', () => {
    // à is C3 A0 and Å is C3 85 in UTF-8: bytes that JavaScript's \s takes for blanks once Node decodes them.
    const token = 'pässwörd-à-Å-秘密';
    const check = new CredentialCheck({ bearer: token }, 'auth');
    expect(check.verify(wire(`Bearer ${token}`))).toBe(true);
    expect(check.verify(wire(`Bearer ${token}x`))).toBe(false);
    expect(check.verify(wire('Bearer pässwörd-à-Å-秘'))).toBe(false);
    const latin = new CredentialCheck({ bearer: 'pässwörd-à' }, 'auth');
    expect(latin.verify(wire('Bearer pässwörd-à'))).toBe(true);
    expect(latin.verify('Bearer pässwörd-à')).toBe(true);
    expect(latin.verify('Bearer passwörd-à')).toBe(false);
    // A header built by a framework (a wide character, so not from the parser) counts as UTF-8.
    expect(check.verify(`Bearer ${token}`)).toBe(true);
  });

  it('accepts basic credentials in UTF-8 or Latin-1, and strict base64 only', () => {
    const check = new CredentialCheck({ basic: { username: 'üser', password: 'pässwörd' } }, 'auth');
    expect(check.verify(basic('üser', 'pässwörd'))).toBe(true);
    expect(check.verify(basic('üser', 'pässwörd', 'latin1'))).toBe(true);
    expect(check.verify(basic('user', 'pässwörd'))).toBe(false);
    const encoded = Buffer.from('üser:pässwörd').toString('base64');
    expect(check.verify(`Basic ${encoded}!`)).toBe(false);
    expect(check.verify(`Basic ${encoded} junk`)).toBe(false);
    expect(check.verify(`junk Basic ${encoded}`)).toBe(false);
    expect(check.verify(`Basic ${encoded.replace(/=+$/, '')}`)).toBe(true);
  });

  it('takes user:pass only under the Basic scheme', () => {
    const encoded = Buffer.from('prom:pw').toString('base64');
    const basicOnly = new CredentialCheck({ basic: { username: 'prom', password: 'pw' } }, 'auth');
    expect(basicOnly.verify(`Basic ${encoded}`)).toBe(true);
    for (const scheme of ['Bearer', 'Token', 'Digest', 'Basicx', 'Negotiate']) {
      expect(basicOnly.verify(`${scheme} ${encoded}`), scheme).toBe(false);
    }
    const both = new CredentialCheck({ bearer: 'tok', basic: { username: 'prom', password: 'pw' } }, 'auth');
    expect(both.verify(`Bearer ${encoded}`)).toBe(false);
    expect(both.verify(`Token ${encoded}`)).toBe(false);
    expect(both.verify('Basic tok')).toBe(false);
    expect(both.verify(`Basic ${Buffer.from('tok').toString('base64')}`)).toBe(false);
  });

  it('accepts any of several bearer tokens (rotation)', () => {
    const check = new CredentialCheck({ bearer: ['old', 'new'] }, 'auth');
    expect(check.verify('Bearer old')).toBe(true);
    expect(check.verify('Bearer new')).toBe(true);
    expect(check.verify('Bearer other')).toBe(false);
  });

  it('accepts basic credentials only when both parts match', () => {
    const check = new CredentialCheck(
      { basic: { username: 'prom', password: 'p:ss wörd' }, realm: 'fly' },
      'auth',
    );
    expect(check.verify(basic('prom', 'p:ss wörd'))).toBe(true);
    expect(check.verify(basic('prom', 'p:ss word'))).toBe(false);
    expect(check.verify(basic('Prom', 'p:ss wörd'))).toBe(false);
    expect(check.verify(`Basic ${Buffer.from('prom').toString('base64')}`)).toBe(false);
    expect(check.verify('Bearer p:ss wörd')).toBe(false);
    expect(check.challenges).toEqual(['Basic realm="fly", charset="UTF-8"']);
  });

  it('accepts either scheme when both are configured', () => {
    const check = new CredentialCheck({ bearer: 't', basic: { username: 'u', password: 'p' } }, 'auth');
    expect(check.verify('Bearer t')).toBe(true);
    expect(check.verify(basic('u', 'p'))).toBe(true);
    expect(check.challenges).toHaveLength(2);
  });

  it.each([
    [
      { bearer: undefined },
      /option auth.bearer must be a non-empty string, got undefined \(is the environment variable/,
    ],
    [{ bearer: '' }, /option auth.bearer must be a non-empty string, got an empty string/],
    [{ bearer: [] }, /option auth.bearer must not be an empty array/],
    [{ bearer: ['a', ''] }, /option auth.bearer\[1\]/],
    [{ basic: { username: 'u' } }, /option auth.basic.password/],
    [{ basic: { username: 'a:b', password: 'p' } }, /auth.basic.username must not contain ':'/],
    [{ basic: 'u:p' }, /option auth.basic must be an object/],
    [{}, /option auth must set bearer or basic/],
    [{ bearer: 'x', realm: 'a"b' }, /auth.realm/],
    ['secret', /option auth must be an object/],
    [{ bearer: 'tok\n' }, /auth.bearer must not contain spaces or control characters.*trim it/],
    [{ bearer: ' tok' }, /auth.bearer must not contain spaces/],
    [{ bearer: 'tok ' }, /auth.bearer must not contain spaces/],
    [{ bearer: 'to k' }, /auth.bearer must not contain spaces/],
    [{ bearer: 'to\tk' }, /auth.bearer must not contain spaces/],
    [{ bearer: ['ok', 'to\rk'] }, /auth.bearer\[1\] must not contain/],
    [{ bearer: 'to\u0000k' }, /auth.bearer must not contain/],
    [{ bearer: 'to\u007fk' }, /auth.bearer must not contain/],
    [{ bearer: 'tok\ud800' }, /auth.bearer holds a lone UTF-16 surrogate/],
    [
      { basic: { username: 'u', password: 'pw\n' } },
      /auth.basic.password must not contain control characters/,
    ],
    [{ basic: { username: 'u\u0001', password: 'pw' } }, /auth.basic.username must not contain control/],
    [{ basic: { username: 'u', password: '\udc00' } }, /auth.basic.password holds a lone UTF-16 surrogate/],
    [{ basic: ['u', 'p'] }, /option auth.basic must be an object/],
  ])('rejects %j naming the option, with ERR_TELEMETER_INVALID_OPTION', (auth, message) => {
    const error = thrown(() => new CredentialCheck(auth, 'auth'));
    expect(error.code).toBe('ERR_TELEMETER_INVALID_OPTION');
    expect(error.message).toMatch(message);
  });

  it.each([
    [{ token: 'x' }, /option auth.token is unknown \(valid: bearer, basic, realm\)/],
    [{ bearr: 'x' }, /option auth.bearr is unknown \(did you mean auth.bearer\?/],
    [
      { basic: { username: 'u', pasword: 'p' } },
      /option auth.basic.pasword is unknown \(did you mean auth.basic.password\?/,
    ],
    [{ basic: { username: 'u', password: 'p', realm: 'r' } }, /option auth.basic.realm is unknown/],
  ])('rejects unknown keys in %j, naming the closest', (auth, message) => {
    const error = thrown(() => new CredentialCheck(auth, 'auth'));
    expect(error.code).toBe('ERR_TELEMETER_UNKNOWN_OPTION');
    expect(error.message).toMatch(message);
  });

  it('accepts every token a client can send: non-ASCII and punctuation beyond RFC 6750', () => {
    for (const token of [
      '秘密-token',
      'a!b#c$d%e&f*g(h)i',
      'eyJhbGciOi.J9.x_y-z',
      'a"b,c;d',
      'nbsp\u00a0inside',
    ]) {
      const check = new CredentialCheck({ bearer: token }, 'auth');
      expect(check.verify(wire(`Bearer ${token}`)), token).toBe(true);
    }
  });

  it('never puts a secret in an error message', () => {
    let message = '';
    try {
      new CredentialCheck({ basic: { username: 'top:secret', password: 'hunter2' } }, 'auth');
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/username/);
    expect(message).not.toMatch(/top|secret|hunter2/);
    for (const auth of [{ bearer: 'hunter2\n' }, { basic: { username: 'u', password: 'hunter2\n' } }]) {
      expect(thrown(() => new CredentialCheck(auth, 'auth')).message).not.toMatch(/hunter2/);
    }
  });
});

describe('AddressAllowlist entries', () => {
  it('accepts blanks around an address and its prefix length', () => {
    const list = new AddressAllowlist([' 10.1.0.0 / 16 ', '\t::1 '], 'allow');
    expect(list.allows('10.1.2.3')).toBe(true);
    expect(list.allows('10.2.0.1')).toBe(false);
    expect(list.allows('::1')).toBe(true);
  });

  it('refuses a peer address that is not an IP address, without throwing', () => {
    const list = new AddressAllowlist(['0.0.0.0/0', '::/0'], 'allow');
    expect(list.allows('localhost')).toBe(false);
    expect(list.allows('')).toBe(false);
    expect(list.allows(undefined)).toBe(false);
  });
});

const REALM = 'telemeter/server: option auth.realm must be printable ASCII without quotes or backslashes';

describe('CredentialCheck: what each error says', () => {
  it.each([
    [
      'secret',
      'telemeter/server: option auth must be an object: { bearer: token } or { basic: { username, password } }',
    ],
    [
      null,
      'telemeter/server: option auth must be an object: { bearer: token } or { basic: { username, password } }',
    ],
    [
      ['t'],
      'telemeter/server: option auth must be an object: { bearer: token } or { basic: { username, password } }',
    ],
    [{ basic: 'u:p' }, 'telemeter/server: option auth.basic must be an object { username, password }'],
    [{ basic: null }, 'telemeter/server: option auth.basic must be an object { username, password }'],
    [{ basic: ['u', 'p'] }, 'telemeter/server: option auth.basic must be an object { username, password }'],
    [
      { bearer: 42 },
      'telemeter/server: option auth.bearer must be a non-empty string, got number (is the environment variable that holds the token set?)',
    ],
    [
      { basic: { username: '', password: 'p' } },
      'telemeter/server: option auth.basic.username must be a non-empty string, got an empty string',
    ],
    [
      { basic: { username: 'u', password: 7 } },
      'telemeter/server: option auth.basic.password must be a non-empty string, got number',
    ],
    [
      { bearar: 't' },
      'telemeter/server: option auth.bearar is unknown (did you mean auth.bearer? valid: bearer, basic, realm)',
    ],
    [
      { basic: { user: 'u', password: 'p' } },
      'telemeter/server: option auth.basic.user is unknown (did you mean auth.basic.username? valid: username, password)',
    ],
    [{ bearer: 't', realm: 42 }, REALM],
    [{ bearer: 't', realm: 'métriques' }, REALM],
    [{ bearer: 't', realm: '\tmetrics' }, REALM],
    [{ bearer: 't', realm: 'metrics\n' }, REALM],
    [{ bearer: 't', realm: '' }, REALM],
    [{ bearer: 't', realm: 'a\\b' }, REALM],
  ])('for %j: %s', (auth, message) => {
    const error = thrown(() => new CredentialCheck(auth, 'auth'));
    expect(error.message).toBe(message);
  });
});

describe('CredentialCheck: tokens beyond Latin-1 and sessions', () => {
  it('accepts a token with characters beyond U+00FF only in UTF-8, never from the low bytes of its characters', () => {
    const check = new CredentialCheck({ bearer: '日本' }, 'auth');
    expect(check.verify(wire('Bearer 日本'))).toBe(true);
    // 日 is U+65E5 and 本 U+672C: their low bytes, E5 2C, are "å," in Latin-1.
    expect(check.verify('Bearer å,')).toBe(false);
    expect(check.verifyBearer(Buffer.from([0xe5, 0x2c]))).toBe(false);
  });

  it('accepts ÿ (U+00FF), the last Latin-1 character, as a Latin-1 client sends it', () => {
    const check = new CredentialCheck({ bearer: 'ÿes' }, 'auth');
    expect(check.verifyBearer(Buffer.from('ÿes', 'latin1'))).toBe(true);
    expect(check.verifyBearer(Buffer.from('ÿes', 'utf8'))).toBe(true);
  });

  it('derives a browser session from the first listed token that the bytes match, the same across restarts', () => {
    // The Latin-1 bytes of "Ã©" are the UTF-8 bytes of "é": a client sending C3 A9 matches both tokens.
    const check = new CredentialCheck({ bearer: ['Ã©', 'é'] }, 'auth');
    const bytes = Buffer.from([0xc3, 0xa9]);
    const expected = createHmac('sha256', 'Ã©').update('telemeter browser session v1').digest('base64url');
    expect(check.sessionFor(bytes)).toBe(expected);
    expect(new CredentialCheck({ bearer: ['Ã©', 'é'] }, 'auth').sessionFor(bytes)).toBe(expected);
    expect(check.verifySession(expected)).toBe(true);
    expect(check.sessionFor(Buffer.from('other'))).toBeUndefined();
    expect(new CredentialCheck({ bearer: ['x', 'é'] }, 'auth').sessionFor(bytes)).toBe(
      createHmac('sha256', 'é').update('telemeter browser session v1').digest('base64url'),
    );
  });

  it('refuses basic credentials with junk before the base64, which Node.js would skip while decoding', () => {
    const check = new CredentialCheck({ basic: { username: 'u', password: 'p' } }, 'auth');
    const encoded = Buffer.from('u:p').toString('base64');
    expect(check.verify(`Basic ${encoded}`)).toBe(true);
    for (const junk of ['!', '.', '#!', '-_'])
      expect(check.verify(`Basic ${junk}${encoded}`), junk).toBe(false);
  });

  it('accepts no session without bearer tokens, and no missing one', () => {
    const check = new CredentialCheck({ basic: { username: 'u', password: 'p' } }, 'auth');
    expect(check.acceptsBearer).toBe(false);
    expect(check.verifySession('anything')).toBe(false);
    expect(new CredentialCheck({ bearer: 't' }, 'auth').verifySession(undefined)).toBe(false);
  });
});
