/**
 * Client-address allow-lists of TCP circuits (`CircuitSpec.tcp.allowFrom`): IPv4 and IPv6
 * addresses and CIDRs, matched with node's `net.BlockList`. IPv4-mapped IPv6 addresses
 * (`::ffff:10.1.2.3`, what a dual-stack listener reports for IPv4 clients) are treated as the
 * IPv4 address they carry, both in rules and in client addresses, so one rule covers both forms.
 */
import { BlockList, isIP } from 'node:net';

const MAPPED = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i;

/** `::ffff:a.b.c.d` → `a.b.c.d`; anything else unchanged. */
export function normalizeAddress(address: string): string {
  const m = MAPPED.exec(address);
  return m ? m[1]! : address;
}

/** `ip:port`, or `[ip]:port` for IPv6, with IPv4-mapped addresses unwrapped. */
export function formatClient(address: string | undefined, port: number | undefined): string {
  if (address === undefined) return 'unknown';
  const a = normalizeAddress(address);
  return a.includes(':') ? `[${a}]:${port}` : `${a}:${port}`;
}

export class AllowList {
  private constructor(private readonly list: BlockList) {}

  /**
   * Builds the list; throws an `Error` whose message names the first entry that is not an IP
   * address or CIDR (the caller turns it into its own error code).
   */
  static parse(entries: unknown): AllowList {
    if (!Array.isArray(entries)) throw new Error('allowFrom must be an array of IP addresses or CIDRs.');
    const list = new BlockList();
    for (const entry of entries) {
      if (typeof entry !== 'string')
        throw new Error(`allowFrom entry ${JSON.stringify(entry)} is not a string.`);
      const slash = entry.indexOf('/');
      const address = normalizeAddress(slash < 0 ? entry : entry.slice(0, slash));
      const family = isIP(address);
      if (family === 0)
        throw new Error(`allowFrom entry ${JSON.stringify(entry)} is not an IP address or CIDR.`);
      const type = family === 4 ? 'ipv4' : 'ipv6';
      if (slash < 0) {
        list.addAddress(address, type);
        continue;
      }
      const bits = entry.slice(slash + 1);
      let prefix = /^\d{1,3}$/.test(bits) ? Number(bits) : Number.NaN;
      // `::ffff:10.0.0.0/104` is the IPv4 prefix /8 written in its mapped form.
      if (family === 4 && address !== entry.slice(0, slash)) prefix -= 96;
      if (!(prefix >= 0 && prefix <= (family === 4 ? 32 : 128))) {
        throw new Error(`allowFrom entry ${JSON.stringify(entry)} has an invalid prefix length.`);
      }
      list.addSubnet(address, prefix, type);
    }
    return new AllowList(list);
  }

  /** True when `address` (as a socket reports it) matches an entry. */
  allows(address: string | undefined): boolean {
    if (address === undefined) return false;
    const a = normalizeAddress(address);
    const family = isIP(a);
    if (family === 0) return false;
    return this.list.check(a, family === 4 ? 'ipv4' : 'ipv6');
  }
}
