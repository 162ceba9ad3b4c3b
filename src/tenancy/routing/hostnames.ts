/** Host names as DNS spells them (RFC 1123 labels, ASCII only: internationalized names in their `xn--` form). */

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const MAX_HOSTNAME_LENGTH = 253;

/**
 * A host name in canonical form: lower case, without one trailing dot (`Acme.Example.COM.` → `acme.example.com`);
 * null when it is not a DNS host name (empty labels, underscores, non-ASCII, over 253 characters, an IPv6
 * literal). IPv4 addresses pass as names; `isDomainName` tells them apart.
 *
 * @example
 * canonicalHostname('Shop.Acme.io'); // 'shop.acme.io'
 * canonicalHostname('acme_io'); // null
 */
export function canonicalHostname(raw: string): string | null {
  const host = (raw.endsWith('.') ? raw.slice(0, -1) : raw).toLowerCase();
  if (host === '' || host.length > MAX_HOSTNAME_LENGTH) return null;
  return host.split('.').every((label) => LABEL.test(label)) ? host : null;
}

/**
 * True for a canonical host name that can be a domain of its own: at least two labels and a top-level label that
 * is not all digits (so never an IPv4 address, nor a bare name such as `localhost`).
 */
export function isDomainName(host: string): boolean {
  const labels = host.split('.');
  return labels.length >= 2 && !/^[0-9]+$/.test(labels[labels.length - 1] as string);
}

/** True when `host` is `domain` itself or a name under it (both canonical). */
export function isWithin(host: string, domain: string): boolean {
  return host === domain || host.endsWith(`.${domain}`);
}
