import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { parseMessage } from './smtp-listener.js';

export interface Tokens {
  access_token: string;
  refresh_token: string;
  token_type: string;
  expires_in: number;
}

/** `app.inject` with JSON, a bearer token and an X-TENANT header when given. */
export async function call(
  app: FastifyInstance,
  method: InjectOptions['method'],
  url: string,
  options: {
    body?: unknown;
    token?: string;
    tenant?: string | number;
    headers?: Record<string, string>;
  } = {},
) {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.tenant !== undefined) headers['x-tenant'] = String(options.tenant);
  return app.inject({
    method,
    url,
    headers,
    ...(options.body === undefined ? {} : { payload: options.body as InjectOptions['payload'] }),
  });
}

/**
 * The token of the newest email to `to` whose link contains `path`, read from the file outbox
 * (DATA_DIR/mail/*.eml) after flushing the mailer: exactly what a developer would click.
 */
export async function tokenFromOutbox(app: FastifyInstance, to: string, path: string): Promise<string> {
  await app.services.mailer.flush();
  const dir = join(app.config.dataDir, 'mail');
  const files = (await readdir(dir))
    .filter((file) => file.endsWith('.eml'))
    .sort()
    .reverse();
  for (const file of files) {
    const message = parseMessage(await readFile(join(dir, file), 'utf8'));
    if (!message.headers.to?.includes(to)) continue;
    // The token may follow other query parameters (`/invitations/accept?tenant=acme&token=…`).
    const match = new RegExp(`${path.replace(/[/]/g, '\\/')}\\?(?:[^\\s&]*&)*token=([A-Za-z0-9_-]+)`).exec(
      message.text ?? '',
    );
    if (match?.[1]) return match[1];
  }
  throw new Error(`no email to ${to} with a ${path} link in ${dir}`);
}

/** Registers, verifies (through the emailed link) and logs in a core user. */
export async function verifiedCoreUser(
  app: FastifyInstance,
  email: string,
  options: { password?: string; isOwner?: boolean } = {},
): Promise<{ id: number; tokens: Tokens; password: string }> {
  const password = options.password ?? 'correct horse battery';
  const registered = await call(app, 'POST', '/api/auth/register', {
    body: { email, password, is_owner: options.isOwner ?? false },
  });
  if (registered.statusCode !== 201)
    throw new Error(`register ${email}: ${registered.statusCode} ${registered.body}`);
  const token = await tokenFromOutbox(app, email, '/api/auth/verify');
  const verified = await call(app, 'GET', `/api/auth/verify?token=${token}`);
  if (verified.statusCode !== 200)
    throw new Error(`verify ${email}: ${verified.statusCode} ${verified.body}`);
  const login = await call(app, 'POST', '/api/auth/login', { body: { email, password } });
  if (login.statusCode !== 200) throw new Error(`login ${email}: ${login.statusCode} ${login.body}`);
  return { id: registered.json<{ user: { id: number } }>().user.id, tokens: login.json<Tokens>(), password };
}

/** A verified owner with one active organization, and the owner's tenant token for it. */
export async function ownerWithOrganization(
  app: FastifyInstance,
  email: string,
  name: string,
  slug?: string,
) {
  const owner = await verifiedCoreUser(app, email, { isOwner: true });
  const created = await call(app, 'POST', '/api/organizations', {
    token: owner.tokens.access_token,
    body: slug ? { name, slug } : { name },
  });
  if (created.statusCode !== 201) throw new Error(`create org: ${created.statusCode} ${created.body}`);
  const org = created.json<{ id: number; slug: string; tenant_db_name: string }>();
  const exchanged = await call(app, 'POST', `/api/organizations/${org.id}/token`, {
    token: owner.tokens.access_token,
  });
  if (exchanged.statusCode !== 200) throw new Error(`owner token: ${exchanged.statusCode} ${exchanged.body}`);
  return { owner, org, tenantTokens: exchanged.json<Tokens>() };
}
