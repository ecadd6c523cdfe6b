import { describe, expect, it } from 'vitest';
import { AddressAllowlist } from '../../src/server/address-allowlist.js';
import { CredentialCheck } from '../../src/server/credentials.js';

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('AddressAllowlist', () => {
  const list = new AddressAllowlist(['127.0.0.0/8', '::1/128', 'fdaa::/16', '10.1.2.3'], 'allow');

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
    ['not an address', false],
    [undefined, false],
  ])('%s → %s', (address, expected) => {
    expect(list.allows(address)).toBe(expected);
  });

  it('matches IPv4 peers against an IPv4-mapped IPv6 block too', () => {
    const mapped = new AddressAllowlist(['::ffff:192.168.0.0/112'], 'allow');
    expect(mapped.allows('192.168.3.4')).toBe(true);
    expect(mapped.allows('::ffff:192.168.3.4')).toBe(true);
    expect(mapped.allows('192.169.0.1')).toBe(false);
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
    [[42], /allow\[0\]/],
  ])('rejects %j', (cidrs, message) => {
    expect(() => new AddressAllowlist(cidrs, 'allow')).toThrow(message);
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
    [{ token: 'x' }, /unknown option auth.token/],
    [{ bearer: 'x', realm: 'a"b' }, /auth.realm/],
    ['secret', /option auth must be an object/],
  ])('rejects %j naming the option', (auth, message) => {
    expect(() => new CredentialCheck(auth, 'auth')).toThrow(message);
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
  });
});
