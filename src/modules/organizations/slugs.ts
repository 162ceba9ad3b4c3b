import { randomBytes } from 'node:crypto';
import { SLUG_PATTERN } from '../../tenancy/routing/tenant-header.js';

const MAX_BASE = 40;

/**
 * A slug derived from an organization name: lower-case ASCII letters, digits and dashes, starting with a
 * letter. Accents are folded ("Café Ünited" → "cafe-united"); a name with nothing usable gets "org".
 */
export function slugFromName(name: string): string {
  const ascii = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^[^a-z]+/, '')
    .slice(0, MAX_BASE)
    .replace(/-+$/, '');
  return SLUG_PATTERN.test(ascii) ? ascii : `org-${ascii}`.replace(/-+$/, '').padEnd(3, '0');
}

/** The base slug with a short random suffix, for when the base is taken. */
export function suffixedSlug(base: string): string {
  return `${base}-${randomBytes(3).toString('hex')}`;
}
