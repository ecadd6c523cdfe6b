import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { invalidOption } from '../errors.js';

/**
 * The client addresses a metrics endpoint answers, as CIDR blocks. IPv4 blocks also match IPv4-mapped
 * IPv6 clients (`::ffff:10.0.0.1`), which is how a server bound to `::` sees IPv4 peers.
 */
export class AddressAllowlist {
  private readonly blocks = new BlockList();

  /**
   * @throws TelemeterTypeError `ERR_TELEMETER_INVALID_OPTION` naming `option` and the first entry that is not an
   *   IPv4/IPv6 address or CIDR block, or that carries a zone.
   */
  constructor(cidrs: unknown, option: string) {
    if (!Array.isArray(cidrs) || cidrs.length === 0) {
      invalidOption(
        `telemeter/server: option ${option} must be a non-empty array of CIDR strings such as '10.0.0.0/8' or '::1/128'`,
      );
    }
    cidrs.forEach((entry, i) => {
      this.add(entry, `${option}[${i}]`);
    });
  }

  /** True when `address` (as in `socket.remoteAddress`) falls inside a listed block. */
  allows(address: string | undefined): boolean {
    if (address === undefined) return false;
    // A link-local peer comes with its zone (fe80::1%eth0). The rules carry none (a zoned rule is refused at
    // start-up), so the address alone is checked.
    const bare = address.includes('%') ? address.slice(0, address.indexOf('%')) : address;
    if (isIPv4(bare)) return this.blocks.check(bare, 'ipv4');
    if (isIPv6(bare)) return this.blocks.check(bare, 'ipv6');
    return false;
  }

  private add(entry: unknown, option: string): void {
    const invalid = (): never =>
      invalidOption(
        `telemeter/server: option ${option} must be an IPv4 or IPv6 address or CIDR (e.g. '127.0.0.0/8', 'fdaa::/16'), got ${JSON.stringify(entry)}`,
      );
    if (typeof entry !== 'string') invalid();
    const text = entry as string;
    const slash = text.indexOf('/');
    const address = (slash < 0 ? text : text.slice(0, slash)).trim();
    if (address.includes('%')) {
      // BlockList drops the zone, so the rule would admit the address on every interface: refuse rather
      // than widen it silently.
      invalidOption(
        `telemeter/server: option ${option} must not name an IPv6 zone (${JSON.stringify(entry)}): the zone cannot be checked; give the address or block without it`,
      );
    }
    const family = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : invalid();
    const maxPrefix = family === 'ipv4' ? 32 : 128;
    const prefixText = slash < 0 ? String(maxPrefix) : text.slice(slash + 1).trim();
    if (!/^\d{1,3}$/.test(prefixText)) invalid();
    const prefix = Number(prefixText);
    if (prefix > maxPrefix) invalid();
    this.blocks.addSubnet(address, prefix, family);
  }
}
