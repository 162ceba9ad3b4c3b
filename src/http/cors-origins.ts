import { canonicalHostname } from '../tenancy/routing/hostnames.js';

/** `https://*.example.com` or `https://*.example.com:8443`: any origin one or more labels under that host. */
const WILDCARD = /^(https?):\/\/\*\.([^/:]+)(?::([0-9]{1,5}))?$/i;
const LABELS = '(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\.)+';

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The matcher of one wildcard entry of `CORS_ORIGINS`, or null when the entry is not a wildcard. The `*` stands
 * for one or more whole DNS labels: `https://*.example.com` allows `https://acme.example.com` and
 * `https://a.b.example.com`, never `https://example.com` (list it as well to allow it), `http://acme.example.com`,
 * `https://acme.example.com:8443` or `https://evil-example.com`. Throws for a malformed wildcard entry
 * (the configuration reports it at start).
 *
 * @example
 * wildcardOrigin('https://*.example.com')?.test('https://acme.example.com'); // true
 */
export function wildcardOrigin(entry: string): RegExp | null {
  if (!entry.includes('*') || entry === '*') return null;
  const match = WILDCARD.exec(entry);
  const host = match && canonicalHostname(match[2] as string);
  const port = match?.[3];
  if (!match || host === null || (port !== undefined && Number(port) > 65535)) {
    throw new Error(
      `"${entry}" is not a wildcard origin: write it as scheme://*.host or scheme://*.host:port (the * a whole first label)`,
    );
  }
  const scheme = (match[1] as string).toLowerCase();
  return new RegExp(`^${scheme}://${LABELS}${escapeRegExp(host)}${port ? `:${port}` : ''}$`, 'i');
}

/**
 * `CORS_ORIGINS` as @fastify/cors takes it: exact origins as strings (`*` for any), wildcard entries as the
 * RegExp of `wildcardOrigin`.
 */
export function corsOriginMatchers(origins: readonly string[]): (string | RegExp)[] {
  return origins.map((entry) => wildcardOrigin(entry) ?? entry);
}
